package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

func one(v []string) (string, error) {
	switch len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", fmt.Errorf("takes one value, got %d", len(v))
}

func str(field func(*Config) *string) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		s, err := one(v)
		if err != nil {
			return err
		}
		if s == "off" {
			s = ""
		}
		*field(c) = s
		return nil
	}
}

func oneOf(allowed []string, field func(*Config) *string) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		s, err := one(v)
		if err != nil {
			return err
		}
		for _, a := range allowed {
			if strings.EqualFold(s, a) {
				*field(c) = a
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", "))
	}
}

func integer(field func(*Config) *int) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		s, err := one(v)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("%q is not a positive whole number", s)
		}
		*field(c) = n
		return nil
	}
}

func boolean(field func(*Config) *bool) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		s, err := one(v)
		if err != nil {
			return err
		}
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		*field(c) = b
		return nil
	}
}

func duration(field func(*Config) *time.Duration) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		s, err := one(v)
		if err != nil {
			return err
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive duration such as 90s, 5m or 72h", s)
		}
		*field(c) = d
		return nil
	}
}

func size(field func(*Config) *int64) func(*Config, []string) error {
	return func(c *Config, v []string) error {
		s, err := one(v)
		if err != nil {
			return err
		}
		n, err := ParseSize(s)
		if err != nil {
			return err
		}
		*field(c) = n
		return nil
	}
}

// ParseSize reads a byte count: 1048576, 512KB, 25MiB, 1G (K/M/G are
// powers of 1000 with B, powers of 1024 with iB or alone).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			mult, t = u.mult, strings.TrimSpace(t[:len(t)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size such as 10485760, 512KiB or 25MiB", s)
	}
	return n * mult, nil
}

func setDomains(c *Config, v []string) error {
	c.Domains = nil
	seen := map[string]bool{}
	for _, d := range v {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if d == "" || strings.ContainsAny(d, "@ /\\") || strings.HasPrefix(d, ".") {
			return fmt.Errorf("%q is not a domain name", d)
		}
		if !seen[d] {
			seen[d] = true
			c.Domains = append(c.Domains, d)
		}
	}
	if len(c.Domains) == 0 {
		return fmt.Errorf("needs at least one domain")
	}
	return nil
}
