package e2e

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Exit statuses of sysexits.h that Postfix's pipe(8) acts on.
const (
	exUsage    = 64
	exDataErr  = 65
	exNoUser   = 67
	exTempFail = 75
)

// deliverArgs is the command line Postfix's pipe transport would run.
func deliverArgs(dir string, extra []string, rcpts ...string) []string {
	args := append([]string{"deliver", "--data", dir, "--domain", "example.test"}, extra...)
	args = append(args, "-f", "a@b.test", "--")
	return append(args, rcpts...)
}

// small are the size flags of the too-large cases. max-header-bytes must
// come down with max-message-bytes (see TestMaxMessageBytesAlone).
var small = []string{"--max-message-bytes", "10KB", "--max-header-bytes", "4KB"}

// TestDeliverExitCodes runs `deskmail deliver` as Postfix would and checks
// its sysexits status in each situation: handed to the running daemon,
// stored offline while the daemon is stopped, refused recipient, missing
// recipient, message too large, and a data folder locked by a daemon whose
// control socket does not answer.
func TestDeliverExitCodes(t *testing.T) {
	dir := t.TempDir()
	big := message("<too-big@client.test>", "too big", 20_000)

	t.Run("daemon running", func(t *testing.T) {
		d := startDaemon(t, dir, small...)
		cases := []struct {
			name  string
			args  []string
			msg   []byte
			want  int
			inLog string // a Message-ID the log must show as received
		}{
			{"stored through the control socket", deliverArgs(dir, nil, "support@example.test"),
				message("<deliver-online@client.test>", "online", 2000), 0, "<deliver-online@client.test>"},
			{"unknown address of our domain", deliverArgs(dir, nil, "nosuchuser@example.test"),
				message("<deliver-nouser@client.test>", "no user", 2000), exNoUser, ""},
			{"recipient of another domain", deliverArgs(dir, nil, "rcpt@elsewhere.test"),
				message("<deliver-relay@client.test>", "relay", 2000), exNoUser, ""},
			{"no recipient", deliverArgs(dir, nil),
				message("<deliver-norcpt@client.test>", "no rcpt", 2000), exUsage, ""},
			{"message over the daemon's size limit", deliverArgs(dir, nil, "support@example.test"),
				big, exDataErr, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := runCLI(t, bytes.NewReader(tc.msg), nil, tc.args...)
				if r.Code != tc.want {
					t.Fatalf("exit %d, want %d\nstderr: %s", r.Code, tc.want, r.Stderr)
				}
				if tc.inLog != "" {
					if n := receivedByMessageID(readLog(t, dir))[tc.inLog]; n != 1 {
						t.Errorf("%s is in the log %d times, want 1", tc.inLog, n)
					}
				}
			})
		}
		if n := receivedByMessageID(readLog(t, dir))["<too-big@client.test>"]; n != 0 {
			t.Errorf("a refused message is in the log as received")
		}
		d.stop()
	})

	t.Run("daemon stopped", func(t *testing.T) {
		id := "<deliver-offline@client.test>"
		r := runCLI(t, bytes.NewReader(message(id, "offline", 2000)), nil, deliverArgs(dir, nil, "rcpt@example.test")...)
		if r.Code != 0 {
			t.Fatalf("offline deliver: exit %d, want 0\nstderr: %s", r.Code, r.Stderr)
		}
		r = runCLI(t, bytes.NewReader(big), nil, deliverArgs(dir, small, "rcpt@example.test")...)
		if r.Code != exDataErr {
			t.Errorf("offline deliver of a message over --max-message-bytes: exit %d, want %d\nstderr: %s", r.Code, exDataErr, r.Stderr)
		}
		d := startDaemon(t, dir)
		if n := receivedByMessageID(readLog(t, dir))[id]; n != 1 {
			t.Errorf("message stored offline is in the log %d times after the restart, want 1", n)
		}
		d.stop()
	})

	t.Run("data folder locked, no control socket", func(t *testing.T) {
		bboltOnly(t)
		dir := t.TempDir()
		// Hold the database lock the way a hung daemon would, with no
		// socket in the folder for deliver to talk to.
		db, err := bolt.Open(filepath.Join(dir, "deskmail.db"), 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		r := runCLI(t, bytes.NewReader(message("<deliver-locked@client.test>", "locked", 2000)), nil,
			deliverArgs(dir, nil, "rcpt@example.test")...)
		if r.Code != exTempFail {
			t.Fatalf("exit %d, want %d (EX_TEMPFAIL: Postfix keeps the message and retries)\nstderr: %s", r.Code, exTempFail, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "in use") {
			t.Errorf("stderr does not say the database is in use: %s", r.Stderr)
		}
	})
}
