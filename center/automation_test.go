package center

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

func TestAutomationOnItemClosedPostsAMessageNotifiedByTheRules(t *testing.T) {
	f := newFixture(t)
	f.helpdesk()
	f.update(func(tx *store.Tx) error {
		_, err := PutAutomation(tx, Automation{ID: "closed-note", Name: "Tell followers", Enabled: true, Trigger: ItemClosed,
			Conditions: Conditions{Projects: []string{"p1"}}, Action: Action{Kind: PostMessage, Text: "This item is closed."}}, f.clk.Now())
		return err
	})
	out := f.handle(Event{ID: "e1", Type: ItemClosed, Item: "i1", Status: "closed", Actor: "bob"})
	if len(out.Messages) != 1 {
		t.Fatalf("outcome %+v, want one message", out)
	}
	f.update(func(tx *store.Tx) error {
		notes, err := model.NotificationsOf(tx, out.Messages[0])
		if err != nil {
			return err
		}
		var who []string
		for _, n := range notes {
			who = append(who, n.Person)
		}
		// ann and cat follow the item; bob follows only the project, and
		// his "From users and bot" is "Followed replies to customers".
		if strings.Join(who, ",") != "ann,cat" && strings.Join(who, ",") != "cat,ann" {
			t.Errorf("notified %v, want ann and cat", who)
		}
		return nil
	})
	f.clk.Advance(2 * time.Minute)
	f.deliver()
	var to []string
	for _, m := range f.sink.got() {
		if strings.Contains(string(m.raw), "This item is closed.") {
			to = append(to, m.to)
		}
	}
	if len(to) != 2 {
		t.Errorf("the held notifications were emailed to %v, want ann and cat", to)
	}
	// A condition that does not hold: no message.
	if out := f.handle(Event{ID: "e2", Type: ItemClosed, Item: "i9"}); len(out.Messages) != 0 {
		t.Errorf("unknown item: %+v", out)
	}
}

func TestAutomationEmailToCustomerEscapesHTML(t *testing.T) {
	f := newFixture(t)
	f.helpdesk()
	f.update(func(tx *store.Tx) error {
		if _, err := templates.Save(tx, templates.Template{Name: "status_notice", Subject: "{{.ItemTitle}}: {{.Status}}",
			Text: "Hello {{.RecipientName}}, now {{.Status}}.", HTML: "<p>Hello {{.RecipientName}}, now {{.Status}}.</p>"}, f.clk.Now()); err != nil {
			return err
		}
		_, err := PutAutomation(tx, Automation{ID: "status-mail", Enabled: true, Trigger: ItemStatusChanged,
			Conditions: Conditions{Statuses: []string{"waiting"}},
			Action:     Action{Kind: SendEmail, Template: "status_notice", To: []string{ToCustomer}}}, f.clk.Now())
		return err
	})
	f.handle(Event{ID: "e1", Type: ItemStatusChanged, Item: "i1", Status: "open"}) // condition fails
	out := f.handle(Event{ID: "e2", Type: ItemStatusChanged, Item: "i1", Status: "waiting"})
	f.deliver()
	got := f.sink.got()
	if len(out.Emails) != 1 || len(got) != 1 || got[0].to != "cat@client.test" {
		t.Fatalf("outcome %+v, sent %d", out, len(got))
	}
	_, raw, _ := strings.Cut(string(got[0].raw), "text/html")
	if strings.Contains(raw, "<script>") || !strings.Contains(raw, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the customer's name is not escaped in HTML:\n%s", raw)
	}
	f.update(func(tx *store.Tx) error {
		if ids, _ := UsedBy(tx, "status_notice"); len(ids) != 1 || ids[0] != "status-mail" {
			t.Errorf("used by %v", ids)
		}
		return nil
	})
}

func TestBuiltinAutomationIsFirstAndCannotBeDisabledOrDeleted(t *testing.T) {
	f := newFixture(t)
	f.update(func(tx *store.Tx) error {
		if _, err := PutAutomation(tx, Automation{ID: "a1", Enabled: true, Trigger: ItemClosed, Action: Action{Kind: PostMessage, Text: "x"}}, f.clk.Now()); err != nil {
			return err
		}
		if _, err := SetAutomationEnabled(tx, BuiltinID, false, f.clk.Now()); !errors.Is(err, ErrBuiltin) {
			t.Errorf("disable built-in: %v", err)
		}
		if err := DeleteAutomation(tx, BuiltinID); !errors.Is(err, ErrBuiltin) {
			t.Errorf("delete built-in: %v", err)
		}
		if _, err := PutAutomation(tx, Automation{ID: BuiltinID, Enabled: true, Trigger: ItemClosed, Action: Action{Text: "y"}}, f.clk.Now()); !errors.Is(err, ErrBuiltin) {
			t.Errorf("changing the built-in's trigger: %v", err)
		}
		b, err := PutAutomation(tx, Automation{ID: BuiltinID, Enabled: true, Action: Action{Text: "New message for you."}}, f.clk.Now())
		if err != nil || b.Action.Text != "New message for you." || !b.Builtin {
			t.Errorf("editing the built-in's text: %+v %v", b, err)
		}
		all, _ := Automations(tx)
		if len(all) != 2 || all[0].ID != BuiltinID || !all[0].Enabled || all[0].Action.Text != "New message for you." {
			t.Errorf("list %+v", all)
		}
		return nil
	})
}
