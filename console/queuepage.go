package console

import (
	"errors"
	"net/http"

	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// Bounds of /queue.
const (
	MaxQueueRows  = 500
	MaxFailedRows = 100
)

func (s *Server) queueRoutes(mux *http.ServeMux) {
	mux.Handle("GET /queue", s.read(s.queuePage))
	mux.Handle("GET /queue/{id}", s.read(s.jobPage))
	mux.Handle("POST /queue/{id}/retry", s.write(s.jobAction("retry")))
	mux.Handle("POST /queue/{id}/cancel", s.write(s.jobAction("cancel")))
}

type queueView struct {
	Live, Failed []queue.Job
}

func (s *Server) queuePage(w http.ResponseWriter, r *http.Request) {
	var v queueView
	err := s.DB.View(r.Context(), func(tx *store.Tx) error {
		var err error
		if v.Live, err = queue.List(tx, MaxQueueRows); err != nil {
			return err
		}
		v.Failed, err = queue.Finished(tx, MaxFailedRows, queue.StateFailed, queue.StateBounced, queue.StateSuppressed)
		return err
	})
	if err != nil {
		s.internal(w, r, "read the queue", err)
		return
	}
	s.render(w, r, http.StatusOK, "queue", page{Title: "Queue", Nav: "queue", Data: v})
}

func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
	v, err := queue.Show(r.Context(), s.DB, r.PathValue("id"), s.Clock.Now().Add(-s.retention()))
	if errors.Is(err, queue.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "There is no such job.")
		return
	}
	if err != nil {
		s.internal(w, r, "read the job", err)
		return
	}
	s.render(w, r, http.StatusOK, "job", page{Title: "Job " + v.Job.ID, Nav: "queue", Data: v})
}

// jobAction retries or cancels a job through the queue's own rules.
func (s *Server) jobAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		err := s.change(r, "queue."+action, id, "", func(tx *store.Tx) error {
			var err error
			if action == "retry" {
				_, err = s.Queue.Retry(tx, id)
			} else {
				_, err = s.Queue.Cancel(tx, id)
			}
			return err
		})
		switch {
		case errors.Is(err, queue.ErrNotFound):
			s.fail(w, r, http.StatusNotFound, "There is no such job.")
			return
		case errors.Is(err, queue.ErrState):
			s.fail(w, r, http.StatusConflict, err.Error())
			return
		case err != nil:
			s.internal(w, r, action+" the job", err)
			return
		}
		if action == "retry" && s.Wake != nil {
			s.Wake()
		}
		back := "/queue"
		if r.PostFormValue("back") == "job" {
			back = "/queue/" + id
		}
		done(w, r, back, map[string]string{"retry": "retried", "cancel": "cancelled"}[action])
	}
}
