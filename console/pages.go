package console

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/story"
)

// messagePage is the delivery story of one message (package story).
func (s *Server) messagePage(w http.ResponseWriter, r *http.Request) {
	person := r.URL.Query().Get("person")
	if len(person) > 200 {
		person = ""
	}
	st, err := story.BuildStory(r.Context(), s.DB, r.PathValue("id"), person, s.Clock.Now().Add(-s.retention()))
	if errors.Is(err, story.ErrNoMessage) {
		s.fail(w, r, http.StatusNotFound, "There is no such message.")
		return
	}
	if err != nil {
		s.internal(w, r, "read the message", err)
		return
	}
	s.render(w, r, http.StatusOK, "message", page{Title: "Message " + st.Message.ID, Nav: "log", Data: st})
}

// MaxStatusErrors is how many recent errors the status page lists.
const MaxStatusErrors = 20

// statusView is the data of /status.
type statusView struct {
	Daemon    DaemonInfo
	Uptime    time.Duration
	Jobs      map[string]int
	Pending   int
	StoreSize int64
	Spool     int64
	Errors    []journal.Entry
	Retention time.Duration
	Mailboxes []MailboxInfo
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	v := statusView{Retention: s.retention()}
	if s.Daemon != nil {
		v.Daemon = s.Daemon()
		if v.Daemon.Mailboxes != nil {
			v.Mailboxes = v.Daemon.Mailboxes()
		}
		if !v.Daemon.Started.IsZero() {
			v.Uptime = s.Clock.Now().Sub(v.Daemon.Started).Truncate(time.Second)
		}
	}
	err := s.DB.View(r.Context(), func(tx *store.Tx) error {
		counts, err := queue.Counts(tx)
		v.Jobs = map[string]int{}
		for st, n := range counts {
			v.Jobs[string(st)] = n
		}
		return err
	})
	if err != nil {
		s.internal(w, r, "count the queue", err)
		return
	}
	pending, err := inbound.Pending(r.Context(), s.DB, 100000)
	if err != nil {
		s.internal(w, r, "count the pending emails", err)
		return
	}
	v.Pending = len(pending)
	v.StoreSize = s.DB.Size()
	v.Spool = dirSize(filepath.Join(s.DB.Dir(), "spool"))
	// Recent errors: the log's failures, newest first.
	since := s.Clock.Now().Add(-24 * time.Hour)
	for _, st := range []string{journal.StatusFailed, journal.StatusDeferred, journal.StatusBounced, journal.StatusRejected, journal.StatusSuppressed} {
		es, _, err := journal.Page(r.Context(), s.DB, journal.Filter{Since: since, Status: st}, "", "", MaxStatusErrors)
		if err != nil {
			s.internal(w, r, "read the log", err)
			return
		}
		v.Errors = append(v.Errors, es...)
	}
	sortNewest(v.Errors)
	if len(v.Errors) > MaxStatusErrors {
		v.Errors = v.Errors[:MaxStatusErrors]
	}
	s.render(w, r, http.StatusOK, "status", page{Title: "Status", Nav: "status", Data: v})
}

func sortNewest(es []journal.Entry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].ID > es[j-1].ID; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// dirSize adds up the files of a folder (the spool of large bodies).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// MaxAuditRows is how many audit records /audit shows.
const MaxAuditRows = 200

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	as, err := store.ViewValue(r.Context(), s.DB, func(tx *store.Tx) ([]journal.Audit, error) { return journal.Audits(tx, MaxAuditRows, "") })
	if err != nil {
		s.internal(w, r, "read the audit trail", err)
		return
	}
	s.render(w, r, http.StatusOK, "audit", page{Title: "Audit trail", Nav: "audit", Data: as})
}
