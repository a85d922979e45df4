package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// LogPageSize is how many lines one page of /log shows.
const LogPageSize = 50

// logView is the data of /log.
type logView struct {
	Entries []journal.Entry
	Query   url.Values
	Next    string // the URL of the older page, "" at the end
	Newer   bool
	Hours   int
}

func (s *Server) logFilter(q url.Values) (journal.Filter, string, int, error) {
	f := journal.Filter{Direction: journal.Direction(q.Get("direction")), Status: q.Get("status"),
		Class: q.Get("class"), Address: strings.TrimSpace(q.Get("address")), Attention: q.Get("attention") == "1"}
	if f.Direction != "" && f.Direction != journal.In && f.Direction != journal.Out {
		return f, "", 0, errors.New("direction must be in or out")
	}
	hours := int(s.retention() / time.Hour)
	if h := q.Get("hours"); h != "" {
		if _, err := fmt.Sscan(h, &hours); err != nil || hours <= 0 || hours > 24*366 {
			return f, "", 0, errors.New("hours must be a positive number")
		}
	}
	f.Since = s.Clock.Now().Add(-time.Duration(hours) * time.Hour)
	text := strings.TrimSpace(q.Get("q"))
	if len(text) > 200 || len(f.Address) > 320 {
		return f, "", 0, errors.New("the search text is too long")
	}
	return f, text, hours, nil
}

func (s *Server) retention() time.Duration {
	if s.Retention > 0 {
		return s.Retention
	}
	return 72 * time.Hour
}

// logPage is the 72-hour log, newest first. With partial=1 it answers
// only the rows (the live tail of console.js fetches them).
func (s *Server) logPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, text, hours, err := s.logFilter(q)
	v := logView{Query: q, Hours: hours, Newer: q.Get("before") != ""}
	if err != nil {
		s.render(w, r, http.StatusBadRequest, "log", page{Title: "Log", Nav: "log", Error: err.Error(), Data: v})
		return
	}
	before := q.Get("before")
	if before != "" {
		if _, err := journal.ParseID(before); err != nil {
			s.render(w, r, http.StatusBadRequest, "log", page{Title: "Log", Nav: "log", Error: "bad page cursor", Data: v})
			return
		}
	}
	entries, next, err := journal.Page(r.Context(), s.DB, f, text, before, LogPageSize)
	if err != nil {
		s.internal(w, r, "read the log", err)
		return
	}
	v.Entries = entries
	if next != "" {
		nq := url.Values{}
		for k, vs := range q {
			if k != "before" && k != "partial" {
				nq[k] = vs
			}
		}
		nq.Set("before", next)
		v.Next = "/log?" + nq.Encode()
	}
	name := "log"
	if q.Get("partial") == "1" {
		name = "logrows"
	}
	s.render(w, r, http.StatusOK, name, page{Title: "Log", Nav: "log", Data: v})
}

// logEntry shows one line of the log with everything it holds, and where
// it led: the message an inbound email became, the job of an outbound one.
func (s *Server) logEntry(w http.ResponseWriter, r *http.Request) {
	e, err := journal.Get(r.Context(), s.DB, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, http.StatusNotFound, "There is no such log entry (it may have been pruned).")
		return
	}
	msg := ""
	if e.Direction == journal.Out && len(e.Messages) > 0 {
		msg = e.Messages[0]
	} else if e.Direction == journal.In {
		_ = s.DB.View(r.Context(), func(tx *store.Tx) error { msg = messageOf(tx, e); return nil })
	}
	if msg != "" && r.URL.Query().Get("go") == "message" {
		http.Redirect(w, r, "/messages/"+url.PathEscape(msg), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "entry", page{Title: "Log entry", Nav: "log",
		Data: struct {
			E       journal.Entry
			Message string
		}{e, msg}})
}

// messageOf finds the conversation message an inbound email became: the
// one of its conversation whose original is the stored email. Message IDs
// sort by time, so the search starts at the email's arrival.
func messageOf(tx *store.Tx, e journal.Entry) string {
	if e.Conversation == "" || e.StoredID == "" {
		return ""
	}
	from := fmt.Sprintf("%016x", uint64(e.Time.Add(-time.Minute).UnixNano()))
	ms, _, err := model.MessagesAfter(tx, e.Conversation, from, 500, 1<<30)
	if err != nil {
		return ""
	}
	for _, m := range ms {
		if m.Original == e.StoredID {
			return m.ID
		}
	}
	return ""
}
