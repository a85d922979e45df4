//go:build race

package e2e

// raceEnabled builds the daemon with the race detector when the tests run
// with it, so a data race inside the daemon fails the scenario that hit it.
const raceEnabled = true
