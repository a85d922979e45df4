package inbound

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/deskmail/deskmail/jobs"
)

// A State is stored in a compact binary form: every claim, lease renewal,
// deferral and commit of an email rewrites it, and every scan for due
// emails (Due, PendingTotals, List) reads all pending ones, where JSON
// cost a tenth of the pipeline's store CPU. States written as JSON by
// earlier versions (they begin with '{') are still read; an empty value
// is an email stored before states existed.
//
// The form, version 1:
//
//	0x01, uvarint(present), uvarint(Seq), varint(Size),
//	then, for each bit of present that is set, in this order:
//	Stored, Keys, Attempts, Next, Backoff, Reason, Owner, Lease, Fence, Failed
//
// A time is varint(UnixNano) (read back in UTC), Keys is uvarint(count)
// then each key, a string is uvarint(length) then its bytes, Attempts is
// a varint, Fence a uvarint; Backoff is its bit alone. A State whose times
// cannot be told in int64 nanoseconds (before 1678 or after 2262) is
// written as JSON.
const stateV1 = 0x01

const (
	stStored = 1 << iota
	stKeys
	stAttempts
	stNext
	stBackoff
	stReason
	stOwner
	stLease
	stFence
	stFailed
)

// maxStateKeys bounds the keys a binary state may claim, before any of
// them is read (OrderKeys makes a few per email).
const maxStateKeys = 1 << 12

var errBadState = errors.New("malformed binary state")

// encodeState appends st's stored form to b.
func encodeState(b []byte, st *State) ([]byte, error) {
	for _, t := range []time.Time{st.Stored, st.Next, st.Until, st.Failed} {
		if !t.IsZero() && !nanoTime(t) {
			v, err := json.Marshal(toJSON(st))
			return append(b, v...), err
		}
	}
	var present uint64
	set := func(bit uint64, on bool) {
		if on {
			present |= bit
		}
	}
	set(stStored, !st.Stored.IsZero())
	set(stKeys, len(st.Keys) > 0)
	set(stAttempts, st.Attempts != 0)
	set(stNext, !st.Next.IsZero())
	set(stBackoff, st.Backoff)
	set(stReason, st.Reason != "")
	set(stOwner, st.Owner != "")
	set(stLease, !st.Until.IsZero())
	set(stFence, st.Fence != 0)
	set(stFailed, !st.Failed.IsZero())

	b = append(b, stateV1)
	b = binary.AppendUvarint(b, present)
	b = binary.AppendUvarint(b, st.Seq)
	b = binary.AppendVarint(b, st.Size)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if present&stStored != 0 {
		b = binary.AppendVarint(b, st.Stored.UnixNano())
	}
	if present&stKeys != 0 {
		b = binary.AppendUvarint(b, uint64(len(st.Keys)))
		for _, k := range st.Keys {
			str(k)
		}
	}
	if present&stAttempts != 0 {
		b = binary.AppendVarint(b, int64(st.Attempts))
	}
	if present&stNext != 0 {
		b = binary.AppendVarint(b, st.Next.UnixNano())
	}
	if present&stReason != 0 {
		str(st.Reason)
	}
	if present&stOwner != 0 {
		str(st.Owner)
	}
	if present&stLease != 0 {
		b = binary.AppendVarint(b, st.Until.UnixNano())
	}
	if present&stFence != 0 {
		b = binary.AppendUvarint(b, st.Fence)
	}
	if present&stFailed != 0 {
		b = binary.AppendVarint(b, st.Failed.UnixNano())
	}
	return b, nil
}

// nanoTime tells whether t survives a round trip through UnixNano.
func nanoTime(t time.Time) bool {
	return t.After(time.Unix(0, math.MinInt64)) && t.Before(time.Unix(0, math.MaxInt64))
}

