package config

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestHelpShowsTypes renders the flag usage as `deskmail serve --help` does
// and reads the type placeholder and default of a setting of each kind.
func TestHelpShowsTypes(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	Register(fs)
	help := fs.FlagUsages()
	cases := []struct {
		flag, typ, def string // def "" means no default is shown
	}{
		{"max-recipients", "int", "(default 100)"},
		{"max-message-bytes", "size", "(default 25MiB)"},
		{"max-header-bytes", "size", "(default 256KiB)"},
		{"read-timeout", "duration", "(default 5m0s)"},
		{"retention", "duration", "(default 72h0m0s)"},
		{"tls-self-signed", "", ""},
		{"relay-insecure", "", ""},
		{"outbound-allow-private", "", ""},
		{"smtp-addr", "string", `(default "127.0.0.1:2525")`},
		{"domain", "strings", "(default localhost)"},
		{"trusted-relay", "strings", ""},
		{"log-format", "text|json", "(default text)"},
		{"outbound", "capture|relay|mx", "(default capture)"},
	}
	for _, c := range cases {
		t.Run(c.flag, func(t *testing.T) {
			re := regexp.MustCompile(`(?m)^\s+--` + regexp.QuoteMeta(c.flag) + `( \S+)?\s{2,}(.*)$`)
			m := re.FindStringSubmatch(help)
			if m == nil {
				t.Fatalf("no line for --%s in:\n%s", c.flag, help)
			}
			if got := strings.TrimSpace(m[1]); got != c.typ {
				t.Errorf("--%s shows type %q, want %q (line %q)", c.flag, got, c.typ, m[0])
			}
			hasDefault := strings.Contains(m[2], "(default ")
			if c.def == "" && hasDefault && !strings.Contains(m[2], "(default: ") {
				t.Errorf("--%s shows a default: %q", c.flag, m[0])
			}
			if c.def != "" && !strings.HasSuffix(m[2], c.def) {
				t.Errorf("--%s line %q does not end with %q", c.flag, m[0], c.def)
			}
		})
	}
	// Booleans and numbers never appear as quoted strings.
	for _, bad := range []string{`(default "false")`, `(default "true")`, `(default "100")`, `(default "25MiB")`} {
		if strings.Contains(help, bad) {
			t.Errorf("help contains %s", bad)
		}
	}
}

// TestTableAgreesWithTypes keeps the options table honest: repeat is set
// exactly for list values and isBool exactly for booleans, and every
// default parses (Register panics otherwise).
func TestTableAgreesWithTypes(t *testing.T) {
	c := &Config{}
	for _, o := range options {
		v := o.set(c)
		_, isList := v.(pflag.SliceValue)
		if isList != o.repeat {
			t.Errorf("%s: repeat %v, but its value is a list: %v", o.name, o.repeat, isList)
		}
		_, isBool := v.(interface{ IsBoolFlag() bool })
		if isBool != o.isBool {
			t.Errorf("%s: isBool %v, but its value is a bool: %v", o.name, o.isBool, isBool)
		}
	}
}

func TestFormatSizeRoundTrips(t *testing.T) {
	for _, n := range []int64{1, 1000, 1024, 65536, 25 << 20, 3 << 30, 1<<20 + 1} {
		s := FormatSize(n)
		if back, err := ParseSize(s); err != nil || back != n {
			t.Errorf("FormatSize(%d) = %q, parses back to %d %v", n, s, back, err)
		}
	}
	if s := FormatSize(25 << 20); s != "25MiB" {
		t.Errorf("FormatSize(25MiB) = %q", s)
	}
}

func TestRefusedValueKeepsTheOldOne(t *testing.T) {
	c, err := load(t, nil, []string{"DESKMAIL_MAX_RECIPIENTS=-1"}, "")
	if err == nil || !strings.Contains(err.Error(), "DESKMAIL_MAX_RECIPIENTS") || !strings.Contains(err.Error(), "positive whole number") {
		t.Fatalf("err = %v, c = %v", err, c)
	}
}

// The loop caps take 0 to switch them off; a negative count is refused
// with the key named.
func TestLoopCapsZeroIsOff(t *testing.T) {
	c, err := load(t, []string{"--loop-conversation-cap", "0"}, []string{"DESKMAIL_LOOP_RECIPIENT_CAP=0"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.ConversationCap != 0 || c.RecipientCap != 0 {
		t.Errorf("caps %d, %d; want 0 (off)", c.ConversationCap, c.RecipientCap)
	}
	_, err = load(t, []string{"--loop-recipient-cap", "-1"}, nil, "")
	if err == nil || !strings.Contains(err.Error(), "loop-recipient-cap") {
		t.Errorf("a negative cap: %v", err)
	}
}
