package httpapi

import (
	"net/http"

	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
)

// SeenAck is the body of POST /v1/seen: person saw conversation up to and
// including message up_to (SPEC section 4).
type SeenAck struct {
	Person       string `json:"person"`
	Conversation string `json:"conversation"`
	UpTo         string `json:"up_to"`
}

// SeenResponse answers a seen-ack with what it changed.
type SeenResponse struct {
	// Marked lists the messages whose notification of the person this ack
	// marked seen, oldest first; empty when it changed nothing (a repeated
	// ack, nothing pending, or an unknown message).
	Marked []string `json:"marked"`
	// UnknownMessage is true when up_to is not a message of the
	// conversation: not an error (SPEC section 4), but nothing is marked.
	UnknownMessage bool `json:"unknown_message,omitempty"`
}

// postSeen records a seen-ack. It is idempotent: a repeated ack marks
// nothing and answers an empty list. The person and the conversation must
// exist (404 otherwise: an ack naming neither is a client bug worth
// seeing); the message need not. A person token's generation is checked
// in the ack's own read (guard.personAck), before anything it read is
// acted on: a revoked token is answered 401 and marks nothing.
func (s *Server) postSeen(w http.ResponseWriter, r *http.Request) {
	var ack SeenAck
	if !decodeJSON(w, r, MaxSmallBodyBytes, &ack) {
		return
	}
	for _, f := range []struct{ name, v string }{{"person", ack.Person}, {"conversation", ack.Conversation}, {"up_to", ack.UpTo}} {
		if !model.ValidID(f.v) {
			writeError(w, http.StatusBadRequest, f.name, "required: a valid id")
			return
		}
	}
	if forbidPerson(w, r, "person", ack.Person) {
		return
	}
	var guards []messaging.AckGuard
	if c, ok := generationUnchecked(r); ok {
		guards = append(guards, generationGuard(c))
	}
	res, err := s.Messaging.Ack(r.Context(), ack.Person, ack.Conversation, ack.UpTo, guards...)
	if isTokenError(err) {
		writeTokenError(w, err)
		return
	}
	if err != nil {
		s.writeStoreError(w, r, "seen", err)
		return
	}
	marked := res.Marked
	if marked == nil {
		marked = []string{}
	}
	writeJSON(w, http.StatusOK, SeenResponse{Marked: marked, UnknownMessage: res.UnknownMessage})
}
