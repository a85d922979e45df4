package queue

import (
	"encoding/json"
	"strconv"

	"github.com/deskmail/deskmail/internal/jsonrec"
)

// A seen-ack of a held email writes its job's record (about 700 bytes
// of JSON: every message it holds and has dropped) and a delivery, inside
// the commit; json.Marshal spent reflection and a dozen allocations on
// each. encodeJob and encodeDelivery write the same bytes directly
// (TestRecordEncodeSameAsJSONMarshal), and hand a record they cannot
// write (a time json.Marshal refuses) to json.Marshal for its error.

// encodeJSON is json.Marshal of v, written directly for the records a
// seen-ack writes.
func encodeJSON(v any) ([]byte, error) {
	switch r := v.(type) {
	case *Job:
		if b, ok := appendJob(make([]byte, 0, 256+32*(len(r.Messages)+len(r.Dropped))), r); ok {
			return b, nil
		}
	case Delivery:
		return appendDelivery(make([]byte, 0, 64+len(r.Status)), &r), nil
	}
	return json.Marshal(v)
}

func appendDelivery(b []byte, d *Delivery) []byte {
	b = append(b, '{')
	b = jsonrec.String(jsonrec.Key(b, "job"), d.Job)
	b = jsonrec.OptString(b, "status", d.Status)
	return append(b, '}')
}

func appendJob(b []byte, j *Job) ([]byte, bool) {
	ok := true
	b = append(b, '{')
	b = jsonrec.String(jsonrec.Key(b, "id"), j.ID)
	b = jsonrec.String(jsonrec.Key(b, "kind"), string(j.Kind))
	b = jsonrec.String(jsonrec.Key(b, "person"), j.Person)
	b = jsonrec.String(jsonrec.Key(b, "conversation"), j.Conversation)
	b = jsonrec.Strings(jsonrec.Key(b, "messages"), j.Messages)
	b = jsonrec.OptStrings(b, "dropped", j.Dropped)
	b = jsonrec.String(jsonrec.Key(b, "state"), string(j.State))
	if b, ok = jsonrec.TimeMember(b, "created", j.Created); !ok {
		return b, false
	}
	if b, ok = jsonrec.TimeMember(b, "updated", j.Updated); !ok {
		return b, false
	}
	if b, ok = jsonrec.TimeMember(b, "due", j.Due); !ok {
		return b, false
	}
	// jobs.Lease, embedded: its members in its fields' order.
	b = jsonrec.OptString(b, "lease_owner", j.Owner)
	if j.Fence != 0 {
		b = strconv.AppendUint(jsonrec.Key(b, "fence"), j.Fence, 10)
	}
	b = jsonrec.Int(jsonrec.Key(b, "attempts"), int64(j.Attempts))
	b = jsonrec.OptString(b, "reason", j.Reason)
	b = jsonrec.OptString(b, "to", j.To)
	b = jsonrec.OptString(b, "from", j.From)
	b = jsonrec.OptString(b, "message_id", j.MessageID)
	b = jsonrec.OptString(b, "subject", j.Subject)
	return append(b, '}'), true
}
