package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, env []string, file string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	l := Register(fs)
	if file != "" {
		p := filepath.Join(t.TempDir(), "deskmail.toml")
		if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", p)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return l.Load(env)
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPAddr != "127.0.0.1:2525" || c.HTTPAddr != "127.0.0.1:8025" || c.Data != "./deskmail-data" ||
		c.LMTPAddr != "" || len(c.Domains) != 1 || c.Domains[0] != "localhost" ||
		c.MaxMessageBytes != 25<<20 || c.MaxRecipients != 100 || c.Retention != 72*time.Hour {
		t.Errorf("defaults = %+v", c)
	}
}

func TestDNSCacheSize(t *testing.T) {
	c, err := load(t, nil, nil, "")
	if err != nil || c.DNSCache != 10000 {
		t.Fatalf("default dns-cache = %d %v, want 10000", c.DNSCache, err)
	}
	c, err = load(t, nil, []string{"DESKMAIL_DNS_CACHE=500"}, "")
	if err != nil || c.DNSCache != 500 {
		t.Errorf("DESKMAIL_DNS_CACHE=500: %d %v", c.DNSCache, err)
	}
}

func TestLayersFlagsWin(t *testing.T) {
	file := "smtp-addr = \"127.0.0.1:25\"\nmax-message-bytes = \"1MiB\"\ndomain = [\"a.test\", \"b.test\"]\nretention = \"24h\"\nmax-recipients = 50\n"
	env := []string{"DESKMAIL_MAX_MESSAGE_BYTES=2MiB", "DESKMAIL_DOMAIN=c.test, d.test", "DESKMAIL_RETENTION=48h"}
	c, err := load(t, []string{"--retention", "96h", "--domain", "e.test", "--domain", "f.test"}, env, file)
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPAddr != "127.0.0.1:25" {
		t.Errorf("file value lost: smtp-addr = %q", c.SMTPAddr)
	}
	if c.MaxMessageBytes != 2<<20 {
		t.Errorf("env should beat file: max-message-bytes = %d", c.MaxMessageBytes)
	}
	if c.Retention != 96*time.Hour {
		t.Errorf("flag should beat env: retention = %v", c.Retention)
	}
	if strings.Join(c.Domains, ",") != "e.test,f.test" {
		t.Errorf("repeated flag: domains = %v", c.Domains)
	}
	if c.MaxRecipients != 50 {
		t.Errorf("TOML integer: max-recipients = %d", c.MaxRecipients)
	}
}

func TestBadValuesNameTheKey(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  []string
		file string
		want string
	}{
		{"flag", []string{"--max-message-bytes", "abc"}, nil, "", `"--max-message-bytes" flag`},
		{"env", nil, []string{"DESKMAIL_READ_TIMEOUT=soon"}, "", "DESKMAIL_READ_TIMEOUT"},
		{"file value", nil, nil, "session-timeout = \"-5m\"\n", `key "session-timeout"`},
		{"file unknown key", nil, nil, "smtp_adress = \"x\"\n", `unknown key "smtp_adress"`},
		{"file list for a single value", nil, nil, "data = [\"a\", \"b\"]\n", `key "data"`},
		{"file syntax", nil, nil, "smtp-addr = \n", "config file"},
		{"bad domain", []string{"--domain", "a@b"}, nil, "", `"--domain" flag`},
		{"bad log level", []string{"--log-level", "loud"}, nil, "", `"--log-level" flag`},
		{"zero recipients", []string{"--max-recipients", "0"}, nil, "", `"--max-recipients" flag`},
		{"no DNS cache", []string{"--dns-cache", "0"}, nil, "", `"--dns-cache" flag`},
		{"DNS cache too big", nil, nil, "dns-cache = 1000001\n", `key "dns-cache"`},
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil, "", "tls-key"},
		{"direct URL without a store", []string{"--store-direct", "postgres://db/x"}, nil, "", "store-direct"},
		{"direct URL not postgres", nil, nil, "store = \"postgres://pool/x\"\nstore-direct = \"db:5432\"\n", "store-direct"},
		{"bool", nil, []string{"DESKMAIL_TLS_SELF_SIGNED=perhaps"}, "", "DESKMAIL_TLS_SELF_SIGNED"},
		{"log too small", nil, nil, "store-log-size = \"64KiB\"\n", "store-log-size"},
		{"no collector target", nil, nil, "gc-percent = 0\n", `key "gc-percent"`},
		{"collector off", []string{"--gc-percent", "-1"}, nil, "", `"--gc-percent" flag`},
		{"collector target too low", nil, []string{"DESKMAIL_GC_PERCENT=24"}, "", "DESKMAIL_GC_PERCENT"},
		{"no memory limit", nil, nil, "memory-limit = \"0\"\n", `key "memory-limit"`},
		{"memory limit of a byte", nil, nil, "memory-limit = 1\n", `key "memory-limit"`},
		{"memory limit too low", []string{"--memory-limit", "63MiB"}, nil, "", `"--memory-limit" flag`},
		{"no checkpoint interval", []string{"--store-checkpoint-interval", "0s"}, nil, "", "store-checkpoint-interval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, c.args, c.env, c.file)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to name %q", err, c.want)
			}
		})
	}
}

