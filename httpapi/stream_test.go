package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/httplimit"
)

// wait bounds every wait on the stream: a test never sleeps, it waits for
// a line and fails if none comes in time.
const wait = 10 * time.Second

// sseClient is an open stream whose lines arrive on a channel, closed when
// the stream ends.
type sseClient struct {
	lines  chan string
	cancel context.CancelFunc
	resp   *http.Response
}

func (a *api) openStream(person string) (*sseClient, *http.Response) {
	a.t.Helper()
	return a.openStreamAt("/v1/people/"+person+"/notifications/stream", token)
}

// openStreamAt opens path with tok in the Authorization header (none when
// empty: a browser's EventSource).
func (a *api) openStreamAt(path, tok string, hdr ...string) (*sseClient, *http.Response) {
	a.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		cancel()
		a.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		cancel()
		return nil, resp
	}
	c := &sseClient{lines: make(chan string, 100), cancel: cancel, resp: resp}
	go func() {
		defer close(c.lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	a.t.Cleanup(cancel)
	return c, resp
}

// until reads lines until one has the prefix, and returns it.
func (c *sseClient) until(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("stream ended while waiting for %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q line within %s", prefix, wait)
		}
	}
}

// ended waits for the stream to close.
func (c *sseClient) ended(t *testing.T) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case _, ok := <-c.lines:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("stream still open after %s", wait)
		}
	}
}

func TestStreamReceivesNotificationPostedByAnotherRequest(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	c, resp := a.openStream("agent")
	if c == nil {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	c.until(t, ": connected") // subscribed from here on

	a.post("c1", "agent", "the agent's own message notifies others only")
	id := a.post("c1", "ann", "my printer is on fire")

	if ev := c.until(t, "event: "); ev != "event: notification" {
		t.Errorf("event line %q", ev)
	}
	if l := c.until(t, "id: "); l != "id: "+id {
		t.Errorf("id line %q, want the customer's message %s (never the agent's own)", l, id)
	}
	var n NotificationView
	if err := json.Unmarshal([]byte(strings.TrimPrefix(c.until(t, "data: "), "data: ")), &n); err != nil {
		t.Fatal(err)
	}
	if n.Person != "agent" || n.Message != id || n.Conversation != "c1" || n.Reason == "" || n.NotifiedAt.IsZero() || n.SeenAt != nil {
		t.Errorf("notification = %+v", n)
	}

	// The daemon's shutdown ends the stream.
	a.stop()
	c.ended(t)
}

func TestStreamHeartbeat(t *testing.T) {
	a := newMessagingAPI(t, func(s *Server) { s.StreamHeartbeat = time.Millisecond })
	a.helpdesk()
	c, _ := a.openStream("agent")
	c.until(t, ": connected")
	c.until(t, ": heartbeat")
}

func TestStreamLimits(t *testing.T) {
	a := newMessagingAPI(t, func(s *Server) { s.MaxStreamsPerPerson, s.MaxStreams = 1, 2 })
	a.helpdesk()
	first, _ := a.openStream("agent")
	first.until(t, ": connected")
	if c, resp := a.openStream("agent"); c != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second stream of one person: %d, want 429", resp.StatusCode)
	}
	other, _ := a.openStream("boss")
	other.until(t, ": connected")
	if c, resp := a.openStream("ann"); c != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a stream over the total: %d, want 503 with Retry-After", resp.StatusCode)
	}

	// A client that goes away frees its slot.
	first.cancel()
	first.ended(t)
	deadline := time.Now().Add(wait)
	for a.openStreams() > 1 {
		if time.Now().After(deadline) {
			t.Fatal("the server kept the stream of a client that left")
		}
		runtime.Gosched()
	}
	again, resp := a.openStream("agent")
	if again == nil {
		t.Fatalf("stream after the first left: %d", resp.StatusCode)
	}
	again.until(t, ": connected")
}

func (a *api) openStreams() int {
	a.s.streams.mu.Lock()
	defer a.s.streams.mu.Unlock()
	return a.s.streams.total
}

// TestStreamReplaysAfterLastEventID: a reconnecting client names the last
// notification it got; the stream first sends the ones it missed, oldest
// first, then the live ones.
func TestStreamReplaysAfterLastEventID(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	for _, byHeader := range []bool{true, false} {
		t.Run(map[bool]string{true: "EventSource's header", false: "query"}[byHeader], func(t *testing.T) {
			first := a.post("c1", "ann", "one")
			second := a.post("c1", "ann", "two")
			third := a.post("c1", "ann", "three")
			path, hdr := "/v1/people/agent/notifications/stream?last_event_id="+first, []string(nil)
			if byHeader {
				path, hdr = "/v1/people/agent/notifications/stream", []string{"Last-Event-ID", first}
			}
			c, resp := a.openStreamAt(path, token, hdr...)
			if c == nil {
				t.Fatalf("open: %d", resp.StatusCode)
			}
			if got := c.until(t, "id: "); got != "id: "+second {
				t.Fatalf("first replayed %q, want %s", got, second)
			}
			if got := c.until(t, "id: "); got != "id: "+third {
				t.Fatalf("then %q, want %s", got, third)
			}
			live := a.post("c1", "ann", "live")
			if got := c.until(t, "id: "); got != "id: "+live {
				t.Fatalf("live %q, want %s", got, live)
			}
		})
	}
}

// The live stream outlives the listener's read and write deadlines
// (httplimit, issue 21 item 8): net/http lifts the read deadline once a
// request without body is read, and sendEvent sets a write deadline per
// event.
func TestStreamOutlivesTheListenerDeadlines(t *testing.T) {
	a := newMessagingAPI(t, func(s *Server) { s.StreamHeartbeat = 50 * time.Millisecond })
	lim := httplimit.Limits{ReadHeaderTimeout: 150 * time.Millisecond, ReadTimeout: 150 * time.Millisecond, WriteTimeout: 150 * time.Millisecond}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = httplimit.Server(a.s.Handler(false), lim)
	ts.Listener = httplimit.Listener(ts.Listener, lim)
	ts.Start()
	t.Cleanup(ts.Close)
	a.helpdesk()
	b := *a
	b.srv, b.client = ts, ts.Client()
	c, resp := b.openStream("agent")
	if c == nil {
		t.Fatalf("stream: %s", resp.Status)
	}
	for range 10 { // 10 heartbeats: 500 ms, past both deadlines
		c.until(t, ": heartbeat")
	}
}
