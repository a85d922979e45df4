package pipeline

import "sync"

// sequencer keeps, per ordering key (inbound.OrderKeys), the last email
// this process has in flight with that key. An email entering waits, before
// its commit, for the latest earlier holder of each of its keys; as each of
// those waited for its own predecessors, the emails of one key commit in
// the order they entered, which is the order they were answered 250 (the
// dispatcher hands them out by inbound.State.Seq). Emails sharing no key
// never wait for each other, so one email's slow lookups hold back only the
// emails that may land in its conversation. The pipeline's mutex guards it.
//
// With bbolt an email's successors go on as soon as its commit is queued
// (store.Queued), not once it returns: the one committer runs background
// writes in the order queued, so their commits follow it, in its batch
// or a later one, and share fsyncs (one sender's burst was a commit, two
// fsyncs, per email); should its commit fail, theirs see it still pending
// in their transaction (inbound.EarlierBlocker) and wait for it as before.
// On PostgreSQL, where background batches run side by side, they wait for
// it to return.
type sequencer struct {
	last map[string]*seqEntry
}

type seqEntry struct {
	done chan struct{} // closed when the email is committed or given up
	once sync.Once
}

// release lets the emails waiting for this one go on (once; leave or,
// with bbolt, the commit's store.Queued calls it).
func (e *seqEntry) release() { e.once.Do(func() { close(e.done) }) }

// enter registers an email with keys and returns what it must wait for.
func (s *sequencer) enter(keys []string) ([]chan struct{}, *seqEntry) {
	e := &seqEntry{done: make(chan struct{})}
	var deps []chan struct{}
	seen := map[*seqEntry]bool{}
	for _, k := range keys {
		if prev := s.last[k]; prev != nil && !seen[prev] {
			seen[prev] = true
			deps = append(deps, prev.done)
		}
		s.last[k] = e
	}
	return deps, e
}

// leave marks the email done: whoever waits for it may go on.
func (s *sequencer) leave(keys []string, e *seqEntry) {
	e.release()
	for _, k := range keys {
		if s.last[k] == e {
			delete(s.last, k)
		}
	}
}
