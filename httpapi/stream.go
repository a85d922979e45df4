package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// Live stream bounds. Each stream holds a goroutine, a connection and a
// hub subscription for as long as the client stays, so they are counted.
const (
	// DefaultMaxStreamsPerPerson: a person with a few tabs and devices
	// open; more is a client that leaks connections.
	DefaultMaxStreamsPerPerson = 8
	// DefaultMaxStreams bounds all streams together.
	DefaultMaxStreams = 1000
	// DefaultStreamHeartbeat is shorter than the 30-60 s idle timeouts
	// common in proxies and load balancers.
	DefaultStreamHeartbeat = 25 * time.Second
	// streamWriteTimeout cuts a client that stopped reading: its writes
	// would otherwise block the handler forever once the socket buffer is
	// full.
	streamWriteTimeout = 10 * time.Second
	// streamRetryMillis is the reconnection delay the stream suggests to
	// EventSource clients.
	streamRetryMillis = 3000
	// MaxStreamReplay bounds the notifications a reconnecting stream
	// replays after its Last-Event-ID; a client further behind re-reads
	// the inbox.
	MaxStreamReplay = 100
)

// streamCounter counts open streams per person and in all.
type streamCounter struct {
	mu       sync.Mutex
	total    int
	byPerson map[string]int
}

// acquire takes a stream slot, or answers which bound is reached.
func (c *streamCounter) acquire(person string, perPerson, max int) (release func(), perPersonFull, allFull bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total >= max {
		return nil, false, true
	}
	if c.byPerson[person] >= perPerson {
		return nil, true, false
	}
	if c.byPerson == nil {
		c.byPerson = map[string]int{}
	}
	c.total++
	c.byPerson[person]++
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.total--
		if c.byPerson[person]--; c.byPerson[person] == 0 {
			delete(c.byPerson, person)
		}
	}, false, false
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// streamNotifications is GET /v1/people/{id}/notifications/stream: one
// Server-Sent Event per new notification of the person
// (https://html.spec.whatwg.org/multipage/server-sent-events.html),
//
//	event: notification
//	id: MESSAGE-ID
//	data: {"person":...,"message":...,...}
//
// a comment line as heartbeat, and nothing else. A client that fell more
// than messaging.SubscriberBuffer events behind loses some; it re-reads
// GET /v1/people/{id}/notifications after reconnecting, which is also
// how it catches up on what happened while it was away.
func (s *Server) streamNotifications(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	if err := s.DB.View(func(tx *store.Tx) error { _, err := model.GetPerson(tx, id); return err }); err != nil {
		s.writeStoreError(w, r, "stream", err)
		return
	}
	release, personFull, allFull := s.streams.acquire(id,
		orDefault(s.MaxStreamsPerPerson, DefaultMaxStreamsPerPerson), orDefault(s.MaxStreams, DefaultMaxStreams))
	switch {
	case personFull:
		writeError(w, http.StatusTooManyRequests, "", "too many live streams for this person")
		return
	case allFull:
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "", "too many live streams")
		return
	}
	defer release()

	// Subscribe before the 200, so a client that has read the first lines
	// knows every later notification reaches it.
	events, cancel := s.Messaging.Hub.Subscribe(id)
	defer cancel()
	var stop <-chan struct{}
	if s.Streams != nil {
		stop = s.Streams.Done()
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if !s.sendEvent(w, rc, "retry: "+strconv.Itoa(streamRetryMillis)+"\n: connected\n\n") {
		return
	}
	replayed, ok := s.replay(w, r, rc, id)
	if !ok {
		return
	}
	heartbeat := orDefault(s.StreamHeartbeat, DefaultStreamHeartbeat)
	// A person token's stream ends when the token does: at its expiry, or
	// at the first heartbeat after a revocation. The client reconnects
	// with a new token.
	var expired <-chan time.Time
	claims, byPersonToken := claimsOf(r)
	if byPersonToken {
		expired = s.Clock.After(claims.Expires.Sub(s.Clock.Now()))
	}
	for {
		select {
		case <-expired:
			return
		case <-r.Context().Done():
			return
		case <-stop:
			return
		case n := <-events:
			if replayed[n.Message] {
				continue
			}
			if !s.sendNotification(w, rc, n) {
				return
			}
		case <-s.Clock.After(heartbeat):
			if byPersonToken && !s.stillValid(r) {
				return
			}
			if !s.sendEvent(w, rc, ": heartbeat\n\n") {
				return
			}
		}
	}
}

// replay sends, oldest first, the person's notifications newer than the
// message the client saw last: the Last-Event-ID header EventSource sends
// when it reconnects, or last_event_id in the query for a client that
// opens a new EventSource (client.js, after a new token). Message IDs
// sort by time. It answers what it sent, so the live events that were
// also in the store when it read are not sent twice.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, person string) (map[string]bool, bool) {
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	if !model.ValidID(last) {
		return nil, true
	}
	var ns []model.Notification
	if err := s.DB.View(func(tx *store.Tx) error {
		var err error
		ns, _, err = model.Inbox(tx, person, MaxStreamReplay)
		return err
	}); err != nil {
		s.Log.Warn("stream replay", "err", err)
		return nil, true // the client re-reads the inbox on its own
	}
	sent := map[string]bool{}
	for i := len(ns) - 1; i >= 0; i-- {
		if ns[i].Message <= last {
			continue
		}
		if !s.sendNotification(w, rc, ns[i]) {
			return nil, false
		}
		sent[ns[i].Message] = true
	}
	return sent, true
}

func (s *Server) sendNotification(w http.ResponseWriter, rc *http.ResponseController, n model.Notification) bool {
	b, err := json.Marshal(notificationView(n))
	if err != nil {
		s.Log.Error("encode notification", "err", err)
		return false
	}
	return s.sendEvent(w, rc, fmt.Sprintf("event: notification\nid: %s\ndata: %s\n\n", n.Message, b))
}

// sendEvent writes and flushes one event within streamWriteTimeout; false
// means the client is gone or stuck and the stream ends.
func (s *Server) sendEvent(w http.ResponseWriter, rc *http.ResponseController, text string) bool {
	// The deadline is on the connection, in wall time, whatever s.Clock is.
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := fmt.Fprint(w, text); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// stillValid re-checks the request's person token (a revocation since the
// stream opened).
func (s *Server) stillValid(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = r.URL.Query().Get(accessTokenParam)
	}
	var err error
	if verr := s.DB.View(func(tx *store.Tx) error { _, err = s.PersonTokens.Check(tx, tok); return nil }); verr != nil {
		return true // the store is down: the stream's own errors will tell
	}
	return err == nil
}
