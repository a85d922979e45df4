package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestMessagingEndpointsNeedTheToken(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	id := a.post("c1", "ann", "hello")
	endpoints := []struct {
		method, path string
		body         any
	}{
		{"PUT", "/v1/people/x", map[string]any{"kind": "user"}},
		{"GET", "/v1/people/agent", nil},
		{"PATCH", "/v1/people/agent/settings", map[string]any{"preset": "nothing"}},
		{"GET", "/v1/people/agent/notifications", nil},
		{"GET", "/v1/people/agent/notifications/stream", nil},
		{"GET", "/v1/people/agent/notifications/stream?access_token=" + token, nil},
		{"PUT", "/v1/projects/p9", map[string]any{"name": "x"}},
		{"GET", "/v1/projects/p1", nil},
		{"PUT", "/v1/items/i9", map[string]any{"project": "p1"}},
		{"GET", "/v1/items/i1", nil},
		{"PUT", "/v1/conversations/c9", map[string]any{"kind": "internal"}},
		{"GET", "/v1/conversations/c1", nil},
		{"POST", "/v1/conversations/c1/messages", map[string]any{"author": "ann", "text": "x"}},
		{"GET", "/v1/conversations/c1/messages", nil},
		{"DELETE", "/v1/messages/" + id, nil},
		{"GET", "/v1/messages/" + id + "/delivery", nil},
		{"POST", "/v1/seen", map[string]any{"person": "agent", "conversation": "c1", "up_to": id}},
	}
	for _, e := range endpoints {
		for _, tok := range []string{"", "wrong", token + "x", strings.ToUpper(token)} {
			resp, body := a.callTok(e.method, e.path, tok, e.body)
			if resp.StatusCode != 401 || body["error"] == nil || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s with token %q: %d %v, want 401", e.method, e.path, tok, resp.StatusCode, body)
			}
		}
	}
	// Nothing above reached the store.
	if _, m := a.call("GET", "/v1/messages/"+id+"/delivery", nil); m["retracted"] != nil {
		t.Errorf("an unauthenticated DELETE retracted the message: %v", m)
	}
	if code, _ := a.call("GET", "/v1/people/x", nil); code != 404 {
		t.Errorf("an unauthenticated PUT created a person: %d", code)
	}
}

