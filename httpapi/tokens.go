package httpapi

import (
	"net/http"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/persontoken"
	"github.com/deskmail/deskmail/store"
)

// TokenRequest is the body of POST /v1/people/{id}/tokens.
type TokenRequest struct {
	// TTL is a Go duration ("1h", "30m"): persontoken.MinTTL to
	// persontoken.MaxTTL; persontoken.DefaultTTL when empty.
	TTL string `json:"ttl"`
}

// TokenResponse is a new person token.
type TokenResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// postPersonToken mints a person token (API token only): the web app's
// server asks for one per signed-in person and hands it to the browser.
func (s *Server) postPersonToken(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var in TokenRequest
	if r.ContentLength != 0 && !decodeJSON(w, r, MaxSmallBodyBytes, &in) {
		return
	}
	ttl := persontoken.DefaultTTL
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil || d < persontoken.MinTTL || d > persontoken.MaxTTL {
			writeError(w, http.StatusBadRequest, "ttl", "a duration from "+persontoken.MinTTL.String()+" to "+persontoken.MaxTTL.String()+", e.g. \"1h\"")
			return
		}
		ttl = d
	}
	if s.PersonTokens == nil {
		writeError(w, http.StatusServiceUnavailable, "", "person tokens are not configured")
		return
	}
	var out TokenResponse
	// Read-only: minting stores nothing, it reads the person and the
	// person's generation.
	err := s.DB.View(func(tx *store.Tx) error {
		if _, err := model.GetPerson(tx, id); err != nil {
			return err
		}
		var err error
		out.Token, out.Expires, err = s.PersonTokens.Mint(tx, id, ttl)
		return err
	})
	if err != nil {
		s.writeStoreError(w, r, "mint person token", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

// RevokeResponse answers DELETE /v1/people/{id}/tokens.
type RevokeResponse struct {
	Person  string `json:"person"`
	Revoked bool   `json:"revoked"`
}

// revokePersonTokens ends every token of the person minted so far; a live
// stream opened with one ends at its next heartbeat.
func (s *Server) revokePersonTokens(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		if _, err := model.GetPerson(tx, id); err != nil {
			return err
		}
		return persontoken.Revoke(tx, id)
	})
	if err != nil {
		s.writeStoreError(w, r, "revoke person tokens", err)
		return
	}
	writeJSON(w, http.StatusOK, RevokeResponse{Person: id, Revoked: true})
}
