package model

import (
	"bytes"

	"github.com/deskmail/deskmail/store"
)

// MessagesAfter lists a conversation's messages that come after the
// message ID after (from the first when after is empty), oldest first: at
// most limit of them, and no more once their text and HTML reach
// maxBytes (but always one, if there is one). more tells whether messages
// are left after those. It is Messages with a cursor and a size budget,
// so a client pages through a long conversation without either side
// holding all of it at once.
func MessagesAfter(tx *store.Tx, conv, after string, limit, maxBytes int) (msgs []Message, more bool, err error) {
	prefix := []byte(conv + "\x00")
	from := prefix
	if after != "" {
		// The first key after conv\x00after: append a zero byte.
		from = append(convKey(conv, after), 0)
	}
	size := 0
	err = tx.Scan(bConvMessages, from, func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		if len(msgs) >= limit || (len(msgs) > 0 && size >= maxBytes) {
			more = true
			return false, nil
		}
		m, err := GetMessage(tx, string(k[len(prefix):]))
		if err != nil {
			return false, err
		}
		msgs = append(msgs, m)
		size += len(m.Text) + len(m.HTML)
		return true, nil
	})
	return msgs, more, err
}
