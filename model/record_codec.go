package model

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"
)

// People and conversations are written in a compact binary form: the
// pipeline reads the author and the conversation of every email several
// times in its commit and writes them once or twice, and JSON decoding of
// them was the largest share of the daemon's JSON work per email
// (docs/PERFORMANCE.md, branch pipecpu). Records written as JSON (by
// earlier versions, or by this one when a value has no exact binary form)
// begin with '{' and are still read. What a record reads back as is the
// same either way: a value the binary form could give back differently
// from a JSON round trip (a string that is not UTF-8, which JSON would
// change; a time outside the years 1678-2261, or whose zone offset has
// seconds) is written as JSON, as before.
//
// The form, version 1: 0x01, then the fields in order; a string as
// uvarint(length) and its bytes; a list of strings as uvarint(count+1)
// and each string (0: a nil list); a time as a byte (0: the zero time,
// 1: UTC, 2: another offset) and, when set, varint(UnixNano), and for 2
// varint(offset in seconds), read back as encoding/json reads the
// RFC 3339 form (the Local zone when the offset is Local's at that
// instant, else a zone with that offset and no name); flags as one byte.
//
//	Person:       ID Kind Name Emails Settings.Visibility
//	              Settings.FromCustomers Settings.FromUsers Created flags
//	              (1 ShowFromCustomers, 2 FollowedInternal,
//	              4 AssignmentChanges, 8 NewMembers, 16 AcceptInvitations,
//	              32 Unverified)
//	Conversation: ID Item Kind Subject Followers Tag RootID Created
//	              OpenedUnverified AgentWrote (a byte, 0: nil, 1: a time
//	              follows)
const recordV1 = 0x01

var errBadRecord = errors.New("malformed binary record")

// maxRecordList bounds the count a binary record may claim for a list
// before any element is read.
const maxRecordList = 1 << 16

// encodeRecord is the stored form of v: binary for a person or a
// conversation that has one, JSON otherwise.
func encodeRecord(v any) ([]byte, error) {
	var b []byte
	ok := false
	switch r := v.(type) {
	case Person:
		b, ok = encodePerson(&r)
	case *Person:
		b, ok = encodePerson(r)
	case Conversation:
		b, ok = encodeConversation(&r)
	case *Conversation:
		b, ok = encodeConversation(r)
	}
	if ok {
		return b, nil
	}
	return json.Marshal(v)
}

// decodeRecord reads a stored record into v, in either form.
func decodeRecord(b []byte, v any) error {
	if len(b) == 0 || b[0] != recordV1 {
		return json.Unmarshal(b, v)
	}
	switch r := v.(type) {
	case *Person:
		return decodePerson(b, r)
	case *Conversation:
		return decodeConversation(b, r)
	}
	return errBadRecord
}

type recEncoder struct {
	b  []byte
	ok bool
}

func (e *recEncoder) str(s string) {
	if !utf8.ValidString(s) {
		e.ok = false
	}
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *recEncoder) list(l []string) {
	if l == nil {
		e.b = append(e.b, 0)
		return
	}
	e.b = binary.AppendUvarint(e.b, uint64(len(l))+1)
	for _, s := range l {
		e.str(s)
	}
}

// Times the binary form holds: UnixNano's range, whole minutes of offset
// (RFC 3339 has no seconds of offset).
var (
	minRecordTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	maxRecordTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (e *recEncoder) time(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	_, off := t.Zone()
	if t.Before(minRecordTime) || !t.Before(maxRecordTime) || off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		e.ok = false
		return
	}
	if off == 0 {
		e.b = append(e.b, 1)
		e.b = binary.AppendVarint(e.b, t.UnixNano())
		return
	}
	e.b = append(e.b, 2)
	e.b = binary.AppendVarint(e.b, t.UnixNano())
	e.b = binary.AppendVarint(e.b, int64(off))
}

func encodePerson(p *Person) ([]byte, bool) {
	e := recEncoder{b: make([]byte, 0, 128), ok: true}
	e.b = append(e.b, recordV1)
	e.str(p.ID)
	s := &p.Settings
	// The enums' text form refuses an unknown value, and so JSON does.
	for _, m := range []encoding.TextMarshaler{p.Kind, s.Visibility, s.FromCustomers, s.FromUsers} {
		if _, err := m.MarshalText(); err != nil {
			return nil, false
		}
	}
	e.str(string(p.Kind))
	e.str(p.Name)
	e.list(p.Emails)
	e.str(string(s.Visibility))
	e.str(string(s.FromCustomers))
	e.str(string(s.FromUsers))
	e.time(p.Created)
	e.b = append(e.b, flags(s.ShowFromCustomers, s.FollowedInternal, s.AssignmentChanges, s.NewMembers,
		s.AcceptInvitations, p.Unverified))
	return e.b, e.ok
}

