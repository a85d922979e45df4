package threading

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testKeyring(t testing.TB) *Keyring {
	t.Helper()
	k, err := NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var domains = []string{"help.example.com"}

func TestTokenRoundTrip(t *testing.T) {
	k := testKeyring(t)
	addr, err := k.ReplyAddress("c42", "p7", "help.example.com")
	if err != nil {
		t.Fatal(err)
	}
	local := addr[:strings.IndexByte(addr, '@')]
	if len(local) > 64 {
		t.Errorf("local part %d octets, want <= 64", len(local))
	}
	for _, tc := range []struct {
		name string
		addr string
	}{
		{"as minted", addr},
		{"lowercased by MTA", strings.ToLower(addr)},
		{"uppercased by MTA", strings.ToUpper(addr)},
		{"angle brackets", "<" + addr + ">"},
		{"dash separator", strings.Replace(addr, "reply+", "reply-", 1)},
		{"domain with trailing dot", addr + "."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := k.ParseReplyAddress(tc.addr, domains)
			if err != nil {
				t.Fatalf("ParseReplyAddress(%q): %v", tc.addr, err)
			}
			if tok.Conversation != "c42" || tok.Recipient != "p7" || tok.Version != TokenVersion || !tok.Current {
				t.Errorf("got %+v", tok)
			}
		})
	}
}

func TestTokenRejects(t *testing.T) {
	k := testKeyring(t)
	other, _ := NewKeyring([]byte("another secret, also 32 bytes!!!"))
	good, _ := k.Token("c42", "p7")
	forged, _ := other.Token("c42", "p7")
	// Flip one base32 character of the MAC.
	alt := []byte(good)
	if alt[len(alt)-3] == 'a' {
		alt[len(alt)-3] = 'b'
	} else {
		alt[len(alt)-3] = 'a'
	}
	// Same payload for another conversation with the MAC of c42.
	payloadOther, _ := k.Token("c43", "p7")
	spliced := payloadOther[:len(payloadOther)-16] + good[len(good)-16:]
	for _, tc := range []struct {
		name string
		addr string
		want error
	}{
		{"other secret", "reply+" + forged + "@help.example.com", ErrBadSignature},
		{"altered MAC", "reply+" + string(alt) + "@help.example.com", ErrBadSignature},
		{"spliced MAC", "reply+" + spliced + "@help.example.com", ErrBadSignature},
		{"other domain", "reply+" + good + "@evil.example", ErrNotToken},
		{"other mailbox", "support@help.example.com", ErrNotToken},
		{"no separator", "reply" + good + "@help.example.com", ErrNotToken},
		{"dot separator", "reply." + good + "@help.example.com", ErrNotToken},
		{"not base32", "reply+hello!!@help.example.com", ErrNotToken},
		{"truncated", "reply+" + good[:len(good)-4] + "@help.example.com", ErrNotToken},
		{"trailing junk", "reply+" + good + "aa@help.example.com", ErrNotToken},
		{"empty token", "reply+@help.example.com", ErrNotToken},
		{"no at", "reply+" + good, ErrNotToken},
		{"version 2", "reply+" + b32.EncodeToString([]byte{2, 1, 'c', 1, 'p', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) + "@help.example.com", ErrBadVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := k.ParseReplyAddress(tc.addr, domains)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseReplyAddress(%q) = %+v, %v; want %v", tc.addr, tok, err, tc.want)
			}
		})
	}
}

