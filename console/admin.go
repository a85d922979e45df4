package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/deskmail/deskmail/store"
)

// The account actions of `deskmail operators`, the same whether the CLI
// runs them offline on the data folder or the daemon runs them for it
// (Admin, on the control socket). Each writes its audit record in the
// same commit; actor is who asked ("cli" for the command line).

// AddAccount creates the account with a hash from HashPassword.
func AddAccount(tx *store.Tx, name, role string, hash []byte, actor string, now time.Time) (Operator, error) {
	o, err := AddOperator(tx, name, role, hash, now)
	if err != nil {
		return o, err
	}
	o.Hash = nil
	return o, auditAs(tx, actor, now, "operator.add", name, "role "+role, "local")
}

// RemoveAccount deletes the account and its sessions.
func RemoveAccount(tx *store.Tx, name, actor string, now time.Time) error {
	if err := RemoveOperator(tx, name); err != nil {
		return err
	}
	return auditAs(tx, actor, now, "operator.remove", name, "", "local")
}

// ChangePassword sets a new hash and ends the account's sessions.
func ChangePassword(tx *store.Tx, name string, hash []byte, actor string, now time.Time) error {
	if err := SetPassword(tx, name, hash, now); err != nil {
		return err
	}
	return auditAs(tx, actor, now, "operator.passwd", name, "", "local")
}

// Admin is the console's part of the control socket API, for `deskmail
// operators` and `deskmail why` while the daemon runs:
//
//	GET    /v1/operators                  the accounts
//	POST   /v1/operators                  {"name","role","password"}
//	DELETE /v1/operators/{name}
//	PUT    /v1/operators/{name}/password  {"password"}
//	GET    /v1/why/{id}?person=P          the delivery story of a message
type Admin struct {
	DB        *store.DB
	Retention time.Duration
}

// AccountInput is the body of POST /v1/operators and of the password PUT.
type AccountInput struct {
	Name     string `json:"name,omitempty"`
	Role     string `json:"role,omitempty"`
	Password string `json:"password"`
}

// Handler returns the routes.
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/operators", func(w http.ResponseWriter, r *http.Request) {
		var ops []Operator
		err := a.DB.View(func(tx *store.Tx) error {
			var err error
			ops, err = Operators(tx)
			return err
		})
		answer(w, err, map[string]any{"operators": ops})
	})
	mux.HandleFunc("POST /v1/operators", func(w http.ResponseWriter, r *http.Request) {
		var in AccountInput
		if !decode(w, r, &in) {
			return
		}
		if err := checkOperator(in.Name, in.Role); err != nil {
			answer(w, err, nil)
			return
		}
		hash, err := HashPassword(in.Password) // slow: never inside the commit
		var o Operator
		if err == nil {
			err = a.DB.Update(r.Context(), func(tx *store.Tx) error {
				o, err = AddAccount(tx, in.Name, in.Role, hash, "cli", time.Now())
				return err
			})
		}
		answer(w, err, o)
	})
	mux.HandleFunc("DELETE /v1/operators/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		err := a.DB.Update(r.Context(), func(tx *store.Tx) error { return RemoveAccount(tx, name, "cli", time.Now()) })
		answer(w, err, map[string]string{"removed": name})
	})
	mux.HandleFunc("PUT /v1/operators/{name}/password", func(w http.ResponseWriter, r *http.Request) {
		var in AccountInput
		if !decode(w, r, &in) {
			return
		}
		name := r.PathValue("name")
		hash, err := HashPassword(in.Password)
		if err == nil {
			err = a.DB.Update(r.Context(), func(tx *store.Tx) error { return ChangePassword(tx, name, hash, "cli", time.Now()) })
		}
		answer(w, err, map[string]string{"changed": name})
	})
	mux.HandleFunc("GET /v1/why/{id}", func(w http.ResponseWriter, r *http.Request) {
		ret := a.Retention
		if ret <= 0 {
			ret = 72 * time.Hour
		}
		st, err := BuildStory(a.DB, r.PathValue("id"), r.URL.Query().Get("person"), time.Now().Add(-ret))
		answer(w, err, st)
	})
	return mux
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(v); err != nil {
		answer(w, &InputError{"body", "not the JSON expected"}, nil)
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
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		code, field = http.StatusBadRequest, ie.Field
	case errors.Is(err, ErrNoOperator), errors.Is(err, ErrNoMessage):
		code = http.StatusNotFound
	case errors.Is(err, ErrExists):
		code = http.StatusConflict
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error(), "field": field})
}
