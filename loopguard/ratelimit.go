package loopguard

import (
	"container/list"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter keeps one token bucket per (sender, conversation), refilled at
// RateLimit per RateWindow with a burst of RateLimit. Memory is bounded:
// buckets idle for a whole window are full again and so are dropped, and
// past MaxRateKeys the least recently used bucket is dropped.
type rateLimiter struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	window  time.Duration
	maxKeys int
	lru     *list.List // of *bucket, most recent at the front
	keys    map[string]*list.Element
}

type bucket struct {
	key  string
	lim  *rate.Limiter
	last time.Time
}

func newRateLimiter(n int, window time.Duration, maxKeys int) *rateLimiter {
	return &rateLimiter{
		limit:   rate.Limit(float64(n) / window.Seconds()),
		burst:   n,
		window:  window,
		maxKeys: maxKeys,
		lru:     list.New(),
		keys:    map[string]*list.Element{},
	}
}

// AllowSender counts one inbound message of sender in conversation at now
// and reports whether it is within the rate limit. The daemon calls it once
// threading has named the conversation, and classifies the message
// `looping` when it is not; Guard.CheckRate does both.
//
// Two programs answering each other (an auto-responder without RFC 3834
// headers and a helpdesk, two helpdesks) are the loops no header catches;
// they show as one sender writing far faster than a person into one
// conversation.
func (g *Guard) AllowSender(sender, conversation string, now time.Time) (ok bool, reason string) {
	r := g.rate
	key := strings.ToLower(strings.TrimSpace(sender)) + "\x00" + conversation
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evictIdle(now)
	var b *bucket
	if e, found := r.keys[key]; found {
		b = e.Value.(*bucket)
		r.lru.MoveToFront(e)
	} else {
		if r.lru.Len() >= r.maxKeys {
			oldest := r.lru.Back()
			r.lru.Remove(oldest)
			delete(r.keys, oldest.Value.(*bucket).key)
		}
		b = &bucket{key: key, lim: rate.NewLimiter(r.limit, r.burst)}
		r.keys[key] = r.lru.PushFront(b)
	}
	if now.After(b.last) {
		b.last = now
	}
	if b.lim.AllowN(now, 1) {
		return true, ""
	}
	return false, fmt.Sprintf("sender %s is over %d messages per %s in conversation %s", sender, r.burst, r.window, conversation)
}

// evictIdle drops buckets not used for a whole window, from the least
// recently used end; such a bucket has refilled and is the same as a new one.
func (r *rateLimiter) evictIdle(now time.Time) {
	for e := r.lru.Back(); e != nil; e = r.lru.Back() {
		b := e.Value.(*bucket)
		if now.Sub(b.last) < r.window {
			return
		}
		r.lru.Remove(e)
		delete(r.keys, b.key)
	}
}

// trackedSenders returns the number of buckets held, for tests and metrics.
func (g *Guard) trackedSenders() int {
	g.rate.mu.Lock()
	defer g.rate.mu.Unlock()
	return g.rate.lru.Len()
}

// CheckRate applies the rate limit to a verdict: a human message from a
// sender over the limit on conversation becomes looping. Other classes are
// returned unchanged and do not count, since they trigger nothing anyway.
func (g *Guard) CheckRate(v Verdict, sender, conversation string, now time.Time) Verdict {
	if v.Class != Human {
		return v
	}
	ok, reason := g.AllowSender(sender, conversation, now)
	if ok {
		return v
	}
	return Verdict{Class: Looping, Reasons: append([]string{reason}, v.Reasons...)}
}
