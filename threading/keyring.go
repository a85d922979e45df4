package threading

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// KeyFile is the name of the secrets file inside the data folder.
const KeyFile = "threading-keys"

// SecretLen is the size of each generated secret: 256 bits, the HMAC-SHA256
// block-independent strength (RFC 2104 section 3: keys shorter than the
// hash output weaken it; longer ones add nothing).
const SecretLen = 32

// MaxKeys bounds the keyring: the current secret plus MaxKeys-1 old ones.
// Rotate drops the oldest beyond that, so replies to emails sent before
// several rotations stop matching by token (they still match by
// References, which does not depend on the secret).
const MaxKeys = 4

type key struct {
	id     string // short public fingerprint, safe to log
	secret []byte
}

// Keyring holds the server secrets for reply tokens and Message-ID tags:
// the current one, used to sign, and older ones still accepted when
// verifying, so a rotation does not break replies to mail already sent.
// A Keyring is safe for concurrent use.
type Keyring struct {
	mu   sync.RWMutex
	keys []key // keys[0] is current
	dir  string
	rand io.Reader
}

// ErrNoKeys is returned when a keyring file holds no usable secret.
var ErrNoKeys = errors.New("threading: keyring has no keys")

// keyID is a fingerprint of a secret: a hash under its own context, so
// logging it tells nothing about the secret or its MACs.
func keyID(secret []byte) string {
	h := sha256.Sum256(append([]byte("deskmail/key-id\x00"), secret...))
	return hex.EncodeToString(h[:4])
}

// NewKeyring builds an in-memory keyring from secrets, current first.
// Rotate on it keeps the new key in memory only. Meant for tests and for
// callers that keep secrets elsewhere.
func NewKeyring(secrets ...[]byte) (*Keyring, error) {
	if len(secrets) == 0 {
		return nil, ErrNoKeys
	}
	k := &Keyring{rand: rand.Reader}
	for _, s := range secrets {
		if len(s) < 16 {
			return nil, fmt.Errorf("threading: secret of %d bytes is too short (min 16)", len(s))
		}
		k.keys = append(k.keys, key{id: keyID(s), secret: bytes.Clone(s)})
	}
	return k, nil
}

// LoadOrCreateKeyring reads dir/KeyFile, or on first start creates it with
// one fresh 32-byte random secret. The file is hex, one secret a line,
// current first; mode 0600, written atomically (see writeFileAtomic).
func LoadOrCreateKeyring(dir string) (*Keyring, error) {
	path := filepath.Join(dir, KeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := &Keyring{dir: dir, rand: rand.Reader}
		if err := k.rotateLocked(); err != nil {
			return nil, fmt.Errorf("create keyring: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	var secrets [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := hex.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("read keyring %s: bad line: %w", path, err)
		}
		secrets = append(secrets, s)
	}
	k, err := NewKeyring(secrets...)
	if err != nil {
		return nil, fmt.Errorf("read keyring %s: %w", path, err)
	}
	k.dir = dir
	return k, nil
}

// Rotate makes a new current secret; the previous ones stay valid for
// verification (at most MaxKeys in all). With a folder, the new set is on
// disk before Rotate returns; on a write error nothing changes.
func (k *Keyring) Rotate() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.rotateLocked()
}

func (k *Keyring) rotateLocked() error {
	s := make([]byte, SecretLen)
	if _, err := io.ReadFull(k.rand, s); err != nil {
		return fmt.Errorf("generate secret: %w", err)
	}
	keys := append([]key{{id: keyID(s), secret: s}}, k.keys...)
	if len(keys) > MaxKeys {
		keys = keys[:MaxKeys]
	}
	if k.dir != "" {
		var b strings.Builder
		b.WriteString("# deskmail reply-token secrets, current first. Keep private.\n")
		for _, x := range keys {
			b.WriteString(hex.EncodeToString(x.secret))
			b.WriteByte('\n')
		}
		if err := writeFileAtomic(k.dir, KeyFile, []byte(b.String()), 0o600); err != nil {
			return err
		}
	}
	k.keys = keys
	return nil
}

// KeyIDs lists the fingerprints of the secrets, current first.
func (k *Keyring) KeyIDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := make([]string, len(k.keys))
	for i, x := range k.keys {
		ids[i] = x.id
	}
	return ids
}

func (k *Keyring) snapshot() []key {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys
}

// Token mints the reply token for an email about conversation conv sent to
// person recipient, signed with the current secret. IDs must be 1 to
// MaxIDLen bytes (ErrBadID); keep their sum within MaxCompactIDLen for an
// RFC 5321-sized local part.
func (k *Keyring) Token(conv, recipient string) (string, error) {
	return mintToken(k.snapshot()[0].secret, conv, recipient)
}

// ReplyAddress is "reply+TOKEN@domain", the Reply-To of an outgoing email.
func (k *Keyring) ReplyAddress(conv, recipient, domain string) (string, error) {
	t, err := k.Token(conv, recipient)
	if err != nil {
		return "", err
	}
	return replyAddress(t, domain), nil
}

// ParseToken verifies a bare TOKEN (any letter case).
func (k *Keyring) ParseToken(token string) (Token, error) {
	return parseToken(token, k.snapshot())
}

// ParseReplyAddress verifies "reply+TOKEN@domain" or "reply-TOKEN@domain"
// (any letter case, optionally in angle brackets) for one of domains.
// It returns ErrNotToken for addresses that are not reply addresses, and
// ErrBadSignature, ErrBadVersion for ones that look like ours but are not.
func (k *Keyring) ParseReplyAddress(addr string, domains []string) (Token, error) {
	t, err := splitReplyAddress(addr, domains)
	if err != nil {
		return Token{}, err
	}
	return k.ParseToken(t)
}

// fileSys is the part of the OS writeFileAtomic needs; tests swap it to
// make each step fail (chasquid's safeio does the same).
type fileSys interface {
	CreateTemp(dir, pattern string) (tempFile, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	SyncDir(dir string) error
}

type tempFile interface {
	io.Writer
	Name() string
	Chmod(os.FileMode) error
	Sync() error
	Close() error
}

type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (tempFile, error) { return os.CreateTemp(dir, pattern) }
func (osFS) Rename(o, n string) error                         { return os.Rename(o, n) }
func (osFS) Remove(name string) error                         { return os.Remove(name) }
func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

var fsys fileSys = osFS{}

// writeFileAtomic writes dir/name so that after a crash the file holds
// either the old or the new content, never a mix: temp file in the same
// folder (rename is atomic only within one file system), fsync the data,
// rename over the old file, fsync the folder so the rename is durable.
func writeFileAtomic(dir, name string, data []byte, perm os.FileMode) error {
	f, err := fsys.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := f.Name()
	fail := func(step string, err error) error {
		f.Close()
		fsys.Remove(tmp)
		return fmt.Errorf("write %s: %s: %w", name, step, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail("chmod", err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := f.Close(); err != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("write %s: close: %w", name, err)
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, name)); err != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("write %s: rename: %w", name, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: fsync folder: %w", name, err)
	}
	return nil
}
