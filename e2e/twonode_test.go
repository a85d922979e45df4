package e2e

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/store/pgtest"
)

// Two nodes on one PostgreSQL database behave as one system. These run on
// PostgreSQL in both passes of the suite (they are about it).

// twoNodes starts nodes A and B on one fresh database, both relaying to
// sink.
func twoNodes(t *testing.T, sink *smtpSink, extra ...string) (a, b *daemon) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	useStore(dirA, url)
	useStore(dirB, url)
	args := append([]string{"--outbound", "relay", "--relay", sink.addr, "--relay-insecure"}, extra...)
	a = startDaemon(t, dirA, args...)
	b = startDaemon(t, dirB, args...)
	return a, b
}

// A message posted on node A, acknowledged on node B within the hold: of
// two messages only the unacknowledged one is emailed, once, by whichever
// node's worker claims the job.
func TestTwoNodesSeenAckOnTheOtherNode(t *testing.T) {
	sink := newSMTPSink(t)
	a, b := twoNodes(t, sink, "--hold", "2s")
	seenAckOnTheOtherNode(t, a, b, sink)
}

// seenAckOnTheOtherNode is TestTwoNodesSeenAckOnTheOtherNode on nodes a
// and b (started with --hold 2s), relaying to sink.
func seenAckOnTheOtherNode(t *testing.T, a, b *daemon, sink *smtpSink) {
	t.Helper()
	ta, _ := os.ReadFile(filepath.Join(a.dir, "api-token"))
	tb, _ := os.ReadFile(filepath.Join(b.dir, "api-token"))
	if len(ta) == 0 || string(ta) != string(tb) {
		t.Fatalf("the nodes do not share the generated API token: %q %q", ta, tb)
	}
	api(t, a, "PUT", "/v1/people/agent", `{"kind":"user","name":"Agent","emails":["agent@example.test"]}`)
	api(t, a, "PUT", "/v1/people/ann", `{"kind":"customer","name":"Ann","emails":["ann@client.test"]}`)
	api(t, b, "PUT", "/v1/conversations/c1", `{"kind":"external","subject":"Printer","followers":["ann"]}`)
	post := func(d *daemon, text string) string {
		r := api(t, d, "POST", "/v1/conversations/c1/messages", `{"author":"agent","text":"`+text+`"}`)
		return r["message"].(map[string]any)["id"].(string)
	}
	first := post(a, "first words")
	api(t, b, "POST", "/v1/seen", `{"person":"ann","conversation":"c1","up_to":"`+first+`"}`)
	second := post(a, "second words")
	got := sink.wait(t, 1)
	if len(got) != 1 || strings.Contains(got[0].raw, "first words") || !strings.Contains(got[0].raw, "second words") {
		t.Fatalf("want one email with the second message only, got %d", len(got))
	}
	// Once the job is recorded sent no node can claim it again (a claim
	// re-reads the job in its write transaction, and those run one at a
	// time across nodes): count then.
	email := func(msg string) string {
		r := api(t, b, "GET", "/v1/messages/"+msg+"/delivery", "")
		return r["recipients"].([]any)[0].(map[string]any)["email"].(string)
	}
	waitfor.Until(t, lineTimeout, "the second email is sent", func() bool { return email(second) == "sent" })
	if s := email(first); s != "cancelled (seen)" {
		t.Errorf("first: email %q on node B, want cancelled (seen)", s)
	}
	n := len(sink.Mails())
	if n != 1 {
		t.Errorf("%d emails out, want exactly 1", n)
	}
}

// The live stream on node B shows a notification created on node A.
func TestTwoNodesLiveStreamSeesTheOtherNode(t *testing.T) {
	sink := newSMTPSink(t)
	a, b := twoNodes(t, sink)
	api(t, a, "PUT", "/v1/people/agent", `{"kind":"user","name":"Agent","emails":["agent@example.test"]}`)
	api(t, a, "PUT", "/v1/people/ann", `{"kind":"customer","name":"Ann","emails":["ann@client.test"]}`)
	api(t, a, "PUT", "/v1/conversations/c1", `{"kind":"external","subject":"Printer","followers":["ann"]}`)
	tok, _ := os.ReadFile(filepath.Join(b.dir, "api-token"))
	req, _ := http.NewRequest("GET", "http://"+b.HTTP+"/v1/people/ann/notifications/stream", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := apiClient(t, 30*time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for l := range lines { // connected: later notifications reach it
		if strings.HasPrefix(l, ": connected") {
			break
		}
	}
	// Node B's listener may still be connecting to the database when the
	// stream opens; posts go on until one is heard (at most a few).
	deadline := time.After(lineTimeout)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	msg := api(t, a, "POST", "/v1/conversations/c1/messages", `{"author":"agent","text":"hello"}`)["message"].(map[string]any)["id"].(string)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if strings.HasPrefix(l, "id: ") {
				return // a notification created on node A
			}
		case <-tick.C:
			msg = api(t, a, "POST", "/v1/conversations/c1/messages", `{"author":"agent","text":"again"}`)["message"].(map[string]any)["id"].(string)
		case <-deadline:
			t.Fatalf("node B's stream never showed a notification created on node A (last %s)", msg)
		}
	}
}
