package intake

import (
	"testing"
	"time"
	"unsafe"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/mailmsg"
)

// The rate limit's cache of verdicts (up to maxRated entries, kept until
// evicted by count) keys them by a copy of the stored id, not by m.ID
// itself: inbound's decoders make the id a piece of the whole record,
// which such a key would keep alive (up to about 4 KB a record).
func TestRatedCacheKeepsItsOwnCopyOfTheID(t *testing.T) {
	record := "the whole decoded record: 0123456789abcdef01234567 and its Subject, From, Message-ID"
	id := record[26:50] // as inbound's decoders hand it out: a piece of the record
	c := &Classifier{Clock: clock.NewFake(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)), Guard: loopguard.New(loopguard.Options{})}
	m := inbound.Meta{ID: id, Envelope: inbound.Envelope{MailFrom: "ann@example.org", RemoteIP: "192.0.2.1", Rcpts: []string{"support@example.test"}}}
	c.checkRate(m, &mailmsg.Message{}, loopguard.Verdict{Class: loopguard.Human})
	keys := c.rated.Keys()
	if len(keys) != 1 || keys[0] != id {
		t.Fatalf("cache keys %q, want [%q]", keys, id)
	}
	if unsafe.StringData(keys[0]) == unsafe.StringData(id) {
		t.Error("the cache's key shares the record's memory: it keeps the whole record alive")
	}
}
