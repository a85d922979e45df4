// Package webclient is what a browser loads from deskmail: client.js, the
// dependency-free ES module a web app imports to show a person's
// notifications live and post seen-acks only when the person saw the
// message (docs/WEBAPP.md), and the demo messenger built on it (served at
// /demo/ with `serve --demo`).
package webclient

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// ClientJS is client.js, served at GET /v1/client.js.
//
//go:embed client.js
var ClientJS []byte

//go:embed demo
var demoFiles embed.FS

// Demo serves the demo messenger under /demo/. The page reads its person
// token from the URL's fragment (#token=...), which browsers never send to
// a server, so it stays out of access logs.
func Demo() http.Handler {
	sub, err := fs.Sub(demoFiles, "demo")
	if err != nil {
		panic(err) // the embedded folder is part of the build
	}
	files := http.StripPrefix("/demo/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/demo" {
			http.Redirect(w, r, "/demo/", http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Scripts from this server only; connections to it only.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; media-src 'self' data:; frame-ancestors 'none'")
		if strings.HasSuffix(r.URL.Path, ".js") {
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		}
		files.ServeHTTP(w, r)
	})
}
