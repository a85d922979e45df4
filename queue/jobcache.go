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
// record a seen-ack wrote (its bytes), decodes it when the next ack of the
// same held email is read (SeenPlan's plan, in the read stage, outside any
// transaction), and the commit takes the decoded job when the record it
// reads under its locks is, byte for byte, the one decoded. A job is a
// function of its bytes (GetJob), so a record changed meanwhile (another
// node, the pipeline adding a message, a batch rolled back) is only a miss:
// it is decoded in the commit as before.

// maxDecodedJobs bounds the records kept (one per held email being
// acknowledged; a few kB each).
const maxDecodedJobs = 4096

type decodedJob struct {
	raw []byte
	job *Job // nil until decoded
}

type jobCache struct {
	mu   sync.Mutex
	jobs map[string]*decodedJob
	hits atomic.Int64 // records taken decoded (for the tests)
}

var decodedJobs jobCache

// keep records raw (the caller's to keep) as job id's record, to be
// decoded later.
func (c *jobCache) keep(id string, raw []byte) {
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
	c.jobs[id] = &decodedJob{raw: raw}
}

func (c *jobCache) forget(id string) {
	c.mu.Lock()
	delete(c.jobs, id)
	c.mu.Unlock()
}

// decode decodes job id's record kept, if not yet.
func (c *jobCache) decode(id string) {
	c.mu.Lock()
	e := c.jobs[id]
	c.mu.Unlock()
	if e == nil || e.job != nil {
		return
	}
	j, err := decodeJob(id, e.raw)
	if err != nil {
		c.forget(id)
		return
	}
	c.mu.Lock()
	if c.jobs[id] == e {
		e.job = &j
	}
	c.mu.Unlock()
}

// get returns job id decoded from raw, if raw is the record kept and
// decoded: a copy the caller may change.
func (c *jobCache) get(id string, raw []byte) (Job, bool) {
	c.mu.Lock()
	e := c.jobs[id]
	c.mu.Unlock()
	if e == nil || e.job == nil || !bytes.Equal(e.raw, raw) {
		return Job{}, false
	}
	c.hits.Add(1)
	j := *e.job
	j.Messages, j.Dropped = slices.Clone(j.Messages), slices.Clone(j.Dropped)
	return j, true
}