func TestMessagingValidationErrorsNameTheField(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	id := a.post("c1", "ann", "hello")
	cases := []struct {
		name         string
		method, path string
		body         any
		code         int
		field        string
	}{
		{"kind missing", "PUT", "/v1/people/x", map[string]any{"name": "X"}, 400, "kind"},
		{"kind unknown", "PUT", "/v1/people/x", map[string]any{"kind": "robot"}, 400, "kind"},
		{"bad address", "PUT", "/v1/people/x", map[string]any{"kind": "user", "emails": []string{"no-at-sign"}}, 400, "emails"},
		{"address of another person", "PUT", "/v1/people/x", map[string]any{"kind": "user", "emails": []string{"ANN@client.test"}}, 409, "emails"},
		{"nested setting enum", "PUT", "/v1/people/x", map[string]any{"kind": "user", "settings": map[string]any{"from_customers": "some"}}, 400, "settings.from_customers"},
		{"nested setting type", "PUT", "/v1/people/x", map[string]any{"kind": "user", "settings": map[string]any{"followed_internal": "yes"}}, 400, "settings.followed_internal"},
		{"unknown field", "PUT", "/v1/people/x", map[string]any{"kind": "user", "nickname": "X"}, 400, "nickname"},
		{"settings not an object", "PUT", "/v1/people/x", map[string]any{"kind": "user", "settings": 5}, 400, "settings"},
		{"unknown nested setting", "PUT", "/v1/people/x", map[string]any{"kind": "user", "settings": map[string]any{"mute": true}}, 400, "settings.mute"},
		{"id in the body is not a field", "PUT", "/v1/people/x", map[string]any{"kind": "user", "id": "y"}, 400, "id"},
		{"name too long", "PUT", "/v1/people/x", map[string]any{"kind": "user", "name": strings.Repeat("n", 201)}, 400, "name"},
		{"path id", "PUT", "/v1/people/-bad", map[string]any{"kind": "user"}, 400, "id"},
		{"path id too long", "GET", "/v1/people/" + strings.Repeat("a", 65), nil, 400, "id"},
		{"not JSON", "PUT", "/v1/people/x", "kind=user", 400, "body"},
		{"two objects", "PUT", "/v1/people/x", `{"kind":"user"} {}`, 400, "body"},
		{"wrong type", "PUT", "/v1/people/x", `{"kind":"user","emails":"a@b.test"}`, 400, "emails"},
		{"preset unknown", "PATCH", "/v1/people/agent/settings", map[string]any{"preset": "everything"}, 400, "preset"},
		{"setting enum", "PATCH", "/v1/people/agent/settings", map[string]any{"visibility": "some_projects"}, 400, "visibility"},
		{"setting unknown", "PATCH", "/v1/people/agent/settings", map[string]any{"mute": true}, 400, "mute"},
		{"project name", "PUT", "/v1/projects/p9", map[string]any{"name": strings.Repeat("n", 201)}, 400, "name"},
		{"project follower unknown", "PUT", "/v1/projects/p9", map[string]any{"followers": []string{"nobody"}}, 400, "followers"},
		{"item project unknown", "PUT", "/v1/items/i9", map[string]any{"project": "nope"}, 400, "project"},
		{"item assignee unknown", "PUT", "/v1/items/i9", map[string]any{"project": "p1", "assignees": []string{"nobody"}}, 400, "assignees"},
		{"conversation kind", "PUT", "/v1/conversations/c9", map[string]any{"kind": "public"}, 400, "kind"},
		{"conversation item", "PUT", "/v1/conversations/c9", map[string]any{"kind": "external", "item": "nope"}, 400, "item"},
		{"message author missing", "POST", "/v1/conversations/c1/messages", map[string]any{"text": "x"}, 400, "author"},
		{"message author unknown", "POST", "/v1/conversations/c1/messages", map[string]any{"author": "nobody", "text": "x"}, 400, "author"},
		{"message empty", "POST", "/v1/conversations/c1/messages", map[string]any{"author": "ann", "text": "  "}, 400, "text"},
		{"customer in internal", "POST", "/v1/conversations/c2/messages", map[string]any{"author": "ann", "text": "x"}, 400, "author"},
		{"message text too long", "POST", "/v1/conversations/c1/messages", map[string]any{"author": "ann", "text": strings.Repeat("t", 1<<20+1)}, 400, "text"},
		{"message html too long", "POST", "/v1/conversations/c1/messages", map[string]any{"author": "ann", "text": "x", "html": strings.Repeat("t", 1<<20+1)}, 400, "html"},
		{"message channel is not input", "POST", "/v1/conversations/c1/messages", map[string]any{"author": "ann", "text": "x", "channel": "email"}, 400, "channel"},
		{"messages limit", "GET", "/v1/conversations/c1/messages?limit=1001", nil, 400, "limit"},
		{"messages after", "GET", "/v1/conversations/c1/messages?after=%00", nil, 400, "after"},
		{"inbox limit", "GET", "/v1/people/agent/notifications?limit=0", nil, 400, "limit"},
		{"seen person", "POST", "/v1/seen", map[string]any{"conversation": "c1", "up_to": id}, 400, "person"},
		{"seen conversation", "POST", "/v1/seen", map[string]any{"person": "agent", "conversation": "c 1", "up_to": id}, 400, "conversation"},
		{"seen up_to", "POST", "/v1/seen", map[string]any{"person": "agent", "conversation": "c1"}, 400, "up_to"},
		{"seen extra field", "POST", "/v1/seen", map[string]any{"person": "agent", "conversation": "c1", "up_to": id, "all": true}, 400, "all"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := a.call(c.method, c.path, c.body)
			if code != c.code || body["field"] != c.field || body["error"] == "" {
				t.Errorf("%s %s: %d %v, want %d naming %q", c.method, c.path, code, body, c.code, c.field)
			}
		})
	}
}

