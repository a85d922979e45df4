// Package httpapi is deskmail's HTTP API for the web app and for
// operators: people and their settings, projects, items, conversations and
// their messages, the messenger inbox with its live stream (Server-Sent
// Events), seen-acknowledgements and delivery state; the incoming/outgoing
// log, message submission for `deskmail deliver`, health probes and
// Prometheus metrics. docs/API.md documents every endpoint.
//
// Server holds what the handlers need; Handler returns the routes. Every
// write is answered only once the store has committed it (store.DB.Update
// returns after the fsync), so a 2xx means durable.
//
// Every endpoint but the health probes requires "Authorization: Bearer
// TOKEN". The same handler is also served on a unix socket in the data
// folder (mode 0600), where the file permission is the authentication:
// that is how the CLI talks to a running daemon.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/persontoken"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/version"
)

// Receiver stores a submitted message (the inbound package's Receiver).
type Receiver interface {
	Receive(ctx context.Context, env inbound.Envelope, data io.Reader) (inbound.Receipt, error)
}

// Server holds what the handlers need.
type Server struct {
	DB       *store.DB
	Receiver Receiver
	Domains  inbound.Domains
	// Recipients, when set, refuses addresses of Domains that take no mail
	// (as SMTP does at RCPT); threading.Addresses is one.
	Recipients interface {
		Check(addr string) (kind string, err error)
	}
	Token           string
	Clock           clock.Clock
	Log             *slog.Logger
	MaxMessageBytes int64
	// Ready reports whether the daemon accepts mail (listeners up, store open).
	Ready func() bool
	// ReadyDetails, if set, adds to /readyz's answer (the IMAP mailboxes'
	// states); a failing detail does not make the node unready.
	ReadyDetails func() map[string]any

	// Messaging posts messages, seen-acks and retractions; its Hub feeds
	// the live notification streams.
	Messaging *messaging.Service
	// DeliveryStatus tells the email status of a message for one
	// recipient (held, cancelled, sent...). Nil until the hold queue is
	// wired: every recipient then shows "not_sent". ctx is the request's.
	DeliveryStatus func(ctx context.Context, messageID, person string) string
	// Streams ends every live notification stream when it is done. The
	// daemon cancels it as HTTP shutdown begins: a stream never goes idle
	// by itself, so http.Server.Shutdown would otherwise wait for it.
	Streams context.Context
	// StreamHeartbeat is how often an idle stream gets a comment line, so
	// proxies and clients see the connection alive (default 25s).
	StreamHeartbeat time.Duration
	// MaxStreamsPerPerson and MaxStreams bound live streams (defaults
	// DefaultMaxStreamsPerPerson and DefaultMaxStreams).
	MaxStreamsPerPerson int
	MaxStreams          int

	// Center handles POST /v1/events (nil: 503).
	Center *center.Service

	// PersonTokens signs and checks person-scoped tokens (nil: none are
	// minted or taken).
	PersonTokens *persontoken.Keyring
	// CORSOrigins may call the browser routes from their pages.
	CORSOrigins []string

	streams streamCounter
}

// Handler returns the API. trusted skips the Bearer check (the unix
// socket, whose file mode already restricts who can connect).
func (s *Server) Handler(trusted bool) http.Handler {
	mux := http.NewServeMux()
	s.routes(mux, trusted)
	if trusted {
		return jsonFallback(mux)
	}
	return s.cors(jsonFallback(mux))
}

