package messaging

import (
	"context"
	"errors"
	"sync"

	"github.com/deskmail/deskmail/store"
)

// Seen-acks on PostgreSQL, together: what one ack costs there is mostly
// its two statements' round trips and the server's work per statement
// and per transaction (a read of what is pending, then a commit of a few
// rows and its WAL flush), not the rows. Acks that arrive while others
// are being read or committed wait in an ackQueue; a runner takes every
// one waiting (up to maxAckBatch), reads what all of them need in one
// statement (store.DB.Snapshot), answers at once those that change
// nothing, and commits the marks of the others in one transaction
// (store.DB.Update with one function, which declares the locks and reads
// of every ack in it). Each ack is answered with what it alone marked,
// once that transaction is durable, never before. A batch whose commit
// fails is committed again one ack at a time, so that an ack's own
// failure (a record that does not decode) is its own. One batch is on
// its way at a time (ackRunners): the acks that arrive meanwhile make the
// next one, so under load a batch grows with the time one takes (with 16
// clients at once, 8 acks a commit; two runners gave batches of 4.5 for
// 40% more of PostgreSQL's CPU per ack and no more acks per second). An
// ack alone does not wait for company: the first one to arrive starts a
// runner at once.

const (
	// ackRunners is how many batches of acks are read or committed at
	// once on one node.
	ackRunners = 1
	// maxAckBatch caps the acks of one batch.
	maxAckBatch = 128
)

// ackQueue holds the acks waiting for a runner.
type ackQueue struct {
	mu      sync.Mutex
	pending []*ack
	running int
}

// wait queues a and returns its answer.
func (q *ackQueue) wait(s *Service, a *ack) (SeenResult, error) {
	a.done = make(chan struct{})
	q.mu.Lock()
	q.pending = append(q.pending, a)
	if q.running < ackRunners {
		q.running++
		go q.run(s)
	}
	q.mu.Unlock()
	// Once queued an ack is always answered, even if its request went
	// away: its caller must not be told less than whether it was stored.
	<-a.done
	return a.res, a.err
}

// run commits batches while acks wait.
func (q *ackQueue) run(s *Service) {
	for {
		q.mu.Lock()
		n := min(len(q.pending), maxAckBatch)
		if n == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		batch := make([]*ack, n)
		copy(batch, q.pending)
		q.pending = append(q.pending[:0], q.pending[n:]...)
		q.mu.Unlock()
		s.ackBatch(batch)
	}
}

// ackBatch reads and commits a batch of acks, and answers each.
func (s *Service) ackBatch(batch []*ack) {
	live := batch[:0:0]
	var qs []store.Query
	first := make([]int, 0, len(batch))
	for _, a := range batch {
		if err := a.ctx.Err(); err != nil {
			// Its request ended before anything was read: nothing done.
			a.err = err
			close(a.done)
			continue
		}
		live = append(live, a)
		first = append(first, len(qs))
		qs = append(qs, a.queries...)
	}
	if len(live) == 0 {
		return
	}
	res, err := s.DB.Snapshot(context.Background(), qs...)
	var writes []*ack
	for i, a := range live {
		switch {
		case err != nil:
			a.err = err
		case s.read(a, res[first[i]:first[i]+len(a.queries)]):
			writes = append(writes, a)
			continue
		}
		close(a.done)
	}
	if len(writes) == 0 {
		return
	}
	now := s.Clock.Now()
	var opts []store.UpdateOption
	for _, a := range writes {
		opts = append(opts, s.writeOptions(a)...)
	}
	err = s.DB.Update(context.Background(), func(tx *store.Tx) error {
		for _, a := range writes {
			if err := s.mark(tx, a, now); err != nil {
				return err
			}
		}
		return nil
	}, opts...)
	if err != nil && len(writes) > 1 && !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrClosed) {
		// One of them failed, and with it the batch: each on its own.
		var wg sync.WaitGroup
		for _, a := range writes {
			wg.Go(func() {
				a.err = s.DB.Update(context.Background(), func(tx *store.Tx) error { return s.mark(tx, a, now) }, s.writeOptions(a)...)
				if a.err == nil {
					a.res = SeenResult{Marked: a.marked, Wrote: true}
				}
				close(a.done)
			})
		}
		wg.Wait()
		return
	}
	for _, a := range writes {
		if a.err = err; err == nil {
			a.res = SeenResult{Marked: a.marked, Wrote: true}
		}
		close(a.done)
	}
}