func TestUnknownIDsAre404(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	if _, body := a.call("GET", "/v1/people/nobody", nil); body["error"] != "person nobody not found" {
		t.Errorf("the 404 names the record: %v", body)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/people/nobody", nil},
		{"PATCH", "/v1/people/nobody/settings", map[string]any{"preset": "nothing"}},
		{"GET", "/v1/people/nobody/notifications", nil},
		{"GET", "/v1/people/nobody/notifications/stream", nil},
		{"GET", "/v1/projects/nope", nil},
		{"GET", "/v1/items/nope", nil},
		{"GET", "/v1/conversations/nope", nil},
		{"GET", "/v1/conversations/nope/messages", nil},
		{"POST", "/v1/conversations/nope/messages", map[string]any{"author": "ann", "text": "x"}},
		{"DELETE", "/v1/messages/nope", nil},
		{"GET", "/v1/messages/nope/delivery", nil},
		{"POST", "/v1/seen", map[string]any{"person": "nobody", "conversation": "c1", "up_to": "m1"}},
		{"POST", "/v1/seen", map[string]any{"person": "agent", "conversation": "nope", "up_to": "m1"}},
		{"GET", "/v1/nothing-here", nil},
	} {
		code, body := a.call(c.method, c.path, c.body)
		if code != 404 || body["error"] == nil {
			t.Errorf("%s %s: %d %v, want 404 in JSON", c.method, c.path, code, body)
		}
	}
}

func TestBodyOverTheLimitIs413(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	big := func(n int) string { return `{"name":"` + strings.Repeat("x", n) + `"}` }
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/v1/people/x", big(MaxBodyBytes)},
		{"PUT", "/v1/projects/p9", big(MaxBodyBytes)},
		{"PUT", "/v1/items/i9", big(MaxBodyBytes)},
		{"PUT", "/v1/conversations/c9", big(MaxBodyBytes)},
		{"PATCH", "/v1/people/agent/settings", big(MaxSmallBodyBytes)},
		{"POST", "/v1/seen", big(MaxSmallBodyBytes)},
		{"POST", "/v1/conversations/c1/messages", `{"author":"ann","text":"` + strings.Repeat("x", MaxMessageBodyBytes) + `"}`},
	} {
		code, body := a.call(c.method, c.path, c.body)
		if code != 413 || body["field"] != "body" {
			t.Errorf("%s %s with %d bytes: %d %v, want 413", c.method, c.path, len(c.body), code, body)
		}
	}
	if code, _ := a.call("GET", "/v1/projects/p9", nil); code != 404 {
		t.Errorf("a refused body was stored: %d", code)
	}
}

func TestWrongMethodIs405(t *testing.T) {
	a := newMessagingAPI(t)
	for _, c := range []struct{ method, path, allow string }{
		{"DELETE", "/v1/people/agent", "GET, HEAD, PUT"},
		{"POST", "/v1/people/agent/settings", "PATCH"},
		{"GET", "/v1/seen", "POST"},
		{"PUT", "/v1/messages/m1", "DELETE"},
	} {
		resp, body := a.callTok(c.method, c.path, token, nil)
		if resp.StatusCode != 405 || body["error"] == nil || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow=%q %v, want 405 allowing %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), body, c.allow)
		}
	}
}

func TestPeopleAndRecords(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	agent := a.must(200, "GET", "/v1/people/agent", nil)
	if e := list(agent["emails"]); len(e) != 1 || e[0] != "agent@example.test" {
		t.Errorf("emails not normalised: %v", agent["emails"])
	}
	s := agent["settings"].(map[string]any)
	if s["visibility"] != "followed_projects" || s["from_customers"] != "mine" || s["from_users"] != "followed" ||
		s["followed_internal"] != true || s["show_from_customers"] != true || s["new_members"] != false {
		t.Errorf("a new user did not get the default settings: %v", s)
	}
	// Settings given on create apply over the defaults, field by field.
	p := a.must(201, "PUT", "/v1/people/u2", map[string]any{"kind": "user", "settings": map[string]any{"from_users": "all"}})
	if s := p["settings"].(map[string]any); s["from_users"] != "all" || s["from_customers"] != "mine" || s["accept_invitations"] != true {
		t.Errorf("partial settings on create: %v", s)
	}
	// A replace without settings keeps the person's own.
	a.must(200, "PATCH", "/v1/people/agent/settings", map[string]any{"preset": "nothing"})
	a.must(200, "PUT", "/v1/people/agent", map[string]any{"kind": "user", "name": "Agent Smith", "emails": []string{"smith@example.test"}})
	agent = a.must(200, "GET", "/v1/people/agent", nil)
	if agent["name"] != "Agent Smith" || agent["settings"].(map[string]any)["from_customers"] != "none" || agent["created"] == nil {
		t.Errorf("after replace: %v", agent)
	}
	// The old address is free again.
	a.must(201, "PUT", "/v1/people/other", map[string]any{"kind": "customer", "emails": []string{"agent@example.test"}})

	if p := a.must(200, "GET", "/v1/projects/p1", nil); p["name"] != "Support" || p["followers"] == nil {
		t.Errorf("project: %v", p)
	}
	if it := a.must(200, "GET", "/v1/items/i1", nil); it["project"] != "p1" || len(list(it["followers"])) != 1 {
		t.Errorf("item: %v", it)
	}
	c := a.must(200, "GET", "/v1/conversations/c1", nil)
	if c["kind"] != "external" || c["tag"] == "" || c["item"] != "i1" {
		t.Errorf("conversation: %v", c)
	}
	// A replace keeps the subject tag.
	c2 := a.must(200, "PUT", "/v1/conversations/c1", map[string]any{"item": "i1", "kind": "external", "subject": "Printer"})
	if c2["tag"] != c["tag"] || c2["subject"] != "Printer" {
		t.Errorf("replace changed the tag: %v then %v", c, c2)
	}
}

