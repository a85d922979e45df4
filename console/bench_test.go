package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// benchLog fills the log with n lines a second apart, the newest now.
func benchLog(b *testing.B, n int) (*fixture, *http.Cookie) {
	b.Helper()
	f := newFixture(b)
	start := f.clk.Now().Add(-time.Duration(n) * time.Second)
	for i := 0; i < n; i += 1000 {
		f.update(func(tx *store.Tx) error {
			for j := i; j < i+1000 && j < n; j++ {
				e := &journal.Entry{Time: start.Add(time.Duration(j) * time.Second), Direction: journal.In, Status: journal.StatusReceived,
					Class: "human", EnvelopeFrom: fmt.Sprintf("c%d@example.org", j), EnvelopeTo: []string{"support@example.test"},
					Subject: fmt.Sprintf("Question %d about the printer", j), Action: "appended to conversation c1"}
				if err := journal.Append(tx, e); err != nil {
					return err
				}
			}
			return nil
		})
	}
	c, _ := f.session("victor")
	u, _ := http.NewRequest(http.MethodGet, f.srv.URL, nil)
	return f, c.Jar.Cookies(u.URL)[0]
}

// BenchmarkLogPage renders /log over 20000 lines: the first page, a
// filter that matches one line in a hundred, and a text search that
// matches nothing (the scan budget, MaxPageScan, bounds it).
func BenchmarkLogPage(b *testing.B) {
	f, ck := benchLog(b, 20000)
	for _, q := range []string{"", "?address=c1234", "?q=no-such-text"} {
		b.Run("query="+q, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/log"+q, nil)
				req.AddCookie(ck)
				rec := httptest.NewRecorder()
				f.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
