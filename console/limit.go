package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/deskmail/deskmail/httplimit"
)

// Failed logins are rate limited per client IP and per account name: a
// guesser spread over many addresses still meets the account's limit,
// and one address cannot lock every account out for long. Every attempt
// spends a token before its password is checked (atomically, so parallel
// guesses count too); a right password gives it back, so only failures
// cost in the end.
//
// The defaults: 5 failures at once, then one per 12 s per IP (300 an
// hour); 5 at once, then one per 30 s per account (120 an hour).
var (
	DefaultIPLimit      = Limit{Every: 12 * time.Second, Burst: 5}
	DefaultAccountLimit = Limit{Every: 30 * time.Second, Burst: 5}
)

// Keys. An IPv6 client counts by its /64 (one subscriber's usual
// allocation, as httplimit counts connections), so the addresses of one
// network cannot each get a fresh bucket. An account counts by its name
// only when the account exists; an unknown name counts in one of
// UnknownNameBuckets buckets picked by a keyed hash of the name (secret,
// random per process), so invented names cannot fill the table and crowd
// out real accounts' buckets, while an unknown name still behaves like a
// known one (5 tries, then limited) and the answers tell nothing of which
// names exist.
const UnknownNameBuckets = 1024

// clientKey is the key of a client address, as httplimit counts
// connections: the IPv4 address (an IPv4-mapped IPv6 one unmapped), or the
// IPv6 /64.
func clientKey(host string) string {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host // "local": the control socket
	}
	p := httplimit.ClientPrefix(ip)
	if p.Addr().Is4() {
		return p.Addr().String()
	}
	return p.String()
}

// accountKeys names account buckets.
type accountKeys struct{ secret [32]byte }

func newAccountKeys() *accountKeys {
	k := &accountKeys{}
	_, _ = rand.Read(k.secret[:]) // never fails (crypto/rand)
	return k
}

// key is the bucket of a login attempt for user: the name when the
// account exists, else its unknown-name bucket.
func (k *accountKeys) key(user string, exists bool) string {
	if exists {
		return "account " + user
	}
	mac := hmac.New(sha256.New, k.secret[:])
	mac.Write([]byte(user))
	return "unknown " + strconv.Itoa(int(binary.BigEndian.Uint32(mac.Sum(nil))%UnknownNameBuckets))
}

// MaxLimiterKeys bounds the memory of the limiters. When a table is full
// the recovered entries are dropped; if none is, new keys are refused
// (fail closed) until some recover.
const MaxLimiterKeys = 10000

// Limit is a token bucket: Burst failures at once, then one per Every.
type Limit struct {
	Every time.Duration
	Burst int
}

type limiter struct {
	mu    sync.Mutex
	limit Limit
	keys  map[string]*rate.Limiter
}

func newLimiter(l Limit) *limiter {
	return &limiter{limit: l, keys: map[string]*rate.Limiter{}}
}

// take spends one of key's tokens before the password is checked, so
// parallel guesses cannot all pass a check that no failure has spent
// yet: false if key has none left (or the table is full). The attempt's
// token comes back with refund when the password was right.
func (l *limiter) take(key string, now time.Time) (*rate.Reservation, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rl, ok := l.keys[key]
	if !ok {
		if len(l.keys) >= MaxLimiterKeys && !l.sweep(now) {
			return nil, false
		}
		rl = rate.NewLimiter(rate.Every(l.limit.Every), l.limit.Burst)
		l.keys[key] = rl
	}
	r := rl.ReserveN(now, 1)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return nil, false
	}
	return r, true
}

// refund gives back the token of an attempt that succeeded.
func refund(r *rate.Reservation, now time.Time) {
	if r != nil {
		r.CancelAt(now)
	}
}

// sweep drops the keys whose bucket is full again; true if any room was made.
func (l *limiter) sweep(now time.Time) bool {
	for k, rl := range l.keys {
		if rl.TokensAt(now) >= float64(l.limit.Burst) {
			delete(l.keys, k)
		}
	}
	return len(l.keys) < MaxLimiterKeys
}
