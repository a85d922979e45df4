package httpapi

import (
	"net/http"
)

// messagingRoutes are the endpoints of the web app (docs/API.md).
func (s *Server) messagingRoutes(mux router, g guard) {
	h := func(pattern string, fn http.HandlerFunc) { mux.Handle(pattern, g.api(fn)) }
	h("PUT /v1/people/{id}", s.putPerson)
	h("GET /v1/people/{id}", s.getPerson)
	h("PATCH /v1/people/{id}/settings", s.patchSettings)
	// The browser's routes: a person token of {id} may use them too.
	mux.Handle("GET /v1/people/{id}/notifications", g.person(http.HandlerFunc(s.getNotifications)))
	mux.Handle("GET /v1/people/{id}/notifications/stream", g.personStream(http.HandlerFunc(s.streamNotifications)))
	h("POST /v1/people/{id}/tokens", s.postPersonToken)
	h("DELETE /v1/people/{id}/tokens", s.revokePersonTokens)
	h("PUT /v1/projects/{id}", s.putProject)
	h("GET /v1/projects/{id}", s.getProject)
	h("PUT /v1/items/{id}", s.putItem)
	h("GET /v1/items/{id}", s.getItem)
	h("PUT /v1/conversations/{id}", s.putConversation)
	h("GET /v1/conversations/{id}", s.getConversation)
	h("POST /v1/conversations/{id}/messages", s.postMessage)
	h("GET /v1/conversations/{id}/messages", s.getMessages)
	h("DELETE /v1/messages/{id}", s.retractMessage)
	h("GET /v1/messages/{id}/delivery", s.getDelivery)
	h("GET /v1/messages/{id}/original", s.getOriginal)
	mux.Handle("POST /v1/seen", g.personAck(http.HandlerFunc(s.postSeen)))
}

// jsonFallback answers the mux's own 404 (no such path) and 405 (path
// known, method not) in the API's JSON error shape instead of the mux's
// plain text, keeping the Allow header the mux computed.
func jsonFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.code {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, "", "method not allowed; allowed: "+rec.header.Get("Allow"))
		case http.StatusNotFound:
			writeError(w, http.StatusNotFound, "", "no such endpoint")
		default:
			// A redirect or anything else the mux decides: pass it on as is.
			mux.ServeHTTP(w, r)
		}
	})
}

// headerRecorder keeps the status and headers of the mux's fallback
// handlers and drops their plain-text body.
type headerRecorder struct {
	header http.Header
	code   int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) WriteHeader(code int) {
	if h.code == 0 {
		h.code = code
	}
}
func (h *headerRecorder) Write(p []byte) (int, error) {
	if h.code == 0 {
		h.code = http.StatusOK
	}
	return len(p), nil
}
