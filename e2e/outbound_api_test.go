package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// api calls the daemon's HTTP API with its generated token.
func api(t *testing.T, d *daemon, method, path, body string) map[string]any {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(d.dir, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	callAPI(t, d.HTTP, strings.TrimSpace(string(tok)), method, path, body, &out)
	return out
}

// callAPI calls the API at addr with token, fails the test on an answer
// that is not 2xx, and decodes the JSON answer into out.
func callAPI(t *testing.T, addr, token, method, path, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := apiClient(t, cliTimeout).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
}

// TestSeenOverHTTPKeepsAMessageOutOfTheEmail is SPEC section 4 through the
// web app's API: of two messages, the one acknowledged within the hold is
// not emailed, the other is, and the delivery view says which is which.
func TestSeenOverHTTPKeepsAMessageOutOfTheEmail(t *testing.T) {
	dir := t.TempDir()
	sink := newSMTPSink(t)
	d := startDaemon(t, dir, "--outbound", "relay", "--relay", sink.addr, "--relay-insecure", "--hold", "2s")
	api(t, d, "PUT", "/v1/people/agent", `{"kind":"user","name":"Agent","emails":["agent@example.test"]}`)
	api(t, d, "PUT", "/v1/people/ann", `{"kind":"customer","name":"Ann","emails":["ann@client.test"]}`)
	api(t, d, "PUT", "/v1/conversations/c1", `{"kind":"external","subject":"Printer","followers":["ann"]}`)
	post := func(text string) string {
		r := api(t, d, "POST", "/v1/conversations/c1/messages", `{"author":"agent","text":"`+text+`"}`)
		return r["message"].(map[string]any)["id"].(string)
	}
	first := post("first words")
	// The seen-ack is committed before the next post starts, so the second
	// message's ID (creation time first) sorts after the acknowledged one.
	api(t, d, "POST", "/v1/seen", `{"person":"ann","conversation":"c1","up_to":"`+first+`"}`)
	second := post("second words")
	got := sink.wait(t, 1)
	if len(got) != 1 || strings.Contains(got[0].raw, "first words") || !strings.Contains(got[0].raw, "second words") {
		t.Fatalf("want one email with the second message only, got %d:\n%s", len(got), got[0].raw)
	}
	email := func(msg string) string {
		r := api(t, d, "GET", "/v1/messages/"+msg+"/delivery", "")
		rs := r["recipients"].([]any)
		return rs[0].(map[string]any)["email"].(string)
	}
	if s := email(first); s != "cancelled (seen)" {
		t.Errorf("first: email %q, want cancelled (seen)", s)
	}
	deadline := time.Now().Add(lineTimeout) // the sink has it; the "sent" commit follows
	for s := email(second); s != "sent"; s = email(second) {
		if time.Now().After(deadline) {
			t.Fatalf("second: email %q, want sent", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
