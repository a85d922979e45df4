package admin

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// Conversations serves `deskmail conversations` on the control socket
// while the daemon runs:
//
//	GET /v1/conversation-list?limit=N   the newest conversations
//	GET /v1/conversation-detail/{id}    one, with its messages
type Conversations struct{ DB *store.DB }

// Handler routes the two reads.
func (a *Conversations) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/conversation-list", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		cs, err := intake.ListConversations(r.Context(), a.DB, limit)
		if err != nil {
			adminJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		adminJSON(w, http.StatusOK, map[string]any{"conversations": cs})
	})
	mux.HandleFunc("GET /v1/conversation-detail/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, err := intake.ShowConversation(r.Context(), a.DB, r.PathValue("id"))
		switch {
		case errors.Is(err, model.ErrNotFound):
			adminJSON(w, http.StatusNotFound, map[string]string{"error": "no conversation " + r.PathValue("id")})
		case err != nil:
			adminJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		default:
			adminJSON(w, http.StatusOK, d)
		}
	})
	return mux
}
