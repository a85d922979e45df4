package httpapi

import (
	"errors"
	"net/http"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// MaxNameBytes bounds a project's name (the model bounds a person's name
// and an item's title itself).
const MaxNameBytes = 200

// ProjectInput is the body of PUT /v1/projects/{id}.
type ProjectInput struct {
	Name      string   `json:"name"`
	Followers []string `json:"followers"`
}

// ItemInput is the body of PUT /v1/items/{id}.
type ItemInput struct {
	Project   string   `json:"project"`
	Title     string   `json:"title"`
	Followers []string `json:"followers"`
	Assignees []string `json:"assignees"`
}

func (s *Server) putProject(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var in ProjectInput
	if !decodeJSON(w, r, MaxBodyBytes, &in) {
		return
	}
	if len(in.Name) > MaxNameBytes {
		writeError(w, http.StatusBadRequest, "name", "at most 200 bytes")
		return
	}
	p := model.Project{ID: id, Name: in.Name, Followers: nonNil(in.Followers)}
	s.put(w, r, "put project", func(tx *store.Tx) (bool, error) {
		_, err := model.GetProject(tx, id)
		return isNew(err), model.PutProject(tx, p)
	}, p)
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	s.get(w, r, "get project", func(tx *store.Tx, id string) (any, error) {
		p, err := model.GetProject(tx, id)
		p.Followers = nonNil(p.Followers)
		return p, err
	})
}

func (s *Server) putItem(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var in ItemInput
	if !decodeJSON(w, r, MaxBodyBytes, &in) {
		return
	}
	it := model.Item{ID: id, Project: in.Project, Title: in.Title,
		Followers: nonNil(in.Followers), Assignees: nonNil(in.Assignees)}
	s.put(w, r, "put item", func(tx *store.Tx) (bool, error) {
		_, err := model.GetItem(tx, id)
		return isNew(err), model.PutItem(tx, it)
	}, it)
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request) {
	s.get(w, r, "get item", func(tx *store.Tx, id string) (any, error) {
		it, err := model.GetItem(tx, id)
		it.Followers, it.Assignees = nonNil(it.Followers), nonNil(it.Assignees)
		return it, err
	})
}

// put commits fn and answers 201 with v when fn created the record, 200
// when it replaced one.
func (s *Server) put(w http.ResponseWriter, r *http.Request, what string, fn func(tx *store.Tx) (created bool, err error), v any) {
	var created bool
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		created, err = fn(tx)
		return err
	})
	if err != nil {
		s.writeStoreError(w, r, what, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, v)
}

// get answers the record fn reads under the path's id.
func (s *Server) get(w http.ResponseWriter, r *http.Request, what string, fn func(tx *store.Tx, id string) (any, error)) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	v, err := store.ViewValue(r.Context(), s.DB, func(tx *store.Tx) (any, error) { return fn(tx, id) })
	if err != nil {
		s.writeStoreError(w, r, what, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// isNew tells from a Get's error that the record does not exist yet.
func isNew(err error) bool { return errors.Is(err, model.ErrNotFound) }

// nonNil makes an absent list an empty JSON array rather than null, so
// clients need not handle both.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
