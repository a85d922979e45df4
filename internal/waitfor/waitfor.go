// Package waitfor is the tests' one way to wait for what another
// goroutine or process does: poll a condition, bounded by a timeout, and
// fail the test naming what did not happen. Code that waits on a clock
// takes clock.Clock instead and its tests advance a fake one.
package waitfor

import (
	"testing"
	"time"
)

// Interval is how often a condition is polled.
const Interval = 2 * time.Millisecond

// Until returns once cond holds, or fails the test after timeout.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Value(t, timeout, what, func() (struct{}, bool) { return struct{}{}, cond() })
}

// Value returns the value of fn once fn says ok, or fails the test after
// timeout.
func Value[T any](t testing.TB, timeout time.Duration, what string, fn func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if v, ok := fn(); ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(Interval)
	}
}
