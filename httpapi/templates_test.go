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
}
