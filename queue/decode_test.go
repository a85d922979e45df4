package queue

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/store"
)

// A record that is not JSON is named the same way whether it is read as a
// job (GetJob, decodeJob) or as any record (getJSON).
func TestUndecodableRecordIsNamed(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		if err := tx.Put(bJobs, []byte("j1"), []byte("{not json")); err != nil {
			return err
		}
		_, jobErr := GetJob(tx, "j1")
		var j Job
		found, anyErr := getJSON(tx, bJobs, []byte("j1"), &j)
		for _, err := range []error{jobErr, anyErr} {
			if err == nil || !strings.HasPrefix(err.Error(), `decode queue_jobs "j1": `) {
				t.Errorf("error %v, want it to name the record", err)
			}
		}
		if !found || jobErr.Error() != anyErr.Error() {
			t.Errorf("GetJob: %v; getJSON: %v %v", jobErr, found, anyErr)
		}
		if _, err := GetJob(tx, "j2"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing job: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
