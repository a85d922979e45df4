package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// NewID returns a stable, unique string ID that sorts by creation time:
// 16 hex digits of Unix nanoseconds and 8 of randomness.
func NewID(t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%s", uint64(t.UnixNano()), hex.EncodeToString(r[:]))
}
