// Package waitfor is the tests' one wait helper: poll a condition that
// another goroutine or process makes true (a real server, a daemon),
// bounded in time, failing the test with what was awaited. Code under
// test that waits takes a clock instead (clock.Fake); this is for the
// test's side of real parts.
package waitfor

import (
	"testing"
	"time"
)

// Within is the bound of Until: generous, for a loaded machine.
const Within = 30 * time.Second

// Until polls cond every few milliseconds until it is true, and fails
// the test ("timed out waiting until WHAT") after Within.
func Until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
