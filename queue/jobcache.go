package queue

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
)

// Decoding a held email's record (its JSON: every message it holds) was
// half of the CPU a seen-ack spends inside its commit on PostgreSQL, while
// the transaction is open and every other ack of the batch waits for it.
// A person who reads a conversation acks its messages one after another,
// each ack shrinking the same held email: the record one ack's commit
// writes is the one the next ack's commit reads. decodedJobs keeps the
// record a seen-ack wrote (its bytes) with the job it encoded, so that the
// next ack of the same held email needs no decoding at all; the commit
// takes the job kept when the record it reads under its locks is, byte
// for byte, the one kept. A job is a function of its bytes (GetJob), and
// the job kept is the one those bytes were encoded from, with what GetJob
// sets besides (the lease's times from Due): TestKeptJobIsTheDecodedOne.
// A record changed meanwhile (another node, the pipeline adding a message,
// a batch rolled back) is only a miss: it is decoded in the commit as
// before.

// maxDecodedJobs bounds the records kept (one per held email being
// acknowledged; a few kB each).
const maxDecodedJobs = 4096

type decodedJob struct {
	raw []byte
	job *Job // the job raw encodes
}

type jobCache struct {
	mu   sync.Mutex
	jobs map[string]*decodedJob
	hits atomic.Int64 // jobs taken (for the tests)
}

var decodedJobs jobCache

// keep records raw as job id's record and j as the job it encodes (both
// the cache's from now on: the caller changes neither).
func (c *jobCache) keep(id string, raw []byte, j *Job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jobs == nil {
		c.jobs = map[string]*decodedJob{}
	}
	if _, ok := c.jobs[id]; !ok && len(c.jobs) >= maxDecodedJobs {
		for k := range c.jobs { // any one
			delete(c.jobs, k)
			break
		}
	}
	c.jobs[id] = &decodedJob{raw: raw, job: j}
}

func (c *jobCache) forget(id string) {
	c.mu.Lock()
	delete(c.jobs, id)
	c.mu.Unlock()
}

// get returns the job kept for id, if raw is the record kept with it: a
// copy the caller may change.
func (c *jobCache) get(id string, raw []byte) (Job, bool) {
	c.mu.Lock()
	e := c.jobs[id]
	c.mu.Unlock()
	if e == nil || !bytes.Equal(e.raw, raw) {
		return Job{}, false
	}
	c.hits.Add(1)
	j := *e.job
	j.Messages, j.Dropped = slices.Clone(j.Messages), slices.Clone(j.Dropped)
	return j, true
}

// keepsOthers tells whether the job kept for id holds a message that is
// not among marked: an ack that marks only those cannot empty it, unless
// its record changed since it was kept (a hint, see Queue.SeenPlan).
func (c *jobCache) keepsOthers(id string, marked []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.jobs[id]
	if e == nil {
		return false
	}
	for _, m := range e.job.Messages {
		if !slices.Contains(marked, m) {
			return true
		}
	}
	return false
}
