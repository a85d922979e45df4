package main

import (
	"os"
	"runtime/debug"

	"github.com/deskmail/deskmail/config"
)

// tuneGC sets the daemon's garbage collector from its settings, unless
// the operator set GOGC or GOMEMLIMIT in the environment (which the Go
// runtime has applied already):
//
//   - gc-percent (400; Go's default is 100): a collection once the heap has
//     grown 400% over what was live. The live heap is tens of MB (the
//     write-ahead log's layers, the caches), and every email allocates a
//     few hundred KB that die young: at 400 there are 2.5 times fewer
//     collections than at 200, and their share of the daemon's CPU falls
//     with them, for about 60-80 MB more resident memory under load
//     (docs/PERFORMANCE.md, issue 27, branch acceptcpu3).
//   - memory-limit (512MiB): the soft limit past which the collector runs
//     more often whatever gc-percent says, so a live heap that grows (large
//     emails in flight) does not take five times its size.
func tuneGC(cfg *config.Config) {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(cfg.GCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
}