func TestTokenIDLimits(t *testing.T) {
	k := testKeyring(t)
	long := strings.Repeat("x", MaxIDLen)
	tok, err := k.Token(long, long)
	if err != nil {
		t.Fatalf("Token at MaxIDLen: %v", err)
	}
	got, err := k.ParseToken(tok)
	if err != nil || got.Conversation != long || got.Recipient != long {
		t.Fatalf("ParseToken long = %+v, %v", got, err)
	}
	for _, ids := range [][2]string{{"", "p"}, {"c", ""}, {long + "x", "p"}, {"c", long + "x"}} {
		if _, err := k.Token(ids[0], ids[1]); !errors.Is(err, ErrBadID) {
			t.Errorf("Token(%d bytes, %d bytes) err = %v, want ErrBadID", len(ids[0]), len(ids[1]), err)
		}
	}
	// The documented compact limit really fits RFC 5321's 64 octets.
	conv := strings.Repeat("c", MaxCompactIDLen-10)
	tok, _ = k.Token(conv, strings.Repeat("p", 10))
	if n := len("reply+" + tok); n > 64 {
		t.Errorf("compact IDs give a %d-octet local part", n)
	}
	tok, _ = k.Token(conv, strings.Repeat("p", 11))
	if n := len("reply+" + tok); n <= 64 {
		t.Errorf("MaxCompactIDLen is not tight: %d octets with one more byte", n)
	}
}

func TestKeyringRotation(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreateKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	old, _ := k.Token("c1", "p1")
	oldID := k.KeyIDs()[0]
	if err := k.Rotate(); err != nil {
		t.Fatal(err)
	}
	// Reload from disk: the rotation is durable and the old key still verifies.
	k2, err := LoadOrCreateKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k2.ParseToken(old)
	if err != nil {
		t.Fatalf("old token after rotation: %v", err)
	}
	if tok.Current || tok.KeyID != oldID {
		t.Errorf("old token = %+v, want KeyID %s not current", tok, oldID)
	}
	fresh, _ := k2.Token("c1", "p1")
	if fresh == old {
		t.Error("rotation did not change the signing key")
	}
	for range MaxKeys {
		if err := k2.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(k2.KeyIDs()); n != MaxKeys {
		t.Errorf("keyring holds %d keys, want %d", n, MaxKeys)
	}
	if _, err := k2.ParseToken(old); !errors.Is(err, ErrBadSignature) {
		t.Errorf("token of a dropped key: %v, want ErrBadSignature", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data folder has %d entries, want only %s (no temp files left)", len(entries), KeyFile)
	}
}

type failFS struct {
	osFS
	failRename bool
}

func (f failFS) Rename(o, n string) error {
	if f.failRename {
		return errors.New("disk on fire")
	}
	return f.osFS.Rename(o, n)
}

func TestRotateWriteFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreateKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	before := k.KeyIDs()
	fsys = failFS{failRename: true}
	defer func() { fsys = osFS{} }()
	if err := k.Rotate(); err == nil {
		t.Fatal("Rotate succeeded with a failing rename")
	}
	if got := k.KeyIDs(); len(got) != len(before) || got[0] != before[0] {
		t.Errorf("keys changed after failed rotation: %v -> %v", before, got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temp file left behind: %d entries", len(entries))
	}
}

func TestLoadKeyringBadFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("# only a comment\n"), 0o600)
	if _, err := LoadOrCreateKeyring(dir); !errors.Is(err, ErrNoKeys) {
		t.Errorf("empty keyring: %v, want ErrNoKeys", err)
	}
	os.WriteFile(filepath.Join(dir, KeyFile), []byte("zz\n"), 0o600)
	if _, err := LoadOrCreateKeyring(dir); err == nil {
		t.Error("non-hex keyring accepted")
	}
}

func BenchmarkTokenMintVerify(b *testing.B) {
	k := testKeyring(b)
	b.ReportAllocs()
	for b.Loop() {
		addr, _ := k.ReplyAddress("conv-000123", "person-42", "help.example.com")
		if _, err := k.ParseReplyAddress(addr, domains); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func TestKeyringConcurrentRotate(t *testing.T) {
	k, err := LoadOrCreateKeyring(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if err := k.Rotate(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 200 {
		addr, err := k.ReplyAddress("c1", "p1", "help.example.com")
		if err != nil {
			t.Fatal(err)
		}
		// A token minted just before a rotation still verifies after up
		// to MaxKeys-1 rotations; here we only check it parses cleanly.
		if _, err := k.ParseReplyAddress(addr, domains); err != nil && !errors.Is(err, ErrBadSignature) {
			t.Fatal(err)
		}
	}
	<-done
}
