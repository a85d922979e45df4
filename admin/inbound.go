package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/pipeline"
	"github.com/deskmail/deskmail/store"
)

// Inbound is the pipeline's part of the control socket API, which
// `deskmail inbound` talks to while the daemon runs:
//
//	GET  /v1/inbound-state?state=pending|failed&limit=N   unfinished emails
//	GET  /v1/inbound-state?state=attention&limit=N        emails kept for operators
//	POST /v1/inbound-state/{id}/retry                     process it again now
//	POST /v1/inbound-state/retry-failed                   every failed one
//
// It is mounted on the unix socket only: these are operator actions.
type Inbound struct {
	DB   *store.DB
	Wake func(string) // the pipeline's, after a retry
}

// Handler returns the routes (one ServeMux, built once).
func (a *Inbound) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/inbound-state", a.list)
	mux.HandleFunc("POST /v1/inbound-state/retry-failed", a.retryFailed)
	mux.HandleFunc("POST /v1/inbound-state/{id}/retry", a.retry)
	return mux
}

func (a *Inbound) list(w http.ResponseWriter, r *http.Request) {
	which := r.URL.Query().Get("state")
	if which != "" && which != inbound.ListPending && which != inbound.ListFailed && which != inbound.ListAttention {
		adminJSON(w, http.StatusBadRequest, map[string]string{"error": "state must be pending, failed or attention", "field": "state"})
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 1000
	}
	var recs []inbound.Record
	var err error
	if which == inbound.ListAttention {
		recs, err = inbound.Attention(r.Context(), a.DB, limit)
	} else {
		recs, err = store.ViewValue(r.Context(), a.DB, func(tx *store.Tx) ([]inbound.Record, error) { return inbound.List(tx, which, limit) })
	}
	if err != nil {
		adminJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the inbound state"})
		return
	}
	adminJSON(w, http.StatusOK, map[string]any{"emails": recs})
}

func (a *Inbound) retry(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := a.DB.Update(r.Context(), func(tx *store.Tx) error { return pipeline.Requeue(tx, id) })
	switch {
	case errors.Is(err, inbound.ErrNotFound):
		adminJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	case err != nil:
		adminJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "could not re-queue: " + err.Error()})
		return
	}
	a.Wake(id)
	adminJSON(w, http.StatusOK, map[string]any{"requeued": []string{id}})
}

func (a *Inbound) retryFailed(w http.ResponseWriter, r *http.Request) {
	var ids []string
	err := a.DB.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		ids, err = pipeline.RequeueFailed(tx)
		return err
	})
	if err != nil {
		adminJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "could not re-queue: " + err.Error()})
		return
	}
	a.Wake("")
	adminJSON(w, http.StatusOK, map[string]any{"requeued": ids})
}

func adminJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