func TestPresetsViaPatch(t *testing.T) {
	a := newMessagingAPI(t)
	a.must(201, "PUT", "/v1/people/u", map[string]any{"kind": "user"})
	cases := []struct {
		name  string
		patch map[string]any
		want  map[string]any
	}{
		{"support manager", map[string]any{"preset": "support_manager"},
			map[string]any{"from_customers": "all", "from_users": "all", "followed_internal": true, "visibility": "followed_projects"}},
		{"nothing", map[string]any{"preset": "nothing"},
			map[string]any{"from_customers": "none", "from_users": "none", "followed_internal": false}},
		{"support member", map[string]any{"preset": "support_member"},
			map[string]any{"from_customers": "mine", "from_users": "followed", "followed_internal": true}},
		{"a field beside the preset wins", map[string]any{"preset": "support_manager", "from_users": "none", "visibility": "all_projects"},
			map[string]any{"from_customers": "all", "from_users": "none", "followed_internal": true, "visibility": "all_projects"}},
		{"one field alone changes only it", map[string]any{"new_members": true},
			map[string]any{"new_members": true, "from_customers": "all", "visibility": "all_projects"}},
		{"the preset leaves email settings alone", map[string]any{"preset": "nothing"},
			map[string]any{"new_members": true, "assignment_changes": true, "show_from_customers": true, "visibility": "all_projects"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := a.must(200, "PATCH", "/v1/people/u/settings", c.patch)
			stored := a.must(200, "GET", "/v1/people/u", nil)["settings"].(map[string]any)
			for k, v := range c.want {
				if got[k] != v || stored[k] != v {
					t.Errorf("%s = %v (stored %v), want %v", k, got[k], stored[k], v)
				}
			}
		})
	}
	// A refused patch changes nothing.
	before := a.must(200, "GET", "/v1/people/u", nil)["settings"]
	a.call("PATCH", "/v1/people/u/settings", map[string]any{"preset": "support_manager", "from_users": "bogus"})
	if after := a.must(200, "GET", "/v1/people/u", nil)["settings"]; !equalJSON(before, after) {
		t.Errorf("refused patch changed %v to %v", before, after)
	}
}

func equalJSON(a, b any) bool {
	am, bm := a.(map[string]any), b.(map[string]any)
	if len(am) != len(bm) {
		return false
	}
	for k, v := range am {
		if bm[k] != v {
			return false
		}
	}
	return true
}

