package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// Queue is the queue's part of the control socket API, which `deskmail
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
type Queue struct {
	DB    *store.DB
	Queue *queue.Queue
	// Wake, if set, is called after a retry so the worker sends at once.
	Wake func()
	// Retention bounds how far back a job's history is looked up.
	Retention time.Duration
}

// Handler returns the routes.
func (a *Queue) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/queue", a.list)
	mux.HandleFunc("GET /v1/queue/{id}", a.show)
	mux.HandleFunc("POST /v1/queue/{id}/retry", a.change(a.Queue.Retry))
	mux.HandleFunc("POST /v1/queue/{id}/cancel", a.change(a.Queue.Cancel))
	mux.HandleFunc("GET /v1/queue-suppressed", a.suppressed)
	mux.HandleFunc("DELETE /v1/queue-suppressed/{addr}", a.clear)
	return mux
}

func (a *Queue) list(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 1000
	}
	jobs, err := store.ViewValue(r.Context(), a.DB, func(tx *store.Tx) ([]queue.Job, error) { return queue.List(tx, limit) })
	if jobs == nil {
		jobs = []queue.Job{}
	}
	replyQueue(w, err, map[string]any{"jobs": jobs})
}

func (a *Queue) show(w http.ResponseWriter, r *http.Request) {
	v, err := queue.Show(r.Context(), a.DB, r.PathValue("id"), time.Now().Add(-a.Retention))
	replyQueue(w, err, v)
}

func (a *Queue) change(fn func(*store.Tx, string) (queue.Job, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var j queue.Job
		err := a.DB.Update(r.Context(), func(tx *store.Tx) error {
			var err error
			j, err = fn(tx, r.PathValue("id"))
			return err
		})
		if err == nil && a.Wake != nil {
			a.Wake()
		}
		replyQueue(w, err, j)
	}
}

func (a *Queue) suppressed(w http.ResponseWriter, r *http.Request) {
	out, err := store.ViewValue(r.Context(), a.DB, queue.Suppressions)
	if out == nil {
		out = []queue.Suppression{}
	}
	replyQueue(w, err, map[string]any{"addresses": out})
}

func (a *Queue) clear(w http.ResponseWriter, r *http.Request) {
	var found bool
	err := a.DB.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		found, err = queue.ClearSuppression(tx, r.PathValue("addr"))
		return err
	})
	if err == nil && !found {
		err = queue.ErrNotFound
	}
	replyQueue(w, err, map[string]bool{"cleared": found})
}

func replyQueue(w http.ResponseWriter, err error, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, queue.ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, queue.ErrState):
			code = http.StatusConflict
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}
