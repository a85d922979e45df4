package queue

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// Admin is the queue's part of the control socket API, which `deskmail
// queue` talks to while the daemon runs:
//
//	GET    /v1/queue                     live jobs in due order (?limit=)
//	GET    /v1/queue/{id}                a job and its journal history
//	POST   /v1/queue/{id}/retry          make it due now
//	POST   /v1/queue/{id}/cancel         cancel it
//	GET    /v1/queue-suppressed          addresses with hard bounces
//	DELETE /v1/queue-suppressed/{addr}   clear an address
//
// It is mounted on the unix socket only: these are operator actions.
type Admin struct {
	DB    *store.DB
	Queue *Queue
	// Wake, if set, is called after a retry so the worker sends at once.
	Wake func()
	// Retention bounds how far back a job's history is looked up.
	Retention time.Duration
}

// JobView is a job with its history, as `deskmail queue show` prints it.
type JobView struct {
	Job     Job             `json:"job"`
	History []journal.Entry `json:"history"`
}

// Handler returns the routes.
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/queue", a.list)
	mux.HandleFunc("GET /v1/queue/{id}", a.show)
	mux.HandleFunc("POST /v1/queue/{id}/retry", a.change(a.Queue.Retry))
	mux.HandleFunc("POST /v1/queue/{id}/cancel", a.change(a.Queue.Cancel))
	mux.HandleFunc("GET /v1/queue-suppressed", a.suppressed)
	mux.HandleFunc("DELETE /v1/queue-suppressed/{addr}", a.clear)
	return mux
}

func (a *Admin) list(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 1000
	}
	var jobs []Job
	err := a.DB.View(func(tx *store.Tx) error {
		var err error
		jobs, err = List(tx, limit)
		return err
	})
	if jobs == nil {
		jobs = []Job{}
	}
	reply(w, err, map[string]any{"jobs": jobs})
}

func (a *Admin) show(w http.ResponseWriter, r *http.Request) {
	v, err := Show(a.DB, r.PathValue("id"), time.Now().Add(-a.Retention))
	reply(w, err, v)
}

// Show reads a job and its history.
func Show(db *store.DB, id string, since time.Time) (JobView, error) {
	var v JobView
	err := db.View(func(tx *store.Tx) error {
		var err error
		v.Job, err = GetJob(tx, id)
		return err
	})
	if err != nil {
		return v, err
	}
	v.History, err = History(db, id, since)
	return v, err
}

func (a *Admin) change(fn func(*store.Tx, string) (Job, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var j Job
		err := a.DB.Update(r.Context(), func(tx *store.Tx) error {
			var err error
			j, err = fn(tx, r.PathValue("id"))
			return err
		})
		if err == nil && a.Wake != nil {
			a.Wake()
		}
		reply(w, err, j)
	}
}

func (a *Admin) suppressed(w http.ResponseWriter, _ *http.Request) {
	var out []Suppression
	err := a.DB.View(func(tx *store.Tx) error {
		var err error
		out, err = Suppressions(tx)
		return err
	})
	if out == nil {
		out = []Suppression{}
	}
	reply(w, err, map[string]any{"addresses": out})
}

func (a *Admin) clear(w http.ResponseWriter, r *http.Request) {
	var found bool
	err := a.DB.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		found, err = ClearSuppression(tx, r.PathValue("addr"))
		return err
	})
	if err == nil && !found {
		err = ErrNotFound
	}
	reply(w, err, map[string]bool{"cleared": found})
}

func reply(w http.ResponseWriter, err error, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, ErrState):
			code = http.StatusConflict
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}
