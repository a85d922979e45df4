package inbound

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

func newReceiver(t testing.TB, lim Limits) (*Receiver, *clock.Fake) {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	return &Receiver{DB: db, Clock: clk, Hostname: "mx.test", Limits: lim}, clk
}

var env = Envelope{MailFrom: "ann@client.test", Rcpts: []string{"help@example.test"}, RemoteIP: "192.0.2.1", Helo: "client.test", Proto: "ESMTP"}

func raw(t testing.TB, r *Receiver, id string) []byte {
	t.Helper()
	m, err := Load(context.Background(), r.DB, id)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := OpenRaw(context.Background(), r.DB, m)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withoutTrace drops the Received header deskmail adds on top.
func withoutTrace(t testing.TB, b []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("Received: from ")) {
		t.Fatalf("no trace header on %q", b[:min(len(b), 80)])
	}
	end := bytes.Index(b, []byte(" +0000\r\n"))
	if end < 0 {
		t.Fatalf("trace header not terminated: %q", b[:min(len(b), 300)])
	}
	return b[end+len(" +0000\r\n"):]
}

func TestReceiveKeepsBytesAndFields(t *testing.T) {
	r, _ := newReceiver(t, Limits{})
	msg := "From: =?utf-8?q?J=C3=B6rg?= <j@client.test>\r\nSubject: =?iso-8859-1?q?caf=E9?=\r\nMessage-ID: <m1@client.test>\r\n\r\nHello\r\n"
	rc, err := r.Receive(context.Background(), env, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(withoutTrace(t, raw(t, r, rc.ID))); got != msg {
		t.Errorf("stored %q, want %q", got, msg)
	}
	m, _ := Load(context.Background(), r.DB, rc.ID)
	if m.From != "Jörg <j@client.test>" || m.Subject != "café" || m.MessageID != "<m1@client.test>" || m.Spooled {
		t.Errorf("meta = %+v", m)
	}
	ids, _ := Pending(context.Background(), r.DB, 10)
	if len(ids) != 1 || ids[0] != rc.ID {
		t.Errorf("pending = %v, want the new message", ids)
	}
}

func TestLargeMessageIsSpooled(t *testing.T) {
	r, _ := newReceiver(t, Limits{SpillBytes: 4096})
	body := strings.Repeat("0123456789abcdef\r\n", 10000) // 180 KB
	msg := "Subject: big\r\nMessage-ID: <big@x>\r\n\r\n" + body
	rc, err := r.Receive(context.Background(), env, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := Load(context.Background(), r.DB, rc.ID)
	if !m.Spooled {
		t.Fatal("a message over SpillBytes was kept inline")
	}
	if got := string(withoutTrace(t, raw(t, r, rc.ID))); got != msg {
		t.Errorf("spooled bytes differ (len %d, want %d)", len(got), len(msg))
	}
	if _, err := os.Stat(filepath.Join(r.DB.Dir(), "spool", rc.ID)); err != nil {
		t.Errorf("spool file: %v", err)
	}
	tmp, _ := os.ReadDir(filepath.Join(r.DB.Dir(), "spool", "tmp"))
	if len(tmp) != 0 {
		t.Errorf("temporary spool files left: %v", tmp)
	}
}

func TestLimits(t *testing.T) {
	r, _ := newReceiver(t, Limits{MaxMessageBytes: 1000, MaxHeaderBytes: 200})
	cases := []struct {
		name string
		msg  string
		want error
	}{
		{"header over its cap", strings.Repeat("X-A: 0123456789\r\n", 20) + "\r\nbody", ErrHeaderTooLarge},
		{"header with no end over its cap", strings.Repeat("x", 300), ErrHeaderTooLarge},
		{"message over its cap", "Subject: x\r\n\r\n" + strings.Repeat("y", 1000), ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.Receive(context.Background(), env, strings.NewReader(c.msg))
			if !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
	if n, _ := Count(context.Background(), r.DB); n != 0 {
		t.Errorf("%d refused messages stored", n)
	}
	if _, err := r.Receive(context.Background(), Envelope{}, strings.NewReader("x")); !errors.Is(err, ErrNoRecipients) {
		t.Errorf("no recipients: %v", err)
	}
}

func TestMalformedMessagesAreStored(t *testing.T) {
	r, _ := newReceiver(t, Limits{})
	for _, msg := range []string{"", "no header at all", "\x00\xff\xfe binary\r\n\r\n\x00", ": empty name\r\n\r\nbody", "Subject: unterminated"} {
		rc, err := r.Receive(context.Background(), env, strings.NewReader(msg))
		if err != nil {
			t.Errorf("%q: %v", msg, err)
			continue
		}
		if got := string(withoutTrace(t, raw(t, r, rc.ID))); got != msg {
			t.Errorf("stored %q, want %q", got, msg)
		}
	}
}

func TestDedupe(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	msg := "Message-ID: <d@x>\r\n\r\nbody\r\n"
	a, _ := r.Receive(context.Background(), env, strings.NewReader(msg))
	b, err := r.Receive(context.Background(), env, strings.NewReader(msg))
	if err != nil || !b.Duplicate || b.ID != a.ID {
		t.Fatalf("retry = %+v %v, want duplicate of %s", b, err, a.ID)
	}
	other := "Message-ID: <d@x>\r\n\r\nanother body\r\n"
	if c, _ := r.Receive(context.Background(), env, strings.NewReader(other)); c.Duplicate {
		t.Error("a different body under the same Message-ID was dropped")
	}
	noID := "Subject: s\r\n\r\nbody\r\n"
	d1, _ := r.Receive(context.Background(), env, strings.NewReader(noID))
	d2, _ := r.Receive(context.Background(), env, strings.NewReader(noID))
	if !d2.Duplicate || d2.ID != d1.ID {
		t.Error("a retry of a message without Message-ID was stored twice")
	}
	es, _ := journal.Query(context.Background(), r.DB, journal.Filter{})
	if len(es) != 3 {
		t.Errorf("%d journal entries, want 3", len(es))
	}
	// After the retention the key is forgotten.
	clk.Advance(73 * time.Hour)
	if n, err := PruneDedupe(context.Background(), r.DB, clk.Now().Add(-72*time.Hour)); err != nil || n != 3 {
		t.Errorf("pruned %d %v, want 3", n, err)
	}
	if e, _ := r.Receive(context.Background(), env, strings.NewReader(msg)); e.Duplicate {
		t.Error("dedupe key outlived the retention")
	}
}

// failingFile makes spool writes fail as a full disk would.
type failingFile struct{ *os.File }

func (f failingFile) Write(p []byte) (int, error) { return 0, errors.New("no space left on device") }

func TestSpoolFailureIsTemporaryAndLosesNothing(t *testing.T) {
	r, _ := newReceiver(t, Limits{SpillBytes: 100})
	orig := store.CreateTemp
	store.CreateTemp = func(dir string) (store.File, error) {
		f, err := os.CreateTemp(dir, "in-*")
		return failingFile{f}, err
	}
	defer func() { store.CreateTemp = orig }()
	_, err := r.Receive(context.Background(), env, strings.NewReader("Subject: x\r\n\r\n"+strings.Repeat("z", 5000)))
	var te *TempError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TempError (so the client retries)", err)
	}
	if n, _ := Count(context.Background(), r.DB); n != 0 {
		t.Errorf("%d records after a failed write", n)
	}
	tmp, _ := os.ReadDir(filepath.Join(r.DB.Dir(), "spool", "tmp"))
	if len(tmp) != 0 {
		t.Errorf("temporary spool files left: %d", len(tmp))
	}
}

func TestSweepSpoolRemovesOrphans(t *testing.T) {
	r, _ := newReceiver(t, Limits{SpillBytes: 100})
	rc, err := r.Receive(context.Background(), env, strings.NewReader("Subject: x\r\n\r\n"+strings.Repeat("z", 5000)))
	if err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(r.DB.Dir(), "spool", "0000orphan")
	os.WriteFile(orphan, []byte("x"), 0o600)
	n, err := SweepSpool(context.Background(), r.DB)
	if err != nil || n != 1 {
		t.Errorf("swept %d %v, want 1", n, err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Error("orphan spool file kept")
	}
	if _, err := Load(context.Background(), r.DB, rc.ID); err != nil {
		t.Error(err)
	}
	if len(raw(t, r, rc.ID)) < 5000 {
		t.Error("committed spool file removed")
	}
}

func TestReceivedHeaderCannotBeInjected(t *testing.T) {
	e := env
	e.Helo = "evil\r\nBcc: x@y (comment); more"
	h := string(receivedHeader(nil, e, "mx.test", "id1", time.Unix(0, 0).UTC()))
	if strings.Count(h, "\r\n") != 3 || strings.Contains(h, "Bcc: x") {
		t.Errorf("trace header = %q", h)
	}
}

func TestDomains(t *testing.T) {
	d := NewDomains([]string{"Example.test.", "bücher.test"})
	for addr, want := range map[string]bool{
		"a@example.test": true, "a@EXAMPLE.TEST": true, "a@example.test.": true,
		"a@xn--bcher-kva.test": true, "a@BÜCHER.test": true, "postmaster": true,
		"a@other.test": false, "a@sub.example.test": false, "example.test": false, "a@": false, "@example.test": false,
		"a@example.test@other.test": false,
	} {
		if got := d.Accepts(addr); got != want {
			t.Errorf("Accepts(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestHeaderLineLongerThanTheReadBuffer(t *testing.T) {
	r, _ := newReceiver(t, Limits{})
	// A header line whose "\r\n" falls exactly at the start of a new read
	// buffer must not be taken for the end of the header.
	long := "X-Long: " + strings.Repeat("a", 32<<10-len("X-Long: "))
	msg := long + "\r\nSubject: after the long line\r\nMessage-ID: <long@x>\r\n\r\nbody\r\n"
	rc, err := r.Receive(context.Background(), env, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := Load(context.Background(), r.DB, rc.ID)
	if m.Subject != "after the long line" || m.MessageID != "<long@x>" {
		t.Errorf("header fields after a long line: %+v", m)
	}
}

// The read buffers are pooled: one message's bytes must never show in the
// next one's, whatever their sizes and header lengths.
func TestPooledBuffersKeepMessagesApart(t *testing.T) {
	r, _ := newReceiver(t, Limits{SpillBytes: 64 << 10})
	msgs := []string{
		"Subject: " + strings.Repeat("long ", 9000) + "\r\nMessage-ID: <a@client.test>\r\n\r\n" + strings.Repeat("first body\r\n", 8000),
		"Message-ID: <b@client.test>\r\n\r\nshort\r\n",
		"From: c@client.test\r\n\r\n",
		"no header at all",
	}
	for round := range 2 {
		for i, msg := range msgs {
			rc, err := r.Receive(context.Background(), env, strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			if round == 1 {
				continue // the same messages again are duplicates
			}
			if got := string(withoutTrace(t, raw(t, r, rc.ID))); got != msg {
				t.Errorf("message %d stored as %d bytes %q..., want %d bytes", i, len(got), got[:min(len(got), 60)], len(msg))
			}
			m, _ := Load(context.Background(), r.DB, rc.ID)
			if want := []string{"<a@client.test>", "<b@client.test>", "", ""}[i]; m.MessageID != want {
				t.Errorf("message %d: Message-ID %q, want %q", i, m.MessageID, want)
			}
		}
	}
}

// TestReadRawReadsWhatOpenRawReads: the stored bytes up to the limit,
// kept inline or spooled.
func TestReadRawReadsWhatOpenRawReads(t *testing.T) {
	r, _ := newReceiver(t, Limits{SpillBytes: 4096})
	for _, body := range []string{"Hello\r\n", strings.Repeat("0123456789abcdef\r\n", 10000)} {
		rc, err := r.Receive(context.Background(), env, strings.NewReader("Subject: x\r\n\r\n"+body))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := Load(context.Background(), r.DB, rc.ID)
		whole := raw(t, r, rc.ID)
		for _, limit := range []int64{0, 10, int64(len(whole)) - 1, int64(len(whole)), 4 << 20} {
			got, err := ReadRaw(context.Background(), r.DB, m, limit)
			if err != nil {
				t.Fatal(err)
			}
			if want := whole[:min(int64(len(whole)), limit)]; !bytes.Equal(got, want) {
				t.Errorf("spooled %v, limit %d: read %d bytes, want %d", m.Spooled, limit, len(got), len(want))
			}
		}
	}
	if _, err := ReadRaw(context.Background(), r.DB, Meta{ID: "nope"}, 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadRaw of a missing message: %v", err)
	}
}

// TestReceivedHeaderAppends: the trace field is written into the
// message's buffer, no piece of it a string of its own (issue 27; it
// took 8 allocations per accepted email).
func TestReceivedHeaderAppends(t *testing.T) {
	buf := make([]byte, 0, 1024)
	var h []byte
	n := testing.AllocsPerRun(100, func() { h = receivedHeader(buf[:0], env, "mx.test", "id1", time.Unix(0, 0).UTC()) })
	if n != 0 {
		t.Errorf("%v allocations, want none", n)
	}
	if !strings.HasPrefix(string(h), "Received: from ") || !strings.HasSuffix(string(h), "; Thu, 01 Jan 1970 00:00:00 +0000\r\n") {
		t.Errorf("trace header = %q", h)
	}
}
