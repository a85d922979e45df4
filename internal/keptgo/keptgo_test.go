package keptgo

import (
	"runtime"
	"sync"
	"testing"
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
	round()
	for idle() < n {
		runtime.Gosched()
	}
	before := runtime.NumGoroutine()
	round()
	for idle() < n {
		runtime.Gosched()
	}
	if after := runtime.NumGoroutine(); after != before {
		t.Errorf("%d goroutines after the second round, %d before: the kept ones were not reused", after, before)
	}
	if got := idle(); got > MaxIdle {
		t.Errorf("%d idle, at most %d", got, MaxIdle)
	}
}
