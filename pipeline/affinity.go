package pipeline

import (
	"time"

	"github.com/deskmail/deskmail/store"
)

// Node affinity (Pipeline.Affinity): on a store that several nodes share,
// a node's pipeline leaves the emails another node accepted to that node
// for a while, and takes them only once they are older than Affinity (the
// node that accepted them died, or falls behind). Without it every node
// scanned and claimed every node's new emails: with two nodes each lost
// more than a third of the emails it tried to claim to the other (locked
// by the other's claim, or claimed since its scan), each stored email
// woke the other node's pipeline through the database (a note, a scan),
// and the two nodes' claims and commits crossed on the same rows. It is a
// preference and nothing else: claims, fences, leases and the order
// check (inbound.EarlierBlocker) decide as before, so an email is never
// claimed by two owners at once, and a dead node's emails are taken over
// Affinity after they were accepted (those it had claimed, when their
// lease ends, as before).
//
// Which emails are this node's: those whose 250 it gave (Accepted), kept
// in memory until they are older than Affinity (foreignDue prunes them by
// age, claimed or not: the map holds at most Affinity and one dispatch
// interval of this node's accepts).
// How old an email is: the time in its id (store.NewID, when its DATA
// began, by the accepting node's clock), so a scan of the due index reads
// no state to tell; an id whose time is ahead of this node's clock gets
// no affinity.
//
// One ordering key over two nodes (one sender's emails accepted by both)
// is the exception: that key's emails must be committed in the 250 order,
// which affinity would split between the nodes, each commit then waiting
// for the other node's earlier email. When a commit here finds an earlier
// email of its key that this node neither accepted nor holds
// (errEarlier), the node turns affinity off for affinityPause, and the
// rules of the order notes decide alone (the node that holds a key's
// first email takes its later ones), as without affinity.

// affinityPause is how long a node leaves affinity off after its commit
// found an earlier email of its ordering key accepted by another node.
const affinityPause = time.Minute

// affinity is the pipeline's state of it (guarded by Pipeline.mu).
type affinity struct {
	mine map[string]time.Time // ids accepted here -> when they are anyone's (pruned by age, claimed or not)
	// off: affinity is paused until then (a key over two nodes).
	off time.Time
	// foreign: the earliest moment a foreign email a scan passed over
	// becomes anyone's (zero: none passed over).
	foreign time.Time
	pruned  time.Time // when mine was last pruned of emails now anyone's
}

// Accepted tells the pipeline that this node stored email id and
// answered 250 for it, and wakes it: with Affinity, the email is this
// node's.
func (p *Pipeline) Accepted(id string) {
	p.init()
	if p.Affinity > 0 {
		if at, ok := store.IDTime(id); ok {
			p.mu.Lock()
			p.aff.mine[id] = at.Add(p.Affinity)
			p.mu.Unlock()
		}
	}
	p.Wake(id)
}

// Announce tells whether the other nodes should hear of this node's
// stored emails (a note through the database, which wakes their
// pipelines): not while affinity leaves those emails to this node.
func (p *Pipeline) Announce() bool {
	if p.Affinity <= 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Clock.Now().Before(p.aff.off)
}

// foreignLocked tells whether a scan at now passes over email id: another
// node accepted it less than Affinity ago, and affinity is not paused. It
// notes when the email becomes anyone's. p.mu is held.
func (p *Pipeline) foreignLocked(id string, now time.Time) bool {
	if p.Affinity <= 0 || now.Before(p.aff.off) {
		return false
	}
	if _, ok := p.aff.mine[id]; ok {
		return false
	}
	at, ok := store.IDTime(id)
	if !ok || at.After(now) {
		// An id from the future: the other node's clock is ahead of
		// this one's. Its email is anyone's, or a skew of an hour
		// would keep a dead node's emails for an hour.
		return false
	}
	until := at.Add(p.Affinity)
	if !now.Before(until) {
		return false
	}
	if p.aff.foreign.IsZero() || until.Before(p.aff.foreign) {
		p.aff.foreign = until
	}
	return true
}

// foreignDue returns, and forgets, the earliest moment a foreign email
// passed over since the last call becomes anyone's (zero: none); it
// prunes now and then the emails of this node's that are anyone's now.
func (p *Pipeline) foreignDue(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.aff.foreign
	p.aff.foreign = time.Time{}
	if p.Affinity > 0 && now.Sub(p.aff.pruned) >= p.Affinity {
		p.aff.pruned = now
		for id, until := range p.aff.mine {
			if !now.Before(until) {
				delete(p.aff.mine, id)
			}
		}
	}
	return f
}

// pauseAffinity turns affinity off for affinityPause: a commit here found
// blocker, an earlier email of its ordering key, neither in this
// process's hands nor accepted here.
func (p *Pipeline) pauseAffinity(blocker string) {
	if p.Affinity <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.aff.mine[blocker]; ok || p.inflight[blocker] {
		return
	}
	p.aff.off = p.Clock.Now().Add(affinityPause)
}
