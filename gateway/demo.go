package gateway

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/deskmail/deskmail/webclient"
)

// withDemo serves the demo messenger at /demo/ in front of h when on
// (`serve --demo`); off, /demo/ is the console's like any other path.
func withDemo(on bool, h http.Handler, log *slog.Logger) http.Handler {
	if !on {
		return h
	}
	log.Warn("demo messenger on at /demo/ (evaluation only; open it with a person token: docs/WEBAPP.md)")
	demo := webclient.Demo()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/demo" || strings.HasPrefix(r.URL.Path, "/demo/") {
			demo.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
