package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// A setting's value is a pflag.Value bound to its Config field: the same
// Set parses the flag, the environment variable and the file key, so the
// three layers cannot disagree on what a value means, and Type() is what
// `--help` and shell completion show (int, bool, duration, size...).
// Ints, bools and durations are pflag's own values; the few kinds pflag
// lacks (byte sizes, a choice, "off", normalised lists) are below.

// builtin returns the pflag.Value that pflag itself makes for a Go
// variable, by registering it on a throwaway flag set.
func builtin(register func(fs *pflag.FlagSet)) pflag.Value {
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	register(fs)
	var v pflag.Value
	fs.VisitAll(func(f *pflag.Flag) { v = f.Value })
	return v
}

// checked is a pflag value with a plain-words error and a validity check;
// a refused value leaves the field as it was.
type checked struct {
	pflag.Value
	ok   func() bool // nil: any value that parses
	want string      // what a good value looks like, for the error
}

func (c checked) Set(s string) error {
	old := c.Value.String()
	if err := c.Value.Set(strings.TrimSpace(s)); err != nil || (c.ok != nil && !c.ok()) {
		_ = c.Value.Set(old)
		return fmt.Errorf("%q is not %s", s, c.want)
	}
	return nil
}

// checkedBool keeps pflag's IsBoolFlag, so `--tls-self-signed` alone means
// true and help shows no type placeholder.
type checkedBool struct{ checked }

func (checkedBool) IsBoolFlag() bool { return true }

func integer(field func(*Config) *int) func(*Config) pflag.Value {
	return func(c *Config) pflag.Value {
		p := field(c)
		v := builtin(func(fs *pflag.FlagSet) { fs.IntVar(p, "v", 0, "") })
		return checked{v, func() bool { return *p > 0 }, "a positive whole number"}
	}
}

// MinGCPercent is gc-percent's floor: the collector's work grows as the
// percent falls (a collection each time the heap grows this many percent
// over what is live), so below a quarter of Go's default 100 it runs four
// times as often as Go's default and sixteen times deskmail's 400, for a
// few MB saved; 0 would collect after every few allocations. The runtime
// takes a negative percent as "off", left to GOGC=off in the environment.
const MinGCPercent = 25

func gcPercent(c *Config) pflag.Value {
	v := builtin(func(fs *pflag.FlagSet) { fs.IntVar(&c.GCPercent, "v", 0, "") })
	return checked{v, func() bool { return c.GCPercent >= MinGCPercent }, fmt.Sprintf("a whole number of at least %d", MinGCPercent)}
}

// MinMemoryLimit is memory-limit's floor. The daemon's live heap is tens of
// MB (the write-ahead log's layers, the caches): a soft limit at or below
// it makes the collector run without pause (the runtime caps it at about
// half the CPU) and the heap grow past the limit anyway.
const MinMemoryLimit = 64 << 20

func memoryLimit(c *Config) pflag.Value {
	return checked{sizeValue{&c.MemoryLimit}, func() bool { return c.MemoryLimit >= MinMemoryLimit }, "a size of at least 64MiB, such as 512MiB or 2GiB"}
}

// MaxDNSCache bounds dns-cache: an answer takes a few hundred bytes, so a
// million is a few hundred MB, more than any one node's senders need.
const MaxDNSCache = 1_000_000

func dnsCacheSize(c *Config) pflag.Value {
	v := builtin(func(fs *pflag.FlagSet) { fs.IntVar(&c.DNSCache, "v", 0, "") })
	return checked{v, func() bool { return c.DNSCache > 0 && c.DNSCache <= MaxDNSCache }, "a whole number from 1 to 1000000"}
}

// limit is a whole number where 0 switches the limit off.
func limit(field func(*Config) *int) func(*Config) pflag.Value {
	return func(c *Config) pflag.Value {
		p := field(c)
		v := builtin(func(fs *pflag.FlagSet) { fs.IntVar(p, "v", 0, "") })
		return checked{v, func() bool { return *p >= 0 }, "a whole number (0: no limit)"}
	}
}

func boolean(field func(*Config) *bool) func(*Config) pflag.Value {
	return func(c *Config) pflag.Value {
		v := builtin(func(fs *pflag.FlagSet) { fs.BoolVar(field(c), "v", false, "") })
		return checkedBool{checked{v, nil, "true or false"}}
	}
}

func duration(field func(*Config) *time.Duration) func(*Config) pflag.Value {
	return func(c *Config) pflag.Value {
		p := field(c)
		v := builtin(func(fs *pflag.FlagSet) { fs.DurationVar(p, "v", 0, "") })
		return checked{v, func() bool { return *p > 0 }, "a positive duration such as 90s, 5m or 72h"}
	}
}

