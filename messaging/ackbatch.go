package messaging

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
)

// Seen-acks on PostgreSQL, together: what one ack costs there is mostly
// its two statements' round trips and the server's work per statement
// and per transaction (a read of what is pending, then a commit of a few
// rows and its WAL flush), not the rows. Acks wait in an ackQueue, which
// runs them in two stages, each one batch at a time:
//
//   - the read: every ack waiting (up to maxAckBatch) is read in one
//     statement (store.DB.Snapshot); those that change nothing are
//     answered at once, the others wait for the commit;
//   - the commit: every ack read and waiting (up to maxAckBatch) has its
//     marks written in one transaction (store.DB.Update with one
//     function, which declares the locks and reads of every ack in it).
//     Each ack is answered with what it alone marked, once that
//     transaction is durable, never before. A batch whose commit fails is
//     committed again one ack at a time, so that an ack's own failure (a
//     record that does not decode) is its own.
//
// The two stages overlap: the acks that arrive while a batch commits are
// read meanwhile, so that the next commit begins as soon as the last one
// is done, without a read of its own in between (with one batch read and
// committed at a time, 16 clients made two groups of 8 that took turns,
// each waiting for the other's read and commit). Commits stay one at a
// time: two batches read and committed side by side (two runners) gave
// batches of 4.5 acks for 40% more of PostgreSQL's CPU per ack and no
// more acks per second. A commit that finds a read on its way waits for
// it, so that the acks in it join the commit instead of waiting for the
// next one. Reading before the commit in flight is done is safe: the
// commit declares every record it changes and reads it again under the
// ack's locks (model.MarkSeenOf skips what was marked meanwhile, the
// held email's hook reads the job again). An ack alone does not wait for
// company when no commit is on its way: the first one to arrive starts a
// read at once. While a commit is on its way, a read waits a little for
// the acks that come back together (linger).

const (
	// maxAckBatch caps the acks of one read and of one commit.
	maxAckBatch = 128
)

// ackQueue holds the acks waiting for a read or a commit.
type ackQueue struct {
	mu      sync.Mutex
	pending []*ack // to be read
	ready   []*ack // read, to be committed
	// reading and committing: a read, a commit on its way; readDone is
	// closed at the end of the read on its way; waiting: the committer
	// waits for it.
	reading, committing, waiting bool
	readDone                     chan struct{}
	// The commit on its way: when it began, its acks, and how long the
	// last one took (for the read's linger).
	commitStart time.Time
	commitAcks  int
	lastCommit  time.Duration
	// lingering: the reader waits for company (linger); kick wakes it.
	lingering bool
	kick      chan struct{}
}

// commitClock times the commits and the read's linger: the machine's
// time, not the Service's (a test's fake clock does not move while a
// commit runs, and a linger ended early would leave a waiter on it that
// tests counting the clock's waiters would take for a parked worker).
var commitClock clock.Clock = clock.Real{}

// wait queues a and returns its answer.
func (q *ackQueue) wait(s *Service, a *ack) (SeenResult, error) {
	a.done = make(chan struct{})
	q.mu.Lock()
	q.pending = append(q.pending, a)
	if !q.reading {
		q.reading = true
		go q.read(s)
	} else {
		q.wake()
	}
	q.mu.Unlock()
	// Once queued an ack is always answered, even if its request went
	// away: its caller must not be told less than whether it was stored.
	<-a.done
	return a.res, a.err
}

// take removes up to maxAckBatch acks from the front of *from.
func take(from *[]*ack) []*ack {
	n := min(len(*from), maxAckBatch)
	batch := make([]*ack, n)
	copy(batch, *from)
	*from = append((*from)[:0], (*from)[n:]...)
	return batch
}

// wake wakes a lingering reader (q.mu held).
func (q *ackQueue) wake() {
	if q.lingering {
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
}

// linger holds the read back while a commit is on its way and fewer acks
// wait to be read than that commit has (q.mu held, and released while it
// waits): until as many have come, the commit is done or waits for this
// read, or half the last commit's time has gone since this one began (the
// read, one round trip, is then done well before the commit is). Acks
// that are answered together come back together (a web app's server
// acking for its people, the benchmark's clients), a few hundred
// microseconds apart: the first one to come started a read that took
// one or two of them, and the others made a second read of their own,
// both before the commit they wait for was done (16 clients: 4.6 acks
// per read for 8.3 per commit). A read costs the database a statement
// (two, with its planner settings) and this process a round trip
// whatever its acks; waiting for them costs nothing, since they wait for
// the commit anyway. An ack its read answers alone (nothing left to mark)
// waits as long: at most half a commit's time, only while one is on its
// way. clk is the clock that timed the commits (commitClock; a fake one
// in linger's own test).
func (q *ackQueue) linger(clk clock.Clock) {
	for q.committing && !q.waiting && len(q.pending) < q.commitAcks && q.lastCommit > 0 {
		d := q.commitStart.Add(q.lastCommit / 2).Sub(clk.Now())
		if d <= 0 {
			return
		}
		if q.kick == nil {
			q.kick = make(chan struct{}, 1)
		}
		q.lingering = true
		q.mu.Unlock()
		select {
		case <-q.kick:
		case <-clk.After(d):
		}
		q.mu.Lock()
		q.lingering = false
	}
}

// read reads batches while acks wait to be read, and hands those that
// must write to the committer.
func (q *ackQueue) read(s *Service) {
	q.mu.Lock()
	for len(q.pending) > 0 {
		done := make(chan struct{})
		q.readDone = done
		q.linger(commitClock)
		batch := take(&q.pending)
		q.mu.Unlock()
		writes := s.ackRead(batch)
		q.mu.Lock()
		q.ready = append(q.ready, writes...)
		if len(q.ready) > 0 && !q.committing {
			q.committing = true
			go q.commit(s)
		}
		// The read is done: a commit waiting for it goes on (the next
		// read, if acks came meanwhile, is another one).
		close(done)
	}
	q.reading = false
	q.mu.Unlock()
}

// commit commits batches while acks read wait to be.
func (q *ackQueue) commit(s *Service) {
	q.mu.Lock()
	for {
		if q.reading {
			// Acks being read would wait for the whole next commit:
			// they join this one instead.
			done := q.readDone
			q.waiting = true
			q.wake() // a read that lingers: go now
			q.mu.Unlock()
			<-done
			q.mu.Lock()
			q.waiting = false
		}
		if len(q.ready) == 0 {
			q.committing = false
			q.wake()
			q.mu.Unlock()
			return
		}
		batch := take(&q.ready)
		q.commitStart, q.commitAcks = commitClock.Now(), len(batch)
		q.mu.Unlock()
		s.ackCommit(batch)
		q.mu.Lock()
		q.lastCommit = commitClock.Now().Sub(q.commitStart)
		q.wake() // done: a read that lingers goes now
	}
}

// ackRead reads a batch of acks, answers those its read answers, and
// returns the others, which must write.
func (s *Service) ackRead(batch []*ack) []*ack {
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
		return nil
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
	return writes
}

// ackCommit commits the marks of a batch of acks read, and answers each.
func (s *Service) ackCommit(writes []*ack) {
	now := s.Clock.Now()
	var opts []store.UpdateOption
	for _, a := range writes {
		opts = append(opts, a.opts...)
	}
	err := s.DB.Update(context.Background(), func(tx *store.Tx) error {
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
				a.err = s.DB.Update(context.Background(), func(tx *store.Tx) error { return s.mark(tx, a, now) }, a.opts...)
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
