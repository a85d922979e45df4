package httpapi

import (
	"strings"
	"testing"
)

func TestTemplatesOverHTTP(t *testing.T) {
	a := newMessagingAPI(t)
	if code, m := a.call("GET", "/v1/templates", nil); code != 200 || len(m["templates"].([]any)) != 6 {
		t.Fatalf("list: %d %v", code, m)
	}
	good := map[string]any{"subject": "Hi {{.RecipientName}}", "text": "Welcome to {{.Org}}", "html": "<p>{{.RecipientName}}</p>"}
	if code, m := a.call("PUT", "/v1/templates/welcome", good); code != 200 || m["version"] != 1.0 {
		t.Fatalf("save: %d %v", code, m)
	}
	bad := map[string]any{"subject": "x", "text": "one\ntwo {{if}}", "html": "<p></p>"}
	code, m := a.call("PUT", "/v1/templates/welcome", bad)
	if code != 400 || m["field"] != "text" || m["line"] != 2.0 {
		t.Fatalf("bad template: %d %v, want 400 naming text, line 2", code, m)
	}
	if code, m := a.call("GET", "/v1/templates/welcome", nil); code != 200 || m["template"].(map[string]any)["subject"] != good["subject"] {
		t.Fatalf("the good version was not kept: %d %v", code, m)
	}
	code, m = a.call("POST", "/v1/templates/welcome/preview", map[string]any{"subject": "s", "text": "t",
		"html": "<p>{{.RecipientName}}</p>"})
	if code != 200 || m["html"] != "<p>Ann Agent</p>" {
		t.Fatalf("preview of a draft: %d %v", code, m)
	}
	if code, m := a.call("POST", "/v1/templates/welcome/reset", nil); code != 200 || m["version"] != 2.0 || m["note"] != "reset to default" {
		t.Fatalf("reset: %d %v", code, m)
	}
	if code, m := a.call("POST", "/v1/templates/welcome/preview", nil); code != 200 || !strings.Contains(m["subject"].(string), "Welcome to Example Helpdesk") {
		t.Fatalf("preview: %d %v", code, m)
	}
	code, m = a.call("PATCH", "/v1/system-emails/password_reset", map[string]any{"enabled": false})
	if code != 409 || !strings.Contains(m["error"].(string), "cannot be switched off") {
		t.Fatalf("switching password_reset off: %d %v, want 409", code, m)
	}
	if code, m := a.call("PATCH", "/v1/system-emails/welcome", map[string]any{"enabled": false}); code != 200 || m["enabled"] != false {
		t.Fatalf("switch welcome off: %d %v", code, m)
	}
	if code, m := a.call("GET", "/v1/templates/welcome", nil); code != 200 || m["enabled"] != false {
		t.Fatalf("welcome still on: %d %v", code, m)
	}
	if code, _ := a.call("PATCH", "/v1/system-emails/nosuch", map[string]any{"enabled": false}); code != 404 {
		t.Fatalf("unknown system email: %d", code)
	}
	if code, _ := a.call("GET", "/v1/templates/nosuch", nil); code != 404 {
		t.Fatalf("unknown template: %d", code)
	}
	// A notification template without the reply marker is saved, with a
	// warning naming the part.
	noMarker := map[string]any{"text": "Hello {{.RecipientName}}", "html": "<p>##- Please type your reply above this line -##</p><p>Hello</p>"}
	code, m = a.call("PUT", "/v1/templates/notification", noMarker)
	warns, _ := m["warnings"].([]any)
	if code != 200 || m["version"] != 1.0 || len(warns) != 1 || !strings.HasPrefix(warns[0].(string), "text: ") {
		t.Fatalf("save without marker: %d %v, want 200 with a warning on text", code, m)
	}
	if code, m := a.call("POST", "/v1/templates/notification/reset", nil); code != 200 || m["warnings"] != nil {
		t.Fatalf("reset: %d %v", code, m)
	}
}

func TestAutomationsOverHTTP(t *testing.T) {
	a := newMessagingAPI(t)
	code, m := a.call("GET", "/v1/automations", nil)
	list, _ := m["automations"].([]any)
	if code != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != "new-message" {
		t.Fatalf("list: %d %v", code, m)
	}
	if code, m := a.call("PATCH", "/v1/automations/new-message", map[string]any{"enabled": false}); code != 409 || !strings.Contains(m["error"].(string), "cannot be disabled or deleted") {
		t.Fatalf("disable built-in: %d %v", code, m)
	}
	if code, _ := a.call("DELETE", "/v1/automations/new-message", nil); code != 409 {
		t.Fatalf("delete built-in: %d", code)
	}
	if code, m := a.call("PUT", "/v1/automations/new-message", map[string]any{"action": map[string]any{"text": "You have a new message."}}); code != 200 || m["action"].(map[string]any)["text"] != "You have a new message." {
		t.Fatalf("edit built-in text: %d %v", code, m)
	}
	body := map[string]any{"name": "Closed", "trigger": "item.closed", "action": map[string]any{"kind": "send_email", "template": "welcome", "to": []string{"assignees"}}}
	if code, m := a.call("PUT", "/v1/automations/closed", body); code != 201 || m["enabled"] != true {
		t.Fatalf("create: %d %v", code, m)
	}
	if code, m := a.call("GET", "/v1/templates/welcome", nil); code != 200 || len(m["automations"].([]any)) != 1 {
		t.Fatalf("template lists its automations: %d %v", code, m)
	}
	if code, m := a.call("PUT", "/v1/automations/bad", map[string]any{"trigger": "item.closed", "action": map[string]any{"kind": "send_email", "template": "nosuch", "to": []string{"assignees"}}}); code != 400 || m["field"] != "action.template" {
		t.Fatalf("unknown template: %d %v", code, m)
	}
	if code, m := a.call("PATCH", "/v1/automations/closed", map[string]any{"enabled": false}); code != 200 || m["enabled"] != false {
		t.Fatalf("disable: %d %v", code, m)
	}
	if code, _ := a.call("DELETE", "/v1/automations/closed", nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := a.call("GET", "/v1/automations/closed", nil); code != 404 {
		t.Fatalf("deleted: %d", code)
	}
}

// Issue 21, item 4: the doubling template of the issue, previewed as a
// draft over the real HTTP server, is refused with its part and line
// (it took 2.2 GB and 6 s at 9 doublings, and killed the daemon at 12),
// and the server answers the next request.
func TestDoublingDraftRefused(t *testing.T) {
	a := newMessagingAPI(t)
	text := `{{$x := printf "%01000000d" 0}}` + strings.Repeat(`{{$x = printf "%s%s" $x $x}}`, 12) + `{{len $x}}`
	code, m := a.call("POST", "/v1/templates/welcome/preview", map[string]any{"subject": "s", "text": text, "html": "<p></p>"})
	if code != 400 || m["field"] != "text" || m["line"] != 1.0 {
		t.Fatalf("preview of the doubling draft: %d %v, want 400 naming text, line 1", code, m)
	}
	if code, _ := a.call("POST", "/v1/templates/welcome/preview", nil); code != 200 {
		t.Fatalf("the next preview: %d", code)
	}
}
