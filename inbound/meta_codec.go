package inbound

import (
	"encoding/binary"
	"encoding/json"
	"errors"
)

// A stored email's record (Meta) is written in a compact binary form too:
// the pipeline reads it for every email and rewrites it once (Annotate),
// and JSON decoding of it was a few percent of the daemon's CPU per email.
// Records written as JSON by earlier versions (they begin with '{') are
// still read. The HTTP API and the CLI show a Meta as JSON as before:
// only the stored form changed.
//
// The form, version 1: 0x01, then every field in order, a string as
// uvarint(length) and its bytes, a list of strings as uvarint(count) and
// each string, a time as one byte (0: zero, 1: set) and varint(UnixNano)
// when set (read back in UTC), Size as a varint, Spooled as one byte,
// Bounce as a string (empty: none):
//
//	ID Received MailFrom Rcpts RemoteIP Helo Proto Size MessageID From
//	Subject BodyHash Spooled JournalID Class Reasons Bounce
//
// A record with a time int64 nanoseconds cannot hold is written as JSON.
const metaV1 = 0x01

// maxMetaList bounds the count a binary record may claim for a list
// before any element is read (recipients, reasons).
const maxMetaList = 1 << 16

var errBadMeta = errors.New("malformed binary inbound record")

func encodeMeta(b []byte, m *Meta) ([]byte, error) {
	if !m.Received.IsZero() && !nanoTime(m.Received) {
		v, err := json.Marshal(m)
		return append(b, v...), err
	}
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	list := func(l []string) {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	b = append(b, metaV1)
	str(m.ID)
	if m.Received.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, m.Received.UnixNano())
	}
	str(m.Envelope.MailFrom)
	list(m.Envelope.Rcpts)
	str(m.Envelope.RemoteIP)
	str(m.Envelope.Helo)
	str(m.Envelope.Proto)
	b = binary.AppendVarint(b, m.Size)
	str(m.MessageID)
	str(m.From)
	str(m.Subject)
	str(m.BodyHash)
	if m.Spooled {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	str(m.JournalID)
	str(m.Class)
	list(m.Reasons)
	str(string(m.Bounce))
	return b, nil
}

func decodeMeta(v []byte, m *Meta) error {
	*m = Meta{}
	if len(v) == 0 || v[0] != metaV1 {
		return json.Unmarshal(v, m)
	}
	d := newRecDecoder(v)
	list := func() []string {
		n := d.uvarint()
		if n > maxMetaList || n > uint64(len(d.b)) {
			d.bad = true
			return nil
		}
		if n == 0 {
			return nil
		}
		l := make([]string, 0, n)
		for range n {
			l = append(l, d.str())
		}
		return l
	}
	m.ID = d.str()
	switch d.byte() {
	case 0:
	case 1:
		m.Received = d.time()
	default:
		d.bad = true
	}
	m.Envelope.MailFrom = d.str()
	m.Envelope.Rcpts = list()
	m.Envelope.RemoteIP = d.str()
	m.Envelope.Helo = d.str()
	m.Envelope.Proto = d.str()
	m.Size = d.varint()
	m.MessageID = d.str()
	m.From = d.str()
	m.Subject = d.str()
	m.BodyHash = d.str()
	switch d.byte() {
	case 0:
	case 1:
		m.Spooled = true
	default:
		d.bad = true
	}
	m.JournalID = d.str()
	m.Class = d.str()
	m.Reasons = list()
	if bounce := d.str(); bounce != "" {
		if !json.Valid([]byte(bounce)) {
			d.bad = true // the API shows it as JSON
		}
		m.Bounce = json.RawMessage(bounce)
	}
	if d.bad || len(d.b) != 0 {
		*m = Meta{}
		return errBadMeta
	}
	return nil
}
