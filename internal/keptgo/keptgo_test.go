package keptgo

import (
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/internal/gocount"
	"github.com/deskmail/deskmail/internal/waitfor"
)

// TestGoRunsEveryFunctionOnKeptGoroutines: every function runs, at the
// same time when they wait for each other, and the goroutines that ran
// them wait for more (at most MaxIdle): a second round starts none.
func TestGoRunsEveryFunctionOnKeptGoroutines(t *testing.T) {
	const n = 16
	round := func() {
		var wg sync.WaitGroup
		wg.Add(n)
		all := make(chan struct{})
		var mu sync.Mutex
		started := 0
		for range n {
			Go(func() {
				defer wg.Done()
				mu.Lock()
				started++
				if started == n {
					close(all)
				}
				mu.Unlock()
				<-all // every function runs at once: none waits for a goroutine
			})
		}
		wg.Wait()
	}
	allIdle := func() {
		waitfor.Until(t, 10*time.Second, "every kept goroutine idle", func() bool { return idle() >= n })
	}
	round()
	allIdle()
	before := gocount.Created()
	round()
	allIdle()
	if started := gocount.Created() - before; started != 0 {
		t.Errorf("%d goroutines started by the second round: the kept ones were not reused", started)
	}
	if got := idle(); got > MaxIdle {
		t.Errorf("%d idle, at most %d", got, MaxIdle)
	}
}
