// Package keptgo runs functions on goroutines that are kept between
// them: a goroutine started for each email's reading or DNS query began
// with a small stack and grew it by copying to the depth of the work
// every time (runtime.newstack 2% of the daemon's CPU in `deskmail bench
// pipeline`); a kept one has the grown stack already, until a garbage
// collection shrinks it while it waits.
package keptgo

import "sync"

// MaxIdle is how many goroutines wait for work at most; one that finds
// that many waiting when it is done ends. The daemon runs up to four at a
// time for each of its 32 pipeline workers (the reading, two checks,
// their queries): with 64, a bench email still started one.
const MaxIdle = 256

var (
	mu      sync.Mutex
	waiting []chan func() // each waiting goroutine's own, of one slot; the last to finish last
)

// Go runs f on a waiting goroutine (the one that finished last), or on a
// new one when none waits. Like the go statement, it returns at once, and
// a panic in f ends the program.
func Go(f func()) {
	mu.Lock()
	if n := len(waiting); n > 0 {
		c := waiting[n-1]
		waiting[n-1] = nil
		waiting = waiting[:n-1]
		mu.Unlock()
		c <- f // its one slot is free: it waits on it
		return
	}
	mu.Unlock()
	go run(f, make(chan func(), 1))
}

func run(f func(), c chan func()) {
	for {
		f()
		f = nil // nothing of it kept while waiting
		mu.Lock()
		if len(waiting) >= MaxIdle {
			mu.Unlock()
			return
		}
		waiting = append(waiting, c)
		mu.Unlock()
		f = <-c
	}
}

// idle is how many goroutines wait (tests).
func idle() int {
	mu.Lock()
	defer mu.Unlock()
	return len(waiting)
}