// durationOff is a duration where 0 switches the feature off.
func durationOff(field func(*Config) *time.Duration) func(*Config) pflag.Value {
	return func(c *Config) pflag.Value {
		p := field(c)
		v := builtin(func(fs *pflag.FlagSet) { fs.DurationVar(p, "v", 0, "") })
		return checked{v, func() bool { return *p >= 0 }, "a duration such as 500ms or 2s (0: off)"}
	}
}

// strValue is a string where "off" means empty (a listener turned off).
type strValue struct{ p *string }

func (s strValue) Set(v string) error {
	if v == "off" {
		v = ""
	}
	*s.p = v
	return nil
}
func (s strValue) String() string { return *s.p }
func (s strValue) Type() string   { return "string" }

func str(field func(*Config) *string) func(*Config) pflag.Value {
	return func(c *Config) pflag.Value { return strValue{field(c)} }
}

// choiceValue is one of a few words, matched without regard to case.
type choiceValue struct {
	p       *string
	allowed []string
}

func (s choiceValue) Set(v string) error {
	for _, a := range s.allowed {
		if strings.EqualFold(strings.TrimSpace(v), a) {
			*s.p = a
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", v, strings.Join(s.allowed, ", "))
}
func (s choiceValue) String() string { return *s.p }

// Type names the choices, so help reads `--log-format text|json`; a long
// list reads "word" (the flag's usage then lists them).
func (s choiceValue) Type() string {
	if t := strings.Join(s.allowed, "|"); len(t) <= 40 {
		return t
	}
	return "word"
}

// Choices lists the words, for shell completion.
func (s choiceValue) Choices() []string { return s.allowed }

func oneOf(allowed []string, field func(*Config) *string) func(*Config) pflag.Value {
	return func(c *Config) pflag.Value { return choiceValue{field(c), allowed} }
}

// sizeValue is a byte count written with a unit (ParseSize).
type sizeValue struct{ p *int64 }

func (s sizeValue) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s.p = n
	return nil
}
func (s sizeValue) String() string { return FormatSize(*s.p) }
func (s sizeValue) Type() string   { return "size" }

func size(field func(*Config) *int64) func(*Config) pflag.Value {
	return func(c *Config) pflag.Value { return sizeValue{field(c)} }
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

// FormatSize writes n in the largest binary unit that divides it, so that
// ParseSize(FormatSize(n)) == n: 25MiB, 256KiB, 1000.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// listValue is a repeatable setting. The command line appends (its first
// value replaces the default), a file list or an environment variable
// replaces; apply normalises and checks the whole list each time.
type listValue struct {
	c        *Config
	apply    func(*Config, []string) error
	raw      []string
	appended bool
}

func (l *listValue) Set(v string) error {
	if !l.appended {
		l.raw, l.appended = nil, true
	}
	l.raw = append(l.raw, splitList(v)...)
	return l.apply(l.c, l.raw)
}

// Replace is pflag.SliceValue's: the file and environment layers.
func (l *listValue) Replace(v []string) error {
	l.raw = v
	return l.apply(l.c, v)
}
func (l *listValue) GetSlice() []string { return l.raw }
func (l *listValue) Append(v string) error {
	l.raw = append(l.raw, v)
	return l.apply(l.c, l.raw)
}
func (l *listValue) String() string { return strings.Join(l.raw, ",") }
func (l *listValue) Type() string   { return "strings" }

func list(apply func(*Config, []string) error) func(*Config) pflag.Value {
	return func(c *Config) pflag.Value { return &listValue{c: c, apply: apply} }
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
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

// MaxCORSOrigins bounds cors-origins: each is compared on every browser
// request.
const MaxCORSOrigins = 50

// setOrigins reads cors-origins: each a browser origin as the Origin
// header carries it, scheme://host[:port] with no path, compared exactly
// (lower case) with a request's Origin. "*" is refused: a wildcard would
// let any site's page use a person token it got hold of.
func setOrigins(c *Config, v []string) error {
	c.CORSOrigins = nil
	seen := map[string]bool{}
	for _, o := range v {
		o = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o)), "/")
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil || o != u.Scheme+"://"+u.Host {
			return fmt.Errorf("%q is not an origin (scheme://host[:port], e.g. https://app.example.com)", o)
		}
		if !seen[o] {
			seen[o] = true
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	if len(c.CORSOrigins) > MaxCORSOrigins {
		return fmt.Errorf("at most %d origins", MaxCORSOrigins)
	}
	return nil
}
