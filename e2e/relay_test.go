package e2e

import (
	"errors"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestRelayDeniedIsJournaled asks the daemon to relay to a domain it does
// not serve: the recipient gets 550 5.7.1, the session goes on to deliver
// to its own domain, and the log shows both the refusal, with its reason,
// and the accepted message.
func TestRelayDeniedIsJournaled(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	c, err := dialSMTP(d.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("spammer@client.test", nil); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt("victim@elsewhere.test", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Fatalf("RCPT to another domain: %v, want 550 5.7.1", err)
	}
	id := "<after-relay-denied@client.test>"
	if err := c.Rcpt("support@example.test", nil); err != nil {
		t.Fatalf("RCPT to our domain after a refused one: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(message(id, "mixed recipients", 1000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("DATA: %v", err)
	}
	_ = c.Quit()

	var refused, stored bool
	for _, e := range readLog(t, dir) {
		switch {
		case e.Status == "rejected" && len(e.EnvelopeTo) == 1 && e.EnvelopeTo[0] == "victim@elsewhere.test":
			refused = true
			if e.Reason == "" {
				t.Errorf("the relay refusal has no reason: %+v", e)
			}
		case e.Status == "received" && e.MessageID == id:
			stored = true
			if len(e.EnvelopeTo) != 1 || e.EnvelopeTo[0] != "support@example.test" {
				t.Errorf("stored message has recipients %v, want only support@example.test", e.EnvelopeTo)
			}
		}
	}
	if !refused {
		t.Errorf("no rejected entry for the relay attempt")
	}
	if !stored {
		t.Errorf("no received entry for %s", id)
	}
	d.stop()
}
