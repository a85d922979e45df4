package model

import (
	"bytes"

	"github.com/deskmail/deskmail/store"
)

// MessagesAfter lists a conversation's messages that come after the
// message ID after (all of them when after is empty), oldest first, at
// most limit. It is Messages with a cursor, so a client pages through a
// long conversation without reading it all at once.
func MessagesAfter(tx *store.Tx, conv, after string, limit int) ([]Message, error) {
	prefix := []byte(conv + "\x00")
	from := prefix
	if after != "" {
		// The first key after conv\x00after: append a zero byte.
		from = append(convKey(conv, after), 0)
	}
	var out []Message
	err := tx.Scan(bConvMessages, from, func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) || len(out) >= limit {
			return false, nil
		}
		m, err := GetMessage(tx, string(k[len(prefix):]))
		if err != nil {
			return false, err
		}
		out = append(out, m)
		return len(out) < limit, nil
	})
	return out, err
}