func (s *Server) routes(mux router, trusted bool) {
	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("GET /livez", s.health)
	mux.HandleFunc("GET /readyz", s.ready)
	// What a web app's developer and browser fetch: no token.
	mux.HandleFunc("GET /v1/openapi.json", s.openAPI)
	mux.HandleFunc("GET /v1/client.js", s.clientJS)
	g := guard{s: s, trusted: trusted}
	auth := g.api
	mux.Handle("GET /metrics", auth(promhttp.Handler()))
	mux.Handle("GET /v1/log", auth(http.HandlerFunc(s.getLog)))
	mux.Handle("POST /v1/inbound", auth(http.HandlerFunc(s.postInbound)))
	if trusted {
		// Profiling only on the control socket: it exposes internals.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	s.messagingRoutes(mux, g)
	s.templateRoutes(mux, auth)
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// buildVersion is in /readyz, so a load balancer's or an operator's probe
// also says which build answered (a rolling upgrade half done).
var buildVersion = version.Get().Short()

func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	if s.Ready != nil && !s.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting or stopping", "version": buildVersion})
		return
	}
	body := map[string]any{"status": "ready", "version": buildVersion}
	if s.ReadyDetails != nil {
		for k, v := range s.ReadyDetails() {
			body[k] = v
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// LogResponse is the body of GET /v1/log.
type LogResponse struct {
	Entries []journal.Entry `json:"entries"`
	// Cursor is the ID of the last entry: pass it as after= to follow.
	Cursor string `json:"cursor,omitempty"`
}

func (s *Server) getLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := journal.Filter{
		Direction: journal.Direction(q.Get("direction")),
		Status:    q.Get("status"),
		Class:     q.Get("class"),
		Address:   q.Get("address"),
		After:     q.Get("after"),
		Attention: q.Get("attention") == "1",
	}
	if f.Direction != "" && f.Direction != journal.In && f.Direction != journal.Out {
		writeError(w, http.StatusBadRequest, "direction", "must be in or out")
		return
	}
	hours := 72.0
	if h := q.Get("hours"); h != "" {
		v, err := strconv.ParseFloat(h, 64)
		if err != nil || v <= 0 || v > 24*366 {
			writeError(w, http.StatusBadRequest, "hours", "must be a positive number of hours")
			return
		}
		hours = v
	}
	f.Since = s.Clock.Now().Add(-time.Duration(hours * float64(time.Hour)))
	if l := q.Get("limit"); l != "" {
		v, err := strconv.Atoi(l)
		if err != nil || v <= 0 || v > 10000 {
			writeError(w, http.StatusBadRequest, "limit", "must be between 1 and 10000")
			return
		}
		f.Limit = v
	}
	if f.After != "" {
		if _, err := journal.ParseID(f.After); err != nil {
			writeError(w, http.StatusBadRequest, "after", "not an entry id")
			return
		}
	}
	entries, err := journal.Query(r.Context(), s.DB, f)
	if err != nil {
		s.Log.Error("query log", "err", err)
		writeError(w, http.StatusInternalServerError, "", "could not read the log")
		return
	}
	resp := LogResponse{Entries: entries}
	if entries == nil {
		resp.Entries = []journal.Entry{}
	}
	if n := len(entries); n > 0 {
		resp.Cursor = entries[n-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
}

// InboundResponse is the body of a successful POST /v1/inbound.
type InboundResponse struct {
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate"`
	MessageID string `json:"message_id,omitempty"`
}

// postInbound stores a raw message: the envelope is in the query
// (mail_from, rcpt repeated), the message is the body. 200 only once durable.
func (s *Server) postInbound(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rcpts := q["rcpt"]
	if len(rcpts) == 0 {
		writeError(w, http.StatusBadRequest, "rcpt", "at least one recipient is required")
		return
	}
	if len(rcpts) > 100 {
		writeError(w, http.StatusBadRequest, "rcpt", "at most 100 recipients")
		return
	}
	for _, rc := range rcpts {
		if !s.Domains.Accepts(rc) {
			writeError(w, http.StatusBadRequest, "rcpt", "not an address of a domain deskmail accepts mail for: "+rc)
			return
		}
		if s.Recipients != nil {
			if _, err := s.Recipients.Check(rc); err != nil {
				writeError(w, http.StatusBadRequest, "rcpt", "recipient "+rc+": "+err.Error())
				return
			}
		}
	}
	proto := q.Get("proto")
	if proto != "deliver" {
		proto = "HTTP"
	}
	env := inbound.Envelope{MailFrom: q.Get("mail_from"), Rcpts: rcpts, Proto: proto, RemoteIP: RemoteHost(r)}
	body := http.MaxBytesReader(w, r.Body, s.MaxMessageBytes+1)
	rc, err := s.Receiver.Receive(r.Context(), env, body)
	var mbe *http.MaxBytesError
	var te *inbound.TempError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, InboundResponse{ID: rc.ID, Duplicate: rc.Duplicate, MessageID: rc.MessageID})
	case errors.Is(err, inbound.ErrTooLarge), errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "body", "message over the size limit")
	case errors.Is(err, inbound.ErrHeaderTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "body", "message header over the size limit")
	case errors.Is(err, inbound.ErrBusy):
		s.Log.Warn("submitted message deferred: backlog over its bound", "reason", err.Error())
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
	case errors.As(err, &te):
		s.Log.Error("store submitted message", "err", err)
		writeError(w, http.StatusServiceUnavailable, "", "temporary failure, try again")
	default:
		writeError(w, http.StatusBadRequest, "body", "could not read the message")
	}
}

// RemoteHost is the client's IP address without its port ("local" on
// the control socket), for logs, audit records and per-IP limits.
func RemoteHost(r *http.Request) string {
	h := r.RemoteAddr
	if i := strings.LastIndexByte(h, ':'); i > 0 {
		h = strings.Trim(h[:i], "[]")
	}
	if h == "" || h == "@" {
		return "local"
	}
	return h
}

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, code int, field, msg string) {
	writeJSON(w, code, ErrorBody{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	// Message HTML reads as written; a JSON body is never parsed as HTML.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