// decodeState reads a stored state: binary, JSON of earlier versions, or
// empty (the zero State).
func decodeState(v []byte, st *State) error {
	*st = State{}
	if len(v) == 0 {
		return nil
	}
	if v[0] != stateV1 {
		var j stateJSON
		err := json.Unmarshal(v, &j)
		*st = j.state()
		return err
	}
	d := newRecDecoder(v)
	present := d.uvarint()
	st.Seq = d.uvarint()
	st.Size = d.varint()
	if present&stStored != 0 {
		st.Stored = d.time()
	}
	if present&stKeys != 0 {
		n := d.uvarint()
		if n > maxStateKeys || n > uint64(len(d.b)) {
			d.bad, n = true, 0
		}
		if n > 0 {
			st.Keys = make([]string, 0, n)
		}
		for range n {
			st.Keys = append(st.Keys, d.str())
		}
	}
	if present&stAttempts != 0 {
		a := d.varint()
		if a < math.MinInt32 || a > math.MaxInt32 {
			d.bad, a = true, 0
		}
		st.Attempts = int(a)
	}
	if present&stNext != 0 {
		st.Next = d.time()
	}
	st.Backoff = present&stBackoff != 0
	if present&stReason != 0 {
		st.Reason = d.str()
	}
	if present&stOwner != 0 {
		st.Owner = d.str()
	}
	if present&stLease != 0 {
		st.Until = d.time()
	}
	if present&stFence != 0 {
		st.Fence = d.uvarint()
	}
	if present&stFailed != 0 {
		st.Failed = d.time()
	}
	if d.bad || len(d.b) != 0 {
		*st = State{}
		return errBadState
	}
	return nil
}

// stateJSON is the JSON form of a State, as earlier versions wrote it
// (and as a state with far times is still written).
type stateJSON struct {
	Seq      uint64    `json:"seq"`
	Stored   time.Time `json:"stored,omitzero"`
	Size     int64     `json:"size"`
	Keys     []string  `json:"keys,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Next     time.Time `json:"next,omitzero"`
	Backoff  bool      `json:"backoff,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Owner    string    `json:"owner,omitempty"`
	Lease    time.Time `json:"lease,omitzero"`
	Fence    uint64    `json:"fence,omitempty"`
	Failed   time.Time `json:"failed,omitzero"`
}

func toJSON(st *State) stateJSON {
	return stateJSON{Seq: st.Seq, Stored: st.Stored, Size: st.Size, Keys: st.Keys, Attempts: st.Attempts,
		Next: st.Next, Backoff: st.Backoff, Reason: st.Reason, Owner: st.Owner, Lease: st.Until,
		Fence: st.Fence, Failed: st.Failed}
}

func (j stateJSON) state() State {
	return State{Seq: j.Seq, Stored: j.Stored, Size: j.Size, Keys: j.Keys,
		Lease: jobs.Lease{Owner: j.Owner, Fence: j.Fence, Until: j.Lease, Attempts: j.Attempts,
			Next: j.Next, Reason: j.Reason},
		Backoff: j.Backoff, Failed: j.Failed}
}

// recDecoder reads varints, bytes and strings off b; any malformed read sets
// bad and yields zero values from then on.
type recDecoder struct {
	b   []byte
	bad bool
	// whole is the record as one string, made once: the strings read are
	// pieces of it (b is always its tail), not an allocation each.
	whole string
}

// newRecDecoder reads v past its version byte.
func newRecDecoder(v []byte) recDecoder { return recDecoder{b: v[1:], whole: string(v)} }

func (d *recDecoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	return d.took(x, n)
}

func (d *recDecoder) varint() int64 {
	if d.bad {
		return 0
	}
	x, n := binary.Varint(d.b)
	return int64(d.took(uint64(x), n))
}

// took consumes the n bytes a varint read took and returns x, or marks d
// bad (n <= 0: truncated or overflowing).
func (d *recDecoder) took(x uint64, n int) uint64 {
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *recDecoder) time() time.Time {
	n := d.varint()
	if d.bad {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (d *recDecoder) str() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	at := len(d.whole) - len(d.b)
	s := d.whole[at : at+int(n)]
	d.b = d.b[n:]
	return s
}

func (d *recDecoder) byte() byte {
	if d.bad || len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}