func TestPostMessageListAndInbox(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	m := a.must(201, "POST", "/v1/conversations/c1/messages", map[string]any{"author": "ann", "text": "help", "html": "<p>help</p>"})
	msg := m["message"].(map[string]any)
	if msg["channel"] != "web" || msg["html"] != "<p>help</p>" || msg["author"] != "ann" {
		t.Errorf("message: %v", msg)
	}
	got := map[string]string{}
	for _, r := range list(m["recipients"]) {
		r := r.(map[string]any)
		got[r["person"].(string)] = r["reason"].(string)
	}
	want := map[string]string{"agent": "customer message in followed conversation", "boss": "All customer messages"}
	if len(got) != len(want) || got["agent"] != want["agent"] || got["boss"] != want["boss"] {
		t.Errorf("recipients = %v, want %v", got, want)
	}
	second := a.post("c1", "agent", "on it")
	third := a.post("c1", "ann", "thanks")

	page := a.must(200, "GET", "/v1/conversations/c1/messages?limit=2", nil)
	ms := list(page["messages"])
	if len(ms) != 2 || ms[1].(map[string]any)["id"] != second || page["cursor"] != second || page["more"] != true {
		t.Fatalf("first page: %v", page)
	}
	page = a.must(200, "GET", "/v1/conversations/c1/messages?after="+second, nil)
	if ms := list(page["messages"]); len(ms) != 1 || ms[0].(map[string]any)["id"] != third || page["more"] != false {
		t.Errorf("second page: %v", page)
	}
	if page := a.must(200, "GET", "/v1/conversations/c2/messages", nil); page["messages"] == nil || len(list(page["messages"])) != 0 {
		t.Errorf("empty conversation: %v", page)
	}

	inbox := a.must(200, "GET", "/v1/people/agent/notifications", nil)
	ns := list(inbox["notifications"])
	if inbox["unread"] != float64(2) || len(ns) != 2 || ns[0].(map[string]any)["message"] != third {
		t.Errorf("agent's inbox, newest first: %v", inbox)
	}
	inbox = a.must(200, "GET", "/v1/people/ann/notifications?limit=1", nil)
	if inbox["unread"] != float64(1) || len(list(inbox["notifications"])) != 1 {
		t.Errorf("ann's inbox: %v", inbox)
	}

	// No queue wired (DeliveryStatus nil): notified, not seen, not sent.
	d := a.must(200, "GET", "/v1/messages/"+second+"/delivery", nil)
	rs := list(d["recipients"])
	if len(rs) != 2 {
		t.Fatalf("delivery of the agent's reply: %v", d)
	}
	for _, r := range rs {
		r := r.(map[string]any)
		if r["email"] != EmailNotSent || r["seen_at"] != nil || r["notified_at"] == nil || r["reason"] == "" {
			t.Errorf("before any seen-ack: %v", r)
		}
	}
}

func TestRetractAndDelivery(t *testing.T) {
	// The queue's answer, as it will fill DeliveryStatus in.
	var mu sync.Mutex
	var asked []string
	a := newMessagingAPI(t, func(s *Server) {
		s.DeliveryStatus = func(_ context.Context, msg, person string) string {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, person)
			if person == "boss" {
				return "held"
			}
			return "cancelled"
		}
	})
	a.helpdesk()
	id := a.post("c1", "ann", "help")
	a.must(200, "POST", "/v1/seen", map[string]any{"person": "agent", "conversation": "c1", "up_to": id})
	d := a.must(200, "GET", "/v1/messages/"+id+"/delivery", nil)
	if len(list(d["recipients"])) != 2 || d["retracted"] != nil || d["message"] != id {
		t.Fatalf("delivery: %v", d)
	}
	for _, r := range list(d["recipients"]) {
		r := r.(map[string]any)
		switch r["person"] {
		case "agent":
			if r["seen_at"] == nil || r["email"] != "cancelled" {
				t.Errorf("agent saw it: %v", r)
			}
		case "boss":
			if r["seen_at"] != nil || r["email"] != "held" {
				t.Errorf("boss did not: %v", r)
			}
		}
	}
	mu.Lock()
	if len(asked) != 2 {
		t.Errorf("DeliveryStatus asked for %v", asked)
	}
	mu.Unlock()

	r1 := a.must(200, "DELETE", "/v1/messages/"+id, nil)
	r2 := a.must(200, "DELETE", "/v1/messages/"+id, nil)
	if r1["retracted"] == nil || r1["retracted"] != r2["retracted"] || r1["text"] != "help" {
		t.Errorf("retract twice: %v then %v", r1, r2)
	}
	if d := a.must(200, "GET", "/v1/messages/"+id+"/delivery", nil); d["retracted"] != r1["retracted"] {
		t.Errorf("delivery after retract: %v", d)
	}
	ms := list(a.must(200, "GET", "/v1/conversations/c1/messages", nil)["messages"])
	if len(ms) != 1 || ms[0].(map[string]any)["retracted"] == nil {
		t.Errorf("a retracted message stays in the history, flagged: %v", ms)
	}
}

func TestNotFoundPathsAreJSON(t *testing.T) {
	a := newMessagingAPI(t)
	resp, body := a.callTok("GET", "/v2/anything", token, nil)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" || body["error"] == nil {
		t.Errorf("unknown path: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
