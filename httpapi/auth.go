package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/persontoken"
	"github.com/deskmail/deskmail/store"
)

// Two credentials open the API: the API token (everything) and a person
// token (persontoken), which a browser may hold. A person token opens only
// the routes registered with guard.person, and those only for its own
// person: the path's {id}, or the body's person (POST /v1/seen, checked by
// the handler through personOf).

// router is what the route tables register on: an http.ServeMux, or a
// recorder in the test that compares the routes with the OpenAPI document.
type router interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// guard wraps handlers in the authentication a route needs.
type guard struct {
	s       *Server
	trusted bool // the control socket: no token
}

// admit wraps h in authenticate for who; the control socket is trusted
// and passes everything.
func (g guard) admit(h http.Handler, who access) http.Handler {
	if g.trusted {
		return h
	}
	return g.s.authenticate(h, who)
}

// api admits the API token only.
func (g guard) api(h http.Handler) http.Handler { return g.admit(h, apiOnly) }

// person admits the API token, and a person token for the path's {id}
// (or, on a route without one, for the person the handler checks).
func (g guard) person(h http.Handler) http.Handler { return g.admit(h, personRoute) }

// personAck is person for POST /v1/seen, whose handler checks the
// token's generation (revocation) in the ack's own snapshot read instead
// of a read of its own before it (generationUnchecked).
func (g guard) personAck(h http.Handler) http.Handler { return g.admit(h, personAck) }

// personStream is person for the live stream, which also takes the person
// token in the query (accessTokenParam).
func (g guard) personStream(h http.Handler) http.Handler { return g.admit(h, personStream) }

// access is who may use a route.
type access int

const (
	apiOnly access = iota
	personRoute
	personStream
	personAck
)

// personOf is the person a person token speaks for, or "" for the API
// token (which may act for anyone).
func personOf(r *http.Request) string {
	c, _ := claimsOf(r)
	return c.Person
}

// forbidPerson answers 403 when the request's person token is not
// person's; true when it did.
func forbidPerson(w http.ResponseWriter, r *http.Request, field, person string) bool {
	if p := personOf(r); p != "" && p != person {
		writeError(w, http.StatusForbidden, field, "this person token is for "+p+": it may act for that person only")
		return true
	}
	return false
}

// errPersonRoute is the 403 of a person token on a route it may not use.
const errPersonRoute = "a person token may only read its person's notifications and stream and post its person's seen-acks; this needs the API token"

// accessTokenParam carries a person token in the stream's URL, where a
// browser's EventSource cannot send a header (docs/WEBAPP.md says why a
// query parameter and not a cookie). Only person tokens are taken there.
const accessTokenParam = "access_token"

func (s *Server) authenticate(h http.Handler, who access) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok && who == personStream {
			got = r.URL.Query().Get(accessTokenParam)
			ok = strings.HasPrefix(got, persontoken.Prefix)
		}
		if ok && s.Token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) == 1 {
			h.ServeHTTP(w, r)
			return
		}
		if !ok || !strings.HasPrefix(got, persontoken.Prefix) || s.PersonTokens == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="deskmail"`)
			writeError(w, http.StatusUnauthorized, "", "missing or wrong bearer token")
			return
		}
		var c persontoken.Claims
		var err error
		if who == personAck {
			c, err = s.PersonTokens.Verify(got)
		} else {
			c, err = s.PersonTokens.CheckDB(r.Context(), s.DB, got)
		}
		if err != nil && !isTokenError(err) {
			s.writeStoreError(w, r, "check person token", err)
			return
		}
		if err != nil {
			writeTokenError(w, err)
			return
		}
		if who == apiOnly {
			writeError(w, http.StatusForbidden, "", errPersonRoute)
			return
		}
		if id := r.PathValue("id"); id != "" && id != c.Person {
			writeError(w, http.StatusForbidden, "id", "this person token is for "+c.Person+": it may read that person's notifications only")
			return
		}
		ctx := context.WithValue(r.Context(), claimsKey{}, tokenClaims{c, who == personAck})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// writeTokenError answers 401 for a person token that does not check.
func writeTokenError(w http.ResponseWriter, err error) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="deskmail", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "", personTokenError(err))
}

// claimsKey holds the tokenClaims of a request made with a person token.
type claimsKey struct{}

type tokenClaims struct {
	persontoken.Claims
	// unchecked: the token's generation is still to be checked by the
	// handler (personAck), in the same read as its own.
	unchecked bool
}

// generationUnchecked is the person token of a personAck request whose
// generation is still to be checked: the handler adds generationGuard to
// its read, before it acts on the request.
func generationUnchecked(r *http.Request) (persontoken.Claims, bool) {
	c, ok := r.Context().Value(claimsKey{}).(tokenClaims)
	return c.Claims, ok && c.unchecked
}

// generationGuard checks the token's generation in the ack's snapshot
// (messaging.AckGuard): persontoken.ErrRevoked when it was revoked.
func generationGuard(c persontoken.Claims) messaging.AckGuard {
	return messaging.AckGuard{Query: persontoken.GenerationQuery(c.Person), Check: func(found []store.KV) error {
		return persontoken.CheckGeneration(c, found)
	}}
}

// claimsOf are the request's person-token claims, if it carries one.
func claimsOf(r *http.Request) (persontoken.Claims, bool) {
	c, ok := r.Context().Value(claimsKey{}).(tokenClaims)
	return c.Claims, ok
}

// isTokenError tells a token that does not check from a store that could
// not be read.
func isTokenError(err error) bool {
	for _, e := range []error{persontoken.ErrMalformed, persontoken.ErrSignature, persontoken.ErrExpired, persontoken.ErrRevoked} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func personTokenError(err error) string {
	switch {
	case errors.Is(err, persontoken.ErrExpired):
		return "person token expired: ask the web app for a new one"
	case errors.Is(err, persontoken.ErrRevoked):
		return "person token revoked: ask the web app for a new one"
	default:
		return "not a valid person token"
	}
}
