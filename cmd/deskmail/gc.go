package main

import (
	"os"
	"runtime/debug"
)

// daemonGCPercent is the daemon's garbage collector target when GOGC is
// not set: a heap may grow to three times what is live (Go's default: two)
// before a collection. The daemon's live heap is small (tens of MB) and
// every email allocates a few hundred KB that die young; at 200 the
// collector's share of the CPU per email falls by about a third
// (docs/PERFORMANCE.md, issue 27) for some tens of MB more memory. GOGC
// (and GOMEMLIMIT) in the environment still decide when set.
const daemonGCPercent = 200

// tuneGC applies daemonGCPercent unless the operator set GOGC.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(daemonGCPercent)
	}
}
