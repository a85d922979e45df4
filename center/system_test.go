package center

import (
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

func TestEverySystemEmailIsDelivered(t *testing.T) {
	f := newFixture(t)
	f.helpdesk()
	f.update(func(tx *store.Tx) error {
		if err := model.PutProject(tx, model.Project{ID: "p2", Name: "Sales", Followers: []string{"bob"}}); err != nil {
			return err
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c1", Item: "i1", Kind: model.External, Subject: "Printer", Created: f.clk.Now()})
	})
	cases := []struct {
		ev      Event
		to      string
		subject string
		inBody  string
	}{
		{Event{ID: "e1", Type: UserCreated, Person: "ann", Actor: "bob", Link: "https://app.test/signin"}, "ann@staff.test", "Welcome to Example Helpdesk", "https://app.test/signin"},
		{Event{ID: "e2", Type: PasswordResetRequested, Person: "ann", Link: "https://app.test/reset?t=1"}, "ann@staff.test", "Reset your Example Helpdesk password", "https://app.test/reset?t=3D1"},
		{Event{ID: "e3", Type: ItemAssigned, Item: "i1", Person: "ann", Actor: "bob"}, "ann@staff.test", "Assigned to you: Printer", "Bob Boss assigned you to"},
		{Event{ID: "e4", Type: ProjectMemberAdded, Project: "p1", Person: "carl", Actor: "ann"}, "bob@staff.test", "Carl joined Support", "Carl joined the project Support"},
		{Event{ID: "e5", Type: ProjectInvited, Project: "p1", Person: "carl", Actor: "ann"}, "carl@staff.test", "Invitation to Support", "invited you to the project Support"},
		{Event{ID: "e6", Type: ProjectInvited, Project: "p2", Person: "ann", Actor: "carl"}, "ann@staff.test", "You were added to Sales", "you accept all invitations"},
	}
	for _, tc := range cases {
		f.handle(tc.ev)
	}
	// The notification email: a message ann did not see within the hold.
	if _, err := f.center.Messaging.Post(t.Context(), model.Message{Conversation: "c1", Author: "cat", Text: "still broken"}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(2 * time.Minute)
	f.deliver()
	got := f.sink.got()
	find := func(to, subject string) *sunk {
		for i := range got {
			if got[i].to == to && strings.Contains(got[i].msg.Header.Get("Subject"), subject) {
				return &got[i]
			}
		}
		return nil
	}
	for _, tc := range cases {
		m := find(tc.to, tc.subject)
		if m == nil {
			t.Errorf("%s: no email to %s with subject %q; got %d emails", tc.ev.Type, tc.to, tc.subject, len(got))
			continue
		}
		if m.msg.Header.Get("Auto-Submitted") != "auto-generated" || m.msg.Header.Get("Message-ID") == "" {
			t.Errorf("%s: headers %v", tc.ev.Type, m.msg.Header)
		}
		if !strings.Contains(string(m.raw), tc.inBody) {
			t.Errorf("%s: body lacks %q:\n%s", tc.ev.Type, tc.inBody, m.raw)
		}
	}
	notified := false
	for _, m := range got {
		// The built-in automation's text heads the notification email.
		notified = notified || m.to == "ann@staff.test" && strings.Contains(string(m.raw), "still broken") &&
			strings.Contains(string(m.raw), "New message in a conversation you follow.")
	}
	if !notified {
		t.Errorf("no notification email to ann")
	}
	// ann accepted p2's invitation: she follows it now; bob, who follows
	// p2 with new-member emails on, was told.
	if find("bob@staff.test", "Ann Agent joined Sales") == nil {
		t.Error("no new_member email for the accepted invitation")
	}
	f.update(func(tx *store.Tx) error {
		p, _ := model.GetProject(tx, "p2")
		if !strings.Contains(strings.Join(p.Followers, ","), "ann") {
			t.Errorf("ann was not added to p2: %v", p.Followers)
		}
		return nil
	})
	// Ann has "New users and teams" off: not told of carl.
	if find("ann@staff.test", "Carl joined") != nil {
		t.Error("ann got a new_member email with the setting off")
	}
}

func TestSettingsAndSwitchesStopEmails(t *testing.T) {
	f := newFixture(t)
	f.helpdesk()
	f.update(func(tx *store.Tx) error { return templates.SetEnabled(tx, templates.Welcome, false) })
	out := f.handle(Event{ID: "e1", Type: UserCreated, Person: "ann"})
	if len(out.Emails) != 0 || len(out.Skipped) != 1 || !strings.Contains(out.Skipped[0], "switched off") {
		t.Errorf("welcome switched off: %+v", out)
	}
	out = f.handle(Event{ID: "e2", Type: ItemAssigned, Item: "i1", Person: "carl", Actor: "ann"})
	if len(out.Emails) != 0 {
		t.Errorf("carl has assignment emails off: %+v", out)
	}
	f.update(func(tx *store.Tx) error {
		if err := templates.SetEnabled(tx, templates.PasswordReset, false); err == nil {
			t.Error("password_reset was switched off")
		}
		return nil
	})
	out = f.handle(Event{ID: "e3", Type: PasswordResetRequested, Person: "ann", Link: "https://app.test/r"})
	f.deliver()
	if len(out.Emails) != 1 || len(f.sink.got()) != 1 {
		t.Errorf("password reset: %+v, %d sent", out, len(f.sink.got()))
	}
}

func TestEventSentTwiceIsHandledOnce(t *testing.T) {
	f := newFixture(t)
	f.helpdesk()
	ev := Event{ID: "same-key", Type: PasswordResetRequested, Person: "ann", Link: "https://app.test/r"}
	first := f.handle(ev)
	second := f.handle(ev)
	f.deliver()
	if first.Duplicate || !second.Duplicate || len(second.Emails) != 1 || second.Emails[0].Job != first.Emails[0].Job {
		t.Errorf("first %+v, second %+v", first, second)
	}
	if n := len(f.sink.got()); n != 1 {
		t.Errorf("%d emails sent, want 1", n)
	}
}

func TestEventValidation(t *testing.T) {
	cases := []struct {
		name  string
		ev    Event
		field string
	}{
		{"no id", Event{Type: UserCreated, Person: "a"}, "id"},
		{"unknown type", Event{ID: "x", Type: "user.deleted"}, "type"},
		{"reset without link", Event{ID: "x", Type: PasswordResetRequested, Person: "a"}, "link"},
		{"javascript link", Event{ID: "x", Type: UserCreated, Person: "a", Link: "javascript:alert(1)"}, "link"},
		{"assigned without person", Event{ID: "x", Type: ItemAssigned, Item: "i"}, "person"},
		{"member without person or team", Event{ID: "x", Type: ProjectMemberAdded, Project: "p"}, "person"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.ev.Validate()
			fe, ok := err.(*FieldError)
			if !ok || fe.Field != tc.field {
				t.Errorf("err = %v, want field %s", err, tc.field)
			}
		})
	}
}

func TestNotificationEmailSwitchedOffIsNotSent(t *testing.T) {
	f := newFixture(t)
	f.helpdesk()
	f.update(func(tx *store.Tx) error {
		if err := templates.SetEnabled(tx, templates.NotificationName, false); err != nil {
			return err
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c1", Item: "i1", Kind: model.External, Subject: "Printer", Created: f.clk.Now()})
	})
	if _, err := f.center.Messaging.Post(t.Context(), model.Message{Conversation: "c1", Author: "cat", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(2 * time.Minute)
	f.deliver()
	if n := len(f.sink.got()); n != 0 {
		t.Errorf("%d emails sent with the notification email switched off", n)
	}
}

func TestPrunedEventIsForgotten(t *testing.T) {
	f := newFixture(t)
	f.helpdesk()
	ev := Event{ID: "k1", Type: PasswordResetRequested, Person: "ann", Link: "https://app.test/r"}
	f.handle(ev)
	if n, err := PruneEvents(t.Context(), f.db, f.clk.Now()); err != nil || n != 0 {
		t.Fatalf("pruned %d, %v before its time", n, err)
	}
	if !f.handle(ev).Duplicate {
		t.Error("not a duplicate before pruning")
	}
	f.clk.Advance(time.Hour)
	if n, err := PruneEvents(t.Context(), f.db, f.clk.Now()); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if f.handle(ev).Duplicate {
		t.Error("a pruned event is still a duplicate")
	}
}
