package e2e

import (
	"path/filepath"
	"testing"
)

// serve takes several --dkim-key (RFC 8463 dual signing) and its start-up
// line names the selectors that sign, with their algorithms.
func TestServeSignsWithEveryDKIMKey(t *testing.T) {
	dir := t.TempDir()
	keys := t.TempDir()
	rsaKey, edKey := filepath.Join(keys, "rsa.pem"), filepath.Join(keys, "ed.pem")
	for _, args := range [][]string{
		{"dkim", "keygen", "--out", rsaKey, "--selector", "rsa1", "--domain", "example.test"},
		{"dkim", "keygen", "--algorithm", "ed25519", "--out", edKey, "--selector", "ed1", "--domain", "example.test"},
	} {
		if r := runCLI(t, nil, nil, args...); r.Code != 0 {
			t.Fatalf("%v: %s", args, r.Stderr)
		}
	}
	d := startDaemon(t, dir, "--dkim-key", rsaKey, "--dkim-selector", "rsa1", "--dkim-key", edKey, "--dkim-selector", "ed1")
	d.waitLog(0, "DKIM signing outbound email", "domain=example.test", "rsa1 (rsa), ed1 (ed25519)")
	d.stop()
}
