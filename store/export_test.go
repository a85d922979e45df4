package store

import "time"

// RunBatch runs fns as one batch of the group commit, in order, as the
// committer would had they all been waiting at once, and returns what
// each caller of Update would have been told.
func (db *DB) RunBatch(fns ...func(*Tx) error) []error {
	return db.RunBatchWith(fns, nil)
}

// RunBatchWith is RunBatch with each function's Update options.
func (db *DB) RunBatchWith(fns []func(*Tx) error, opts [][]UpdateOption) []error {
	batch := make([]*request, len(fns))
	for i, fn := range fns {
		batch[i] = &request{fn: fn, done: make(chan error, 1)}
		if i < len(opts) {
			for _, o := range opts[i] {
				o(batch[i])
			}
		}
	}
	reqs := append([]*request(nil), batch...) // commit reorders batch
	db.commit(batch)
	errs := make([]error, len(fns))
	for i, r := range reqs {
		errs[i] = <-r.done
	}
	return errs
}

// Gather is the batch the committer would make now from first and the
// writes waiting behind it; the background flag of each, in order. The
// writes it takes off the queues are never run nor answered: a test seam.
func (db *DB) Gather(first func(*Tx) error, opts ...UpdateOption) []bool {
	r := &request{fn: first}
	for _, o := range opts {
		o(r)
	}
	var out []bool
	for _, r := range db.gather([]*request{r}, db.reqs, db.bgReqs) {
		out = append(out, r.background)
	}
	return out
}

// Enqueue queues a write as Update does, without waiting for it (and
// without Update's check that the store is open).
func (db *DB) Enqueue(fn func(*Tx) error, opts ...UpdateOption) chan error {
	r := &request{fn: fn, done: make(chan error, 1)}
	for _, o := range opts {
		o(r)
	}
	if r.background {
		db.bgReqs <- r
	} else {
		db.reqs <- r
	}
	return r.done
}

// LockID is the advisory lock key of a lock name.
func LockID(name string) int64 { return lockID(name) }

// QueuedWrites is how many writes wait in the keyed foreground and the
// background queues, not yet taken by a committer.
func (db *DB) QueuedWrites() int { return len(db.reqs) + len(db.bgReqs) }

// FillTargets are the fill gates' targets: keyed foreground writes,
// background writes.
func FillTargets() (fg, bg int) { return fgFillTarget, bgFillTarget }

// SetFillAfter gives the fill gates a timer of the test's.
func SetFillAfter(o *Options, after func(time.Duration) <-chan time.Time) { o.fillAfter = after }
