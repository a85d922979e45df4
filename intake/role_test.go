package intake

import (
	"bytes"
	"context"
	"log/slog"
	"net/mail"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// receive stores raw as the fixture's receiver would and loads its meta.
func receive(t *testing.T, db *store.DB, step *InboundStep, env inbound.Envelope, raw string) inbound.Meta {
	t.Helper()
	recv := &inbound.Receiver{DB: db, Clock: step.Classify.Clock, Hostname: "mx.help.test"}
	rc, err := recv.Receive(context.Background(), env, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	m, err := inbound.Load(context.Background(), db, rc.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Mail to postmaster or abuse is kept for operators, never threaded or
// dropped, even when it references a conversation; mail that also names
// another of our addresses is threaded as usual.
func TestRoleMailKeptForOperators(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rcpts  []string
		action string
	}{
		{"postmaster", []string{"postmaster@help.test"}, RoleMailAction + "postmaster@help.test (human)"},
		{"bare postmaster", []string{"Postmaster"}, RoleMailAction + "Postmaster (human)"},
		{"abuse", []string{"abuse@help.test"}, RoleMailAction + "abuse@help.test (human)"},
		{"abuse and a reply", []string{"abuse@help.test", "x@help.test"}, "appended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, step, _ := threadFixture(t)
			var logs bytes.Buffer
			step.Log = slog.New(slog.NewTextHandler(&logs, nil))
			m := receive(t, db, step, inbound.Envelope{MailFrom: "ann@client.test", Rcpts: tc.rcpts, Proto: "ESMTP"},
				"From: ann@client.test\r\nTo: postmaster@help.test\r\nSubject: Your server\r\nMessage-ID: <p1@client.test>\r\nReferences: <root@help.test>\r\n\r\nis sending me spam\r\n")
			res, err := step.Step(context.Background(), m) // for its After: runStep commits
			if err != nil {
				t.Fatal(err)
			}
			e := runStep(t, db, step, m)
			var n int
			_ = db.View(func(tx *store.Tx) error {
				ms, _ := model.Messages(tx, "c1", 10)
				n = len(ms)
				return nil
			})
			if !strings.HasPrefix(e.Action, tc.action) {
				t.Fatalf("action %q, want %q", e.Action, tc.action)
			}
			if !strings.HasPrefix(tc.action, RoleMailAction) {
				if n != 1 {
					t.Errorf("%d messages in c1, want the reply appended", n)
				}
				return
			}
			if n != 0 {
				t.Errorf("role mail appended to the conversation")
			}
			res.After()
			if !strings.Contains(logs.String(), "NEEDS ATTENTION") || !strings.Contains(logs.String(), m.ID) {
				t.Errorf("log: %s", logs.String())
			}
		})
	}
}

// With role-forward, operators get a copy, queued in the same commit, and
// the log names it.
func TestRoleMailCopiedToOperators(t *testing.T) {
	db, step, _ := threadFixture(t)
	step.RoleForward = &RoleForward{To: "ops@elsewhere.test", Mailer: &queue.Mailer{Keyring: step.Thread.Keyring,
		Domain: "help.test", From: mail.Address{Name: "Helpdesk", Address: "notifications@help.test"}}}
	m := receive(t, db, step, inbound.Envelope{MailFrom: "ann@client.test", Rcpts: []string{"abuse@help.test"}, RemoteIP: "192.0.2.7", Proto: "ESMTP"},
		"From: ann@client.test\r\nTo: abuse@help.test\r\nSubject: Spam from you\r\nMessage-ID: <a1@client.test>\r\n\r\n<script>see below</script>\r\n")
	e := runStep(t, db, step, m)
	want := RoleMailAction + "abuse@help.test (human); a copy sent to ops@elsewhere.test as outgoing email "
	if !strings.HasPrefix(e.Action, want) {
		t.Fatalf("action %q, want %q", e.Action, want)
	}
	id := strings.TrimPrefix(e.Action, want)
	var j queue.Job
	err := db.View(func(tx *store.Tx) error {
		var err error
		j, err = queue.GetJob(tx, id)
		return err
	})
	if err != nil || j.To != "ops@elsewhere.test" || j.State != queue.StateQueued || !strings.Contains(j.Subject, "mail to abuse@help.test: Spam from you") {
		t.Fatalf("job %+v %v", j, err)
	}
}