func TestCollectorSettingsAtTheirFloors(t *testing.T) {
	c, err := load(t, nil, nil, "gc-percent = 25\nmemory-limit = \"64MiB\"\n")
	if err != nil || c.GCPercent != MinGCPercent || c.MemoryLimit != MinMemoryLimit {
		t.Fatalf("gc-percent 25, memory-limit 64MiB: %+v %v", c, err)
	}
	c, err = load(t, nil, nil, "")
	if err != nil || c.GCPercent != 400 || c.MemoryLimit != 512<<20 {
		t.Fatalf("defaults: gc-percent %d, memory-limit %d, %v", c.GCPercent, c.MemoryLimit, err)
	}
}

func TestBoolFlagWithoutValue(t *testing.T) {
	c, err := load(t, []string{"--tls-self-signed"}, nil, "")
	if err != nil || !c.TLSSelfSigned {
		t.Errorf("--tls-self-signed: %v %v", c, err)
	}
}

func TestOffDisablesAListener(t *testing.T) {
	c, err := load(t, []string{"--http-addr", "off"}, nil, "")
	if err != nil || c.HTTPAddr != "" {
		t.Errorf("http-addr off: %q %v", c.HTTPAddr, err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512KiB": 512 << 10, "25MiB": 25 << 20, "5KB": 5000,
		"1M": 1 << 20, "2GB": 2e9, " 10 MiB ": 10 << 20, "7B": 7} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "-1", "0", "1.5MB", "MiB", "99999999TB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestEveryOptionHasAnEnvName(t *testing.T) {
	for _, n := range Names() {
		if e := EnvName(n); !strings.HasPrefix(e, "DESKMAIL_") || strings.Contains(e, "-") {
			t.Errorf("%s -> %s", n, e)
		}
	}
}

func TestSmallMessageCapAlsoCapsTheHeader(t *testing.T) {
	c, err := load(t, []string{"--max-message-bytes", "10KB"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxHeaderBytes != 10000 {
		t.Errorf("max-header-bytes = %d, want 10000", c.MaxHeaderBytes)
	}
}

func TestThreadingDefaults(t *testing.T) {
	c, err := load(t, []string{"--domain", "a.test", "--domain", "b.test"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.ReplyDomain != "a.test" || strings.Join(c.SupportAddresses, ",") != "support@a.test,support@b.test" || c.SenderMismatch != "quarantine" {
		t.Errorf("reply-domain %q, support %v, sender-mismatch %q", c.ReplyDomain, c.SupportAddresses, c.SenderMismatch)
	}
	c, err = load(t, []string{"--domain", "a.test", "--support-address", "none", "--trusted-relay", "10.0.0.1", "--trusted-relay", "192.0.2.0/24"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SupportAddresses) != 0 || len(c.TrustedRelays) != 2 || c.TrustedRelays[0].String() != "10.0.0.1/32" {
		t.Errorf("support %v, relays %v", c.SupportAddresses, c.TrustedRelays)
	}
	// The reply domain is one of ours however written (the SMTP server's
	// rule); it is kept without the trailing dot, as reply addresses are
	// built from it.
	for _, rd := range []string{"A.test.", "xn--bcher-kva.test"} {
		c, err = load(t, []string{"--domain", "a.test", "--domain", "bücher.test", "--reply-domain", rd}, nil, "")
		if err != nil {
			t.Errorf("reply-domain %q: %v", rd, err)
		} else if want := strings.TrimSuffix(strings.ToLower(rd), "."); c.ReplyDomain != want {
			t.Errorf("reply-domain %q read as %q, want %q", rd, c.ReplyDomain, want)
		}
	}
	for _, bad := range [][]string{
		{"--domain", "a.test", "--reply-domain", "b.test"},
		{"--trusted-relay", "not-an-ip"},
		{"--sender-mismatch", "ignore"},
		{"--webhook-url", "ftp://x"},
		{"--support-address", "no-at-sign"},
	} {
		if _, err := load(t, bad, nil, ""); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