func decodePerson(b []byte, p *Person) error {
	*p = Person{}
	d := recDecoder{b: b[1:]}
	p.ID = d.str()
	d.text(&p.Kind)
	p.Name = d.str()
	p.Emails = d.list()
	s := &p.Settings
	d.text(&s.Visibility)
	d.text(&s.FromCustomers)
	d.text(&s.FromUsers)
	p.Created = d.time()
	f := d.byte()
	if f >= 1<<6 {
		d.bad = true
	}
	s.ShowFromCustomers, s.FollowedInternal, s.AssignmentChanges = f&1 != 0, f&2 != 0, f&4 != 0
	s.NewMembers, s.AcceptInvitations, p.Unverified = f&8 != 0, f&16 != 0, f&32 != 0
	if d.bad || len(d.b) != 0 {
		*p = Person{}
		return errBadRecord
	}
	return nil
}

func encodeConversation(c *Conversation) ([]byte, bool) {
	e := recEncoder{b: make([]byte, 0, 128), ok: true}
	e.b = append(e.b, recordV1)
	e.str(c.ID)
	e.str(c.Item)
	e.str(c.Kind)
	e.str(c.Subject)
	e.list(c.Followers)
	e.str(c.Tag)
	e.str(c.RootID)
	e.time(c.Created)
	e.str(c.OpenedUnverified)
	if c.AgentWrote == nil {
		e.b = append(e.b, 0)
	} else {
		e.b = append(e.b, 1)
		e.time(*c.AgentWrote)
	}
	return e.b, e.ok
}

func decodeConversation(b []byte, c *Conversation) error {
	*c = Conversation{}
	d := recDecoder{b: b[1:]}
	c.ID = d.str()
	c.Item = d.str()
	c.Kind = d.str()
	c.Subject = d.str()
	c.Followers = d.list()
	c.Tag = d.str()
	c.RootID = d.str()
	c.Created = d.time()
	c.OpenedUnverified = d.str()
	switch d.byte() {
	case 0:
	case 1:
		t := d.time()
		c.AgentWrote = &t
	default:
		d.bad = true
	}
	if d.bad || len(d.b) != 0 {
		*c = Conversation{}
		return errBadRecord
	}
	return nil
}

func flags(bits ...bool) byte {
	var f byte
	for i, b := range bits {
		if b {
			f |= 1 << i
		}
	}
	return f
}

// recDecoder reads varints, bytes and strings off b; any malformed read
// sets bad and yields zero values from then on.
type recDecoder struct {
	b   []byte
	bad bool
}

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

func (d *recDecoder) took(x uint64, n int) uint64 {
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return x
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

func (d *recDecoder) str() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// text reads a string into an enum, which refuses an unknown value as
// its JSON form does.
func (d *recDecoder) text(v encoding.TextUnmarshaler) {
	s := d.str()
	if !d.bad && v.UnmarshalText([]byte(s)) != nil {
		d.bad = true
	}
}

func (d *recDecoder) list() []string {
	n := d.uvarint()
	if d.bad || n == 0 {
		return nil
	}
	n--
	if n > maxRecordList || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	l := make([]string, 0, n)
	for range n {
		l = append(l, d.str())
	}
	return l
}

// time reads a time as encoding/json reads the RFC 3339 form
// encoding/json writes: UTC for offset zero ("Z"); else the Local zone
// when the offset is Local's at that instant, else a zone with the
// offset and no name (time.Parse).
func (d *recDecoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
		n := d.varint()
		if d.bad {
			return time.Time{}
		}
		return time.Unix(0, n).UTC()
	case 2:
		n, off := d.varint(), d.varint()
		if d.bad || off == 0 || off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
			d.bad = true
			return time.Time{}
		}
		t := time.Unix(0, n).In(time.Local)
		if _, lo := t.Zone(); lo == int(off) {
			return t
		}
		return time.Unix(0, n).In(time.FixedZone("", int(off)))
	}
	d.bad = true
	return time.Time{}
}
