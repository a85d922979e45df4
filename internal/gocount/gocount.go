// Package gocount reads how many goroutines the process has started, for
// the tests that check a path starts none of its own (internal/keptgo).
package gocount

import "runtime/metrics"

// Created is the process's count of goroutines started so far.
func Created() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
