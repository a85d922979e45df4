package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/emersion/go-smtp"
)

// A DSN sent back to the VERP envelope sender of an email deskmail sent
// marks that email "bounced" in the log, and the DSN itself is journaled as
// a bounce tied to it (SPEC sections 7 and 9).
func TestDSNToVERPAddressMarksEmailBounced(t *testing.T) {
	dir := t.TempDir()
	sink := newSMTPSink(t)
	seed(t, dir, time.Second, map[string][]string{"c1": {"printer on fire"}}).Close()
	d := startDaemon(t, dir, "--outbound", "relay", "--relay", sink.addr, "--relay-insecure")
	got := sink.wait(t, 1)[0]
	if !strings.HasPrefix(got.from, "bounce+") {
		t.Fatalf("envelope sender %q is not a VERP address", got.from)
	}
	dsn := fmt.Sprintf("From: Mail Delivery System <MAILER-DAEMON@mx.client.test>\r\n"+
		"To: %s\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.client.test>\r\n"+
		"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"+
		"--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"+
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.client.test\r\n\r\n"+
		"Final-Recipient: rfc822; ann@client.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"+
		"Diagnostic-Code: smtp; 550 5.1.1 <ann@client.test>: user unknown\r\n"+
		"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: %s\r\nSubject: %s\r\n"+
		"--B--\r\n", got.from, got.msg.Header.Get("Message-ID"), got.msg.Header.Get("Subject"))
	c, err := smtp.Dial(d.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("", []string{got.from}, strings.NewReader(dsn)); err != nil {
		t.Fatalf("send DSN: %v", err)
	}
	waitfor.Until(t, 20*time.Second, "the outgoing email's last status is bounced", func() bool {
		st := outStatuses(t, dir)
		return len(st) > 0 && st[len(st)-1] == "bounced"
	})
	in := runCLI(t, nil, nil, "log", "--json", "--data", dir, "--direction", "in", "--class", "bounce")
	entries := parseLog(t, in.Stdout)
	if len(entries) != 1 || !strings.Contains(entries[0].Action, "bounce recorded for outgoing email") ||
		!strings.Contains(entries[0].Action, "5.1.1") {
		t.Errorf("incoming DSN entry: %+v", entries)
	}
	d.stop()
}
