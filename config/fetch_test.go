package config

import (
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/fetch"
)

func TestFetchTablesAndURLs(t *testing.T) {
	file := `domain = ["example.com"]
[[fetch]]
name = "m365"
url = "imaps://support@example.com@outlook.office365.com/INBOX"
to = "help@example.com"
after = "move:Done"
since = "2026-11-01"
poll = "30s"
max_per_minute = 120
oauth2_provider = "microsoft"
tenant = "example.com"
client_id_file = "/etc/deskmail/m365-id"
client_secret_file = "/etc/deskmail/m365-secret"
refresh_token_file = "/etc/deskmail/m365-refresh"

[[fetch]]
url = "imap://desk@mail.example.net/Support"
password_file = "/etc/deskmail/imap-pass"
after = "seen"
`
	c, err := load(t, []string{"--fetch", "imaps://u:pw@127.0.0.1:9993/INBOX"}, nil, file)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Fetch) != 3 {
		t.Fatalf("%d mailboxes, want 3", len(c.Fetch))
	}
	m := c.Fetch[0]
	if m.Name != "m365" || m.Security != fetch.TLS || m.Addr != "outlook.office365.com:993" || m.User != "support@example.com" ||
		m.Folder != "INBOX" || m.To != "help@example.com" || m.After.String() != "move:Done" || m.Poll != 30*time.Second ||
		m.MaxPerMin != 120 || !m.Since.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("first mailbox %+v", m)
	}
	m = c.Fetch[1]
	if m.Security != fetch.StartTLS || m.Addr != "mail.example.net:143" || m.Folder != "Support" || m.To != "support@example.com" ||
		m.After.Kind != "seen" || m.Poll != fetch.DefaultPoll || m.Name != "desk@mail.example.net/Support" {
		t.Errorf("second mailbox %+v", m)
	}
	m = c.Fetch[2]
	if m.Password != "pw" || m.After.String() != "move:"+fetch.DefaultFolder {
		t.Errorf("--fetch mailbox %+v", m)
	}
}

// A fetch mailbox's to is checked with the SMTP server's rule: case,
// trailing dot and IDNA do not make it another domain.
func TestFetchToOurDomainHoweverWritten(t *testing.T) {
	for _, to := range []string{"Help@Example.COM.", "help@xn--bcher-kva.test"} {
		c, err := load(t, []string{"--domain", "example.com", "--domain", "bücher.test"}, nil, "[[fetch]]\nurl = \"imaps://a:b@h/\"\nto = \""+to+"\"\n")
		if err != nil {
			t.Fatalf("to %q: %v", to, err)
		}
		if got, want := c.Fetch[0].To, strings.TrimSuffix(strings.ToLower(to), "."); got != want {
			t.Errorf("to %q read as %q, want %q", to, got, want)
		}
	}
}

func TestFetchErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args       []string
		file, want string
	}{
		"unknown key":              {file: "[[fetch]]\nurl = \"imaps://a@h/INBOX\"\npasword_file = \"x\"\n", want: `unknown key "pasword_file"`},
		"bad scheme":               {args: []string{"--fetch", "pop3://a:b@h/"}, want: "scheme must be imaps or imap"},
		"no sign-in":               {file: "[[fetch]]\nurl = \"imaps://a@h/INBOX\"\n", want: "exactly one of password_file"},
		"two sign-ins":             {file: "[[fetch]]\nurl = \"imaps://a:pw@h/INBOX\"\npassword_file = \"/p\"\n", want: "exactly one"},
		"bad after":                {args: []string{"--fetch", "imaps://a:b@h/"}, file: "[[fetch]]\nurl = \"imaps://c:d@h/\"\nafter = \"archive\"\n", want: `after "archive"`},
		"bad since":                {file: "[[fetch]]\nurl = \"imaps://a:b@h/\"\nsince = \"yesterday\"\n", want: `since "yesterday"`},
		"same name":                {args: []string{"--fetch", "imaps://a:b@h/", "--fetch", "imaps://a:c@h/"}, want: "is taken by another mailbox"},
		"to elsewhere":             {args: []string{"--domain", "example.com"}, file: "[[fetch]]\nurl = \"imaps://a:b@h/\"\nto = \"help@other.test\"\n", want: "not at one of the domains"},
		"no password in the error": {args: []string{"--fetch", "ftp://a:hunter2@h/"}, want: "xxxxx"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, tc.args, nil, tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}
