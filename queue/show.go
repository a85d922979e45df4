package queue

import (
	"context"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// JobView is a job with its history, as `deskmail queue show` prints it.
type JobView struct {
	Job     Job             `json:"job"`
	History []journal.Entry `json:"history"`
}

// Show reads a job and its history.
func Show(ctx context.Context, db *store.DB, id string, since time.Time) (JobView, error) {
	job, err := store.ViewValue(ctx, db, func(tx *store.Tx) (Job, error) { return GetJob(tx, id) })
	v := JobView{Job: job}
	if err != nil {
		return v, err
	}
	v.History, err = History(ctx, db, id, since)
	return v, err
}
