package main

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/spf13/pflag"

	"github.com/deskmail/deskmail/config"
)

// unsetenv removes an environment variable for the test's time.
func unsetenv(t *testing.T, k string) {
	t.Setenv(k, "")
	if err := os.Unsetenv(k); err != nil {
		t.Fatal(err)
	}
}

// restoreGC puts the runtime's collector settings back after the test.
func restoreGC(t *testing.T) {
	percent := debug.SetGCPercent(100)
	debug.SetGCPercent(percent)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

func TestTuneGCAppliesTheSettings(t *testing.T) {
	restoreGC(t)
	unsetenv(t, "GOGC")
	unsetenv(t, "GOMEMLIMIT")
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg, err := config.Register(fs).Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GCPercent != 400 || cfg.MemoryLimit != 512<<20 {
		t.Errorf("defaults: gc-percent %d, memory-limit %d; want 400 and 512MiB", cfg.GCPercent, cfg.MemoryLimit)
	}
	cfg.GCPercent, cfg.MemoryLimit = 321, 300<<20
	tuneGC(cfg)
	if got := debug.SetGCPercent(100); got != 321 {
		t.Errorf("GC percent %d, want 321", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("memory limit %d, want %d", got, 300<<20)
	}
}

func TestTuneGCLeavesTheEnvironmentsSettings(t *testing.T) {
	restoreGC(t)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetGCPercent(150) // what the runtime read from GOGC at start
	debug.SetMemoryLimit(1 << 30)
	tuneGC(&config.Config{GCPercent: 321, MemoryLimit: 300 << 20})
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("GC percent %d, want GOGC's 150", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("memory limit %d, want GOMEMLIMIT's %d", got, 1<<30)
	}
}
