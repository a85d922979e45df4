package httpapi

import (
	"errors"
	"net/http"

	"github.com/deskmail/deskmail/center"
)

// POST /v1/events: the web app reports what happened (SPEC section 8);
// the messaging center sends the system emails and runs the automations.
// 201 with the outcome when handled now, 200 with the first outcome when
// the event's id was handled before.
func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) {
	if s.Center == nil {
		writeError(w, http.StatusServiceUnavailable, "", "the messaging center is not running")
		return
	}
	var ev center.Event
	if !decodeJSON(w, r, MaxSmallBodyBytes, &ev) {
		return
	}
	if !ev.Received.IsZero() {
		writeError(w, http.StatusBadRequest, "received", "set by deskmail")
		return
	}
	out, err := s.Center.Handle(r.Context(), ev)
	var fe *center.FieldError
	if errors.As(err, &fe) {
		writeError(w, http.StatusBadRequest, fe.Field, fe.Msg)
		return
	}
	if err != nil {
		s.writeStoreError(w, r, "event", err)
		return
	}
	// Lists are lists in the answer, empty or not (docs/openapi.json).
	if out.Emails == nil {
		out.Emails = []center.SentEmail{}
	}
	if out.Messages == nil {
		out.Messages = []string{}
	}
	code := http.StatusCreated
	if out.Duplicate {
		code = http.StatusOK
	}
	writeJSON(w, code, out)
}
