// Package browsertest starts the real browser the tests drive: Debian's
// Chromium, headless, with a fresh profile, no sandbox (containers) and
// no background networking. In CI (CI=true) a missing browser fails the
// test; elsewhere it skips it. The console's, the web client's and the
// e2e tests' browsers all start here.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the browser to drive, or "" when none is installed
// (DESKMAIL_CHROMIUM names one explicitly).
func Chromium() string {
	if p := os.Getenv("DESKMAIL_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Start starts a browser for t and returns the context of its first tab,
// bounded by timeout; everything ends with the test.
func Start(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	exe := Chromium()
	if exe == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed: the browser tests must run in CI (.ci/run installs it with apt-get)")
		}
		t.Skip("chromium not installed (apt-get install chromium); CI=true makes this a failure")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1200, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}
