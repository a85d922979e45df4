package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// InboundAdmin is the pipeline's part of the control socket API, which
// `deskmail inbound` talks to while the daemon runs:
//
//	GET  /v1/inbound-state?state=pending|failed&limit=N   unfinished emails
//	POST /v1/inbound-state/{id}/retry                     process it again now
//	POST /v1/inbound-state/retry-failed                   every failed one
//
// It is mounted on the unix socket only: these are operator actions.
type InboundAdmin struct {
	DB   *store.DB
	Wake func(string) // the pipeline's, after a retry
}

func (a *InboundAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/inbound-state", a.list)
	mux.HandleFunc("POST /v1/inbound-state/retry-failed", a.retryFailed)
	mux.HandleFunc("POST /v1/inbound-state/{id}/retry", a.retry)
	mux.ServeHTTP(w, r)
}

func (a *InboundAdmin) list(w http.ResponseWriter, r *http.Request) {
	which := r.URL.Query().Get("state")
	if which != "" && which != inbound.ListPending && which != inbound.ListFailed {
		adminJSON(w, http.StatusBadRequest, map[string]string{"error": "state must be pending or failed", "field": "state"})
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 1000
	}
	var recs []inbound.Record
	err := a.DB.View(func(tx *store.Tx) error {
		var err error
		recs, err = inbound.List(tx, which, limit)
		return err
	})
	if err != nil {
		adminJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the inbound state"})
		return
	}
	adminJSON(w, http.StatusOK, map[string]any{"emails": recs})
}

func (a *InboundAdmin) retry(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := a.DB.Update(r.Context(), func(tx *store.Tx) error { return RequeueInbound(tx, id) })
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

func (a *InboundAdmin) retryFailed(w http.ResponseWriter, r *http.Request) {
	var ids []string
	err := a.DB.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		ids, err = RequeueFailedInbound(tx)
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

// RequeueInbound makes a failed (or backing-off pending) email due now and
// journals it; the daemon's pipeline and `deskmail inbound retry` offline
// both use it.
func RequeueInbound(tx *store.Tx, id string) error {
	if err := inbound.Requeue(tx, id); err != nil {
		return err
	}
	return journalRequeue(tx, id)
}

// RequeueFailedInbound requeues every failed email.
func RequeueFailedInbound(tx *store.Tx) ([]string, error) {
	ids, err := inbound.RequeueFailed(tx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := journalRequeue(tx, id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func journalRequeue(tx *store.Tx, id string) error {
	m, err := inbound.LoadTx(tx, id)
	if err != nil || m.JournalID == "" {
		return nil // nothing to annotate; the email is re-queued all the same
	}
	return updateEntry(tx, m.JournalID, func(e *journal.Entry) {
		e.Action = "pending: re-queued by an operator (" + e.Action + ")"
	})
}
