package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// NewID returns a stable, unique string ID that sorts by creation time:
// 16 hex digits of Unix nanoseconds and 8 of randomness.
func NewID(t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%s", uint64(t.UnixNano()), hex.EncodeToString(r[:]))
}

// IDTime is the time in an id of NewID (its 16 hex digits of Unix
// nanoseconds); false for an id of another form.
func IDTime(id string) (time.Time, bool) {
	if len(id) < 16 {
		return time.Time{}, false
	}
	n, err := strconv.ParseUint(id[:16], 16, 64)
	if err != nil || n > 1<<62 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(n)), true
}
