package httpapi

import (
	"net/http"
	"slices"

	"github.com/deskmail/deskmail/docs"
	"github.com/deskmail/deskmail/webclient"
)

// openAPI serves the API's OpenAPI 3.1 document (docs/openapi.json).
func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(docs.OpenAPI)
}

// clientJS serves the browser client (docs/WEBAPP.md).
func (s *Server) clientJS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(webclient.ClientJS)
}

// browserRoutes are the paths a page of a cors-origins origin may call:
// the person-token routes and the two public files. Nothing else answers
// CORS, so a page can never use the API token's routes even if it got
// hold of the token.
var browserRoutes = func() *http.ServeMux {
	m := http.NewServeMux()
	for _, p := range []string{"/v1/people/{id}/notifications", "/v1/people/{id}/notifications/stream",
		"/v1/seen", "/v1/client.js", "/v1/openapi.json"} {
		m.Handle(p, http.NotFoundHandler())
	}
	return m
}()

// CORS preflight answers.
const (
	corsMethods = "GET, POST"
	corsHeaders = "Authorization, Content-Type, Last-Event-ID"
	corsMaxAge  = "600"
)

// cors answers cross-origin requests from the cors-origins pages on the
// browser routes. No Access-Control-Allow-Credentials: the browser sends
// its person token in the Authorization header or the stream's query,
// never a cookie, so no request needs credentials mode.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		_, pattern := browserRoutes.Handler(r)
		allowed := pattern != "" && slices.Contains(s.CORSOrigins, origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		if !allowed {
			writeError(w, http.StatusForbidden, "", "cross-origin requests from "+origin+" are not allowed here (cors-origins; only the browser routes answer them)")
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", corsMethods)
		h.Set("Access-Control-Allow-Headers", corsHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}
