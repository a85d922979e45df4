package pipeline

// sequencer keeps, per ordering key (inbound.OrderKeys), the last email
// this process has in flight with that key. An email entering waits, before
// its commit, for the latest earlier holder of each of its keys; as each of
// those waited for its own predecessors, the emails of one key commit in
// the order they entered, which is the order they were answered 250 (the
// dispatcher hands them out by inbound.State.Seq). Emails sharing no key
// never wait for each other, so one email's slow lookups hold back only the
// emails that may land in its conversation. The pipeline's mutex guards it.
type sequencer struct {
	last map[string]*seqEntry
}

type seqEntry struct {
	done chan struct{} // closed when the email is committed or given up
}

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
	close(e.done)
	for _, k := range keys {
		if s.last[k] == e {
			delete(s.last, k)
		}
	}
}
