package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// cliTimeout bounds one run of a deskmail subcommand: a hang, not a
// slow run. `operators add` and `passwd` hash at bcrypt's real cost (12)
// in a binary built with -race, which took over 30 s on CI's two cores
// with other tests beside it.
const cliTimeout = 2 * time.Minute

// result is what a finished command said.
type result struct {
	Stdout, Stderr string
	Code           int
}

// runCLI runs deskmail with args (stdin may be nil) and returns its output
// and exit status. A command that outlives cliTimeout fails the test.
func runCLI(t *testing.T, stdin io.Reader, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = cleanEnv(storeEnv(t, env, args)...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("deskmail %s: still running after %v\nstderr: %s", strings.Join(args, " "), cliTimeout, errb.String())
	}
	r := result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("deskmail %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(r.Stderr, "DATA RACE") {
		t.Errorf("deskmail %s: data race:\n%s", strings.Join(args, " "), r.Stderr)
	}
	return r
}

// logEntry is the part of a `deskmail log --json` line the tests check.
type logEntry struct {
	ID           string   `json:"id"`
	Direction    string   `json:"direction"`
	Status       string   `json:"status"`
	Reason       string   `json:"reason"`
	MessageID    string   `json:"message_id"`
	StoredID     string   `json:"stored_id"`
	EnvelopeFrom string   `json:"envelope_from"`
	EnvelopeTo   []string `json:"envelope_to"`
	Subject      string   `json:"subject"`
	Size         int64    `json:"size"`
	Proto        string   `json:"proto"`
	Class        string   `json:"class"`
	Action       string   `json:"action"`
}

// readLog runs `deskmail log --json` on dir and decodes every line.
func readLog(t *testing.T, dir string) []logEntry {
	t.Helper()
	r := runCLI(t, nil, nil, "log", "--json", "--data", dir, "--hours", "1", "--limit", "10000")
	if r.Code != 0 {
		t.Fatalf("deskmail log: exit %d\n%s", r.Code, r.Stderr)
	}
	return parseLog(t, r.Stdout)
}

func parseLog(t *testing.T, out string) []logEntry {
	t.Helper()
	var es []logEntry
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("deskmail log --json printed a line that is not JSON: %q: %v", sc.Text(), err)
		}
		es = append(es, e)
	}
	return es
}

// receivedByMessageID counts the "received" entries per Message-ID.
func receivedByMessageID(es []logEntry) map[string]int {
	n := map[string]int{}
	for _, e := range es {
		if e.Direction == "in" && e.Status == "received" {
			n[e.MessageID]++
		}
	}
	return n
}

// message is a test email with a unique Message-ID and a body padded to
// about size bytes.
func message(msgID, subject string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Customer <customer@client.test>\r\n")
	fmt.Fprintf(&b, "To: Support <support@example.test>\r\n")
	fmt.Fprintf(&b, "Subject: %s\r\n", subject)
	fmt.Fprintf(&b, "Message-ID: %s\r\n", msgID)
	fmt.Fprintf(&b, "Date: Wed, 25 Nov 2026 12:00:00 +0000\r\n")
	fmt.Fprintf(&b, "\r\n")
	line := strings.Repeat("All work and no play makes Jack a dull boy. ", 2)[:76] + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// dialSMTP connects a go-smtp client and says EHLO; every command and the
// DATA reply are bounded so a stuck daemon fails the test.
func dialSMTP(addr string) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = 15 * time.Second
	c.SubmissionTimeout = 15 * time.Second
	if err := c.Hello("client.test"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// send runs one mail transaction on c; nil means the server answered 250
// to the final dot.
func send(c *smtp.Client, from string, to []string, msg []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}

// sendOne connects, sends msg and quits.
func sendOne(t *testing.T, addr string, msg []byte) {
	t.Helper()
	c, err := dialSMTP(addr)
	if err != nil {
		t.Fatalf("connect to SMTP %s: %v", addr, err)
	}
	defer c.Close()
	if err := send(c, "customer@client.test", []string{"support@example.test"}, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	_ = c.Quit()
}
