package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/deskmail/deskmail/operators"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/story"
)

// Operators is the console's part of the control socket API, for `deskmail
// operators` and `deskmail why` while the daemon runs:
//
//	GET    /v1/operators                  the accounts
//	POST   /v1/operators                  {"name","role","password"}
//	DELETE /v1/operators/{name}
//	PUT    /v1/operators/{name}/password  {"password"}
//	GET    /v1/why/{id}?person=P          the delivery story of a message
type Operators struct {
	DB        *store.DB
	Retention time.Duration
}

// Handler returns the routes.
func (a *Operators) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/operators", func(w http.ResponseWriter, r *http.Request) {
		ops, err := store.ViewValue(r.Context(), a.DB, operators.Operators)
		answer(w, err, map[string]any{"operators": ops})
	})
	mux.HandleFunc("POST /v1/operators", func(w http.ResponseWriter, r *http.Request) {
		var in operators.AccountInput
		if !decode(w, r, &in) {
			return
		}
		if err := operators.Check(in.Name, in.Role); err != nil {
			answer(w, err, nil)
			return
		}
		hash, err := operators.HashPassword(in.Password) // slow: never inside the commit
		var o operators.Operator
		if err == nil {
			err = a.DB.Update(r.Context(), func(tx *store.Tx) error {
				o, err = operators.AddAccount(tx, in.Name, in.Role, hash, "cli", time.Now())
				return err
			})
		}
		answer(w, err, o)
	})
	mux.HandleFunc("DELETE /v1/operators/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		err := a.DB.Update(r.Context(), func(tx *store.Tx) error { return operators.RemoveAccount(tx, name, "cli", time.Now()) })
		answer(w, err, map[string]string{"removed": name})
	})
	mux.HandleFunc("PUT /v1/operators/{name}/password", func(w http.ResponseWriter, r *http.Request) {
		var in operators.AccountInput
		if !decode(w, r, &in) {
			return
		}
		name := r.PathValue("name")
		hash, err := operators.HashPassword(in.Password)
		if err == nil {
			err = a.DB.Update(r.Context(), func(tx *store.Tx) error { return operators.ChangePassword(tx, name, hash, "cli", time.Now()) })
		}
		answer(w, err, map[string]string{"changed": name})
	})
	mux.HandleFunc("GET /v1/why/{id}", func(w http.ResponseWriter, r *http.Request) {
		ret := a.Retention
		if ret <= 0 {
			ret = 72 * time.Hour
		}
		st, err := story.BuildStory(r.Context(), a.DB, r.PathValue("id"), r.URL.Query().Get("person"), time.Now().Add(-ret))
		answer(w, err, st)
	})
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(v); err != nil {
		answer(w, &operators.InputError{Field: "body", Msg: "not the JSON expected"}, nil)
		return false
	}
	return true
}

// answer writes v, or err in the API's error shape ({"error","field"}).
func answer(w http.ResponseWriter, err error, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err == nil {
		_ = json.NewEncoder(w).Encode(v)
		return
	}
	code, field := http.StatusInternalServerError, ""
	var ie *operators.InputError
	switch {
	case errors.As(err, &ie):
		code, field = http.StatusBadRequest, ie.Field
	case errors.Is(err, operators.ErrNoOperator), errors.Is(err, story.ErrNoMessage):
		code = http.StatusNotFound
	case errors.Is(err, operators.ErrExists):
		code = http.StatusConflict
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "field": field})
}
