package httpapi

import (
	"net/mail"
	"testing"

	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/threading"
)

func TestEventsAreHandledOnce(t *testing.T) {
	kr, err := threading.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a := newMessagingAPI(t, func(s *Server) {
		s.Center = &center.Service{DB: s.DB, Clock: s.Clock, Messaging: s.Messaging,
			Mailer: &queue.Mailer{Keyring: kr, Domain: "help.test", From: mail.Address{Name: "Help", Address: "help@help.test"}}}
	})
	a.helpdesk()
	ev := map[string]any{"id": "ev-1", "type": "password.reset_requested", "person": "agent", "link": "https://app.test/r"}
	code, first := a.call("POST", "/v1/events", ev)
	if code != 201 || first["duplicate"] != false || len(first["emails"].([]any)) != 1 {
		t.Fatalf("first: %d %v", code, first)
	}
	code, second := a.call("POST", "/v1/events", ev)
	if code != 200 || second["duplicate"] != true || len(second["emails"].([]any)) != 1 {
		t.Fatalf("second: %d %v", code, second)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"id": "ev-2", "type": "user.deleted"}, "type"},
		{map[string]any{"id": "ev-2", "type": "user.created"}, "person"},
		{map[string]any{"type": "user.created", "person": "agent"}, "id"},
		{map[string]any{"id": "ev-2", "type": "user.created", "person": "agent", "colour": "red"}, "colour"},
	} {
		if code, m := a.call("POST", "/v1/events", tc.body); code != 400 || m["field"] != tc.field {
			t.Errorf("%v: %d %v, want 400 naming %s", tc.body, code, m, tc.field)
		}
	}
}
