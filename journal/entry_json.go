package journal

import (
	"encoding/json"
	"time"

	"github.com/deskmail/deskmail/internal/jsonrec"
)

// An email's entry is written once at its 250 and rewritten twice in the
// pipeline's commit (the verdict, then the threading's outcome), each a
// decode and an encode; encoding/json's reflection took 5% of the
// daemon's CPU per email. encodeEntry writes the bytes json.Marshal
// writes and decodeEntry reads what json.Unmarshal reads
// (TestEntryJSONSameAsEncodingJSON, FuzzDecodeEntry): the entries stay
// the JSON the deskmail_log view and earlier versions read.

// encodeEntry is json.Marshal(e).
func encodeEntry(e *Entry) ([]byte, error) {
	b := make([]byte, 0, 512)
	b = append(b, '{')
	b = jsonrec.String(jsonrec.Key(b, "id"), e.ID)
	b, ok := jsonrec.TimeMember(b, "time", e.Time)
	if !ok {
		return json.Marshal(e) // its own error
	}
	b = jsonrec.String(jsonrec.Key(b, "direction"), string(e.Direction))
	b = jsonrec.String(jsonrec.Key(b, "status"), e.Status)
	b = jsonrec.OptString(b, "reason", e.Reason)
	b = jsonrec.OptString(b, "message_id", e.MessageID)
	b = jsonrec.OptString(b, "stored_id", e.StoredID)
	b = jsonrec.String(jsonrec.Key(b, "envelope_from"), e.EnvelopeFrom)
	b = jsonrec.OptStrings(b, "envelope_to", e.EnvelopeTo)
	b = jsonrec.OptString(b, "from", e.From)
	b = jsonrec.OptString(b, "subject", e.Subject)
	if e.Size != 0 {
		b = jsonrec.Int(jsonrec.Key(b, "size"), e.Size)
	}
	b = jsonrec.OptString(b, "remote_ip", e.RemoteIP)
	b = jsonrec.OptString(b, "proto", e.Proto)
	b = jsonrec.OptString(b, "via", e.Via)
	b = jsonrec.OptString(b, "class", e.Class)
	b = jsonrec.OptStrings(b, "reasons", e.Reasons)
	b = jsonrec.OptString(b, "action", e.Action)
	b = jsonrec.OptString(b, "conversation", e.Conversation)
	b = jsonrec.OptString(b, "thread_by", e.ThreadBy)
	b = jsonrec.OptString(b, "auth", e.Auth)
	b = jsonrec.OptTrue(b, "unverified", e.Unverified)
	b = jsonrec.OptString(b, "job", e.Job)
	b = jsonrec.OptString(b, "person", e.Person)
	b = jsonrec.OptStrings(b, "messages", e.Messages)
	if b, ok = jsonrec.OptTimeMember(b, "next_attempt", e.NextAttempt); !ok {
		return json.Marshal(e)
	}
	b = jsonrec.OptString(b, "attention", e.Attention)
	return append(b, '}'), nil
}

// decodeEntry is json.Unmarshal(b, e) for an e that is zero.
func decodeEntry(b []byte, e *Entry) error {
	if decodeEntryFast(b, e) {
		return nil
	}
	*e = Entry{}
	return json.Unmarshal(b, e)
}

func decodeEntryFast(b []byte, e *Entry) bool {
	c := jsonrec.Cursor{B: b, S: string(b)}
	c.Object(func(k []byte) {
		switch string(k) {
		case "id":
			e.ID = c.Str()
		case "time":
			c.Time(&e.Time)
		case "direction":
			e.Direction = Direction(c.Str())
		case "status":
			e.Status = c.Str()
		case "reason":
			e.Reason = c.Str()
		case "message_id":
			e.MessageID = c.Str()
		case "stored_id":
			e.StoredID = c.Str()
		case "envelope_from":
			e.EnvelopeFrom = c.Str()
		case "envelope_to":
			e.EnvelopeTo = c.Strings()
		case "from":
			e.From = c.Str()
		case "subject":
			e.Subject = c.Str()
		case "size":
			e.Size = c.Int()
		case "remote_ip":
			e.RemoteIP = c.Str()
		case "proto":
			e.Proto = c.Str()
		case "via":
			e.Via = c.Str()
		case "class":
			e.Class = c.Str()
		case "reasons":
			e.Reasons = c.Strings()
		case "action":
			e.Action = c.Str()
		case "conversation":
			e.Conversation = c.Str()
		case "thread_by":
			e.ThreadBy = c.Str()
		case "auth":
			e.Auth = c.Str()
		case "unverified":
			e.Unverified = c.Bool()
		case "job":
			e.Job = c.Str()
		case "person":
			e.Person = c.Str()
		case "messages":
			e.Messages = c.Strings()
		case "next_attempt":
			if c.Null() {
				e.NextAttempt = nil
				return
			}
			t := new(time.Time)
			c.Time(t)
			e.NextAttempt = t
		case "attention":
			e.Attention = c.Str()
		default:
			c.Bad = true
		}
	})
	return c.Done()
}
