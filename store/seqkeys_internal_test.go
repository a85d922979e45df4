package store

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// A row met in a SequenceKeys bucket names that bucket; one met elsewhere
// names none; an error that hides the key names every such bucket; any
// other error none.
func TestTakenSequences(t *testing.T) {
	SequenceKeys("taken_test", func([]byte) (uint64, bool) { return 0, false })
	t.Cleanup(func() { // the tests after it in this binary would scan it too
		seqKeysMu.Lock()
		delete(seqKeys, "taken_test")
		seqKeysMu.Unlock()
	})
	met := func(detail string) error {
		return fmt.Errorf("commit: %w", &pgconn.PgError{Code: "23505", TableName: "kv", Detail: detail})
	}
	for _, c := range []struct {
		err  error
		want []string
	}{
		{met(`Key (bucket, key)=(taken_test, \x3331) already exists.`), []string{"taken_test"}},
		{met(`Key (bucket, key)=(dedupe, \x3331) already exists.`), nil},
		{met(""), sequenceBuckets()},
		{&pgconn.PgError{Code: "40001"}, nil},
		{&pgconn.PgError{Code: "23505", TableName: "other", Detail: `Key (bucket, key)=(taken_test, \x31) already exists.`}, nil},
	} {
		if got := takenSequences(c.err); !slices.Equal(got, c.want) {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
	if !slices.Contains(sequenceBuckets(), "taken_test") {
		t.Errorf("sequenceBuckets %q lack taken_test", sequenceBuckets())
	}
}
