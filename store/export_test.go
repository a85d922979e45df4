package store

// RunBatch runs fns as one batch of the group commit, in order, as the
// committer would had they all been waiting at once, and returns what
// each caller of Update would have been told.
func (db *DB) RunBatch(fns ...func(*Tx) error) []error {
	batch := make([]*request, len(fns))
	for i, fn := range fns {
		batch[i] = &request{fn: fn, done: make(chan error, 1)}
	}
	reqs := append([]*request(nil), batch...) // commit reorders batch
	db.commit(batch)
	errs := make([]error, len(fns))
	for i, r := range reqs {
		errs[i] = <-r.done
	}
	return errs
}
