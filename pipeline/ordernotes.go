package pipeline

import (
	"slices"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/store"
)

// orderNotes are what this process has learnt of the emails that hold
// back the later emails of an ordering key and that it does not hold:
// an earlier email another node holds (its commit found it pending,
// inbound.EarlierBlocker), or one of its own that it gave back to wait
// for such an email. The dispatcher's claims read the due index, which
// says nothing of an email's keys, and would hand out the key's later
// emails, whose commits would find the earlier one pending and be given
// back, their steps done for nothing (one sender's emails over two
// nodes: most of both nodes' work). With the notes, a claim passes over
// an email one of whose keys has a noted email numbered before it that
// this process does not hold (heldBack; the in-process sequencer orders
// the emails of a key it holds), and the next scans pass over it unread
// (held). Each dispatch reads the state of the first noted email of
// every key that is not in hand (checkNotes) and forgets the ones that
// no longer hold anything back (committed, claimable by anyone, their
// lease ended): a note is never trusted longer than one dispatch, so it
// cannot keep an email from being claimed once nothing holds it back.
// The pipeline's mutex guards them.
type orderNotes struct {
	keys    map[string]map[string]uint64 // ordering key -> email id -> its Seq
	blocked map[string]blockedEmail      // emails a claim passed over for a note
}

type blockedEmail struct {
	seq  uint64
	keys []string
}

func (o *orderNotes) init() {
	o.keys = map[string]map[string]uint64{}
	o.blocked = map[string]blockedEmail{}
}

func (o *orderNotes) note(key, id string, seq uint64) {
	m := o.keys[key]
	if m == nil {
		m = map[string]uint64{}
		o.keys[key] = m
	}
	m[id] = seq
}

func (o *orderNotes) forget(key, id string) {
	if m := o.keys[key]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(o.keys, key)
		}
	}
	if len(o.keys) == 0 {
		clear(o.blocked)
	}
}

// holds tells whether one of keys has a noted email numbered before seq
// that mine does not say is in hand.
func (o *orderNotes) holds(keys []string, seq uint64, mine func(id string) bool) bool {
	for _, k := range keys {
		for id, s := range o.keys[k] {
			if s < seq && !mine(id) {
				return true
			}
		}
	}
	return false
}

// heldBack tells a claim whether email id, as read under its lock, is
// to be left to the holder of an earlier email of its keys; batch: the
// emails this claim took before it (in the 250 order).
func (p *Pipeline) heldBack(id string, st inbound.State, batch map[string]bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.order.holds(st.Keys, st.Seq, func(o string) bool { return p.inflight[o] || batch[o] }) {
		return false
	}
	p.order.blocked[id] = blockedEmail{seq: st.Seq, keys: st.Keys}
	return true
}

// held passes over (inbound.Scan.Held) an email a claim left for a note
// that still holds it back.
func (p *Pipeline) held(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.order.blocked[id]
	if !ok {
		return false
	}
	if p.order.holds(b.keys, b.seq, func(o string) bool { return p.inflight[o] }) {
		metricDuePassedHeld.Inc()
		return true
	}
	delete(p.order.blocked, id)
	return false
}

// noteHeld learns from a commit given back for an earlier email (early)
// of its keys: that email, if this process does not hold it, and t,
// given back, hold back the later emails of their keys.
func (p *Pipeline) noteHeld(t *task, early errEarlier) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if early.key != "" && !p.inflight[early.id] {
		p.order.note(early.key, early.id, early.seq)
	}
	for _, k := range t.keys {
		p.order.note(k, t.id, t.st.Seq)
	}
}

// forgetHeld forgets the notes of t, committed.
func (p *Pipeline) forgetHeld(t *task) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range t.keys {
		p.order.forget(k, t.id)
	}
}

// checkNotes reads, for every noted key, its first noted email not in
// hand (and the next while one holds nothing back any more), forgets
// those that hold nothing back, and returns when the first of those
// still holding may stop (zero: none).
func (p *Pipeline) checkNotes(tx *store.Tx, now time.Time) (time.Time, error) {
	type idSeq struct {
		id  string
		seq uint64
	}
	p.mu.Lock()
	if len(p.order.keys) == 0 {
		p.mu.Unlock()
		return time.Time{}, nil
	}
	byKey := make(map[string][]idSeq, len(p.order.keys))
	for k, m := range p.order.keys {
		var l []idSeq
		for id, s := range m {
			if !p.inflight[id] {
				l = append(l, idSeq{id, s})
			}
		}
		slices.SortFunc(l, func(a, b idSeq) int {
			switch {
			case a.seq < b.seq:
				return -1
			case a.seq > b.seq:
				return 1
			}
			return 0
		})
		byKey[k] = l
	}
	p.mu.Unlock()
	read := map[string]time.Time{}
	type keyID struct{ key, id string }
	var drop []keyID
	var first time.Time
	for k, l := range byKey {
		for _, e := range l {
			until, ok := read[e.id]
			if !ok {
				var err error
				if until, err = inbound.HoldsBack(tx, e.id, p.owner, now, p.stale); err != nil {
					return time.Time{}, err
				}
				read[e.id] = until
			}
			if until.IsZero() {
				drop = append(drop, keyID{k, e.id})
				continue
			}
			if first.IsZero() || until.Before(first) {
				first = until
			}
			break
		}
	}
	if len(drop) > 0 {
		p.mu.Lock()
		for _, d := range drop {
			p.order.forget(d.key, d.id)
		}
		p.mu.Unlock()
	}
	return first, nil
}
