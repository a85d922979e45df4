// Package persontoken mints and checks person-scoped tokens: short-lived
// bearer tokens the web app's server gets for one person (with the API
// token, which never reaches a browser) and hands to that person's
// browser. httpapi lets such a token read its person's notifications and
// stream and post its person's seen-acks, nothing else (docs/WEBAPP.md).
//
// A token is
//
//	dmp1.PERSON.GENERATION.EXPIRES.MAC
//
// PERSON base64url (no padding), GENERATION and EXPIRES (unix seconds)
// decimal, MAC base64url of HMAC-SHA256 over the first four parts under a
// secret every node shares. Revoke bumps the person's generation in the
// store, which ends every token minted before. Checks compare the MAC in
// constant time (hmac.Equal) before they read anything else.
package persontoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
)

// Lifetimes. MaxTTL bounds what a leaked token can do to a day; the web
// app mints a new one as the old one nears its end (client.js asks for
// it through its token callback).
const (
	DefaultTTL = time.Hour
	MinTTL     = time.Minute
	MaxTTL     = 24 * time.Hour
	// MaxLen bounds a token read from a request before any work on it.
	MaxLen = 512
)

// Prefix starts every person token, so a bearer token can be told from
// the API token without trying both.
const Prefix = "dmp1."

// SecretFile is the data-folder file of the signing secret, shared by all
// nodes like the other secrets.
const SecretFile = "person-token-secret"

// bGenerations maps a person id to its token generation (8 bytes).
const bGenerations = "person_token_generations"

// Errors of Check. All mean "not a valid token"; they differ only in
// what the answer tells the browser's developer.
var (
	ErrMalformed = errors.New("not a person token")
	ErrSignature = errors.New("person token signature does not verify")
	ErrExpired   = errors.New("person token expired")
	ErrRevoked   = errors.New("person token revoked")
	ErrTTL       = fmt.Errorf("ttl must be between %s and %s", MinTTL, MaxTTL)
)

// Keyring signs and checks tokens.
type Keyring struct {
	Secret []byte
	Clock  clock.Clock
}

// Claims is what a valid token says.
type Claims struct {
	Person     string
	Generation uint64
	Expires    time.Time
}

// Mint makes a token for person valid for ttl, in the person's current
// generation (read in tx).
func (k *Keyring) Mint(tx *store.Tx, person string, ttl time.Duration) (string, time.Time, error) {
	if ttl < MinTTL || ttl > MaxTTL {
		return "", time.Time{}, ErrTTL
	}
	exp := k.Clock.Now().Add(ttl).Truncate(time.Second)
	payload := Prefix + base64.RawURLEncoding.EncodeToString([]byte(person)) + "." +
		strconv.FormatUint(Generation(tx, person), 10) + "." + strconv.FormatInt(exp.Unix(), 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(k.mac(payload)), exp, nil
}

func (k *Keyring) mac(payload string) []byte {
	m := hmac.New(sha256.New, k.Secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Check verifies token and answers its claims: signature first (in
// constant time), then expiry, then the person's generation in tx.
func (k *Keyring) Check(tx *store.Tx, token string) (Claims, error) {
	c, err := k.verify(token)
	if err != nil {
		return c, err
	}
	if Generation(tx, c.Person) != c.Generation {
		return c, ErrRevoked
	}
	return c, nil
}

// CheckDB is Check with the generation read from db outside any
// transaction (store.DB.Snapshot: one round trip on PostgreSQL, where a
// transaction costs three). A store error is returned as is; the others
// are Check's.
func (k *Keyring) CheckDB(ctx context.Context, db *store.DB, token string) (Claims, error) {
	c, err := k.verify(token)
	if err != nil {
		return c, err
	}
	res, err := db.Snapshot(ctx, GenerationQuery(c.Person))
	if err != nil {
		return c, err
	}
	return c, CheckGeneration(c, res[0])
}

// Verify checks all of a token but its generation (signature, then
// expiry), reading nothing. A caller that reads the store anyway checks
// the generation in the same read: GenerationQuery in its
// store.DB.Snapshot, then CheckGeneration with the answer, before it
// acts on the token (httpapi's POST /v1/seen, whose ack reads one
// snapshot of its own).
func (k *Keyring) Verify(token string) (Claims, error) { return k.verify(token) }

// GenerationQuery reads person's token generation in a store.DB.Snapshot.
func GenerationQuery(person string) store.Query { return store.Get(bGenerations, []byte(person)) }

// CheckGeneration tells whether claims verified by Verify are of the
// person's current generation, given GenerationQuery's answer: ErrRevoked
// when not.
func CheckGeneration(c Claims, found []store.KV) error {
	var gen uint64
	if len(found) == 1 && len(found[0].Value) == 8 {
		gen = binary.BigEndian.Uint64(found[0].Value)
	}
	if gen != c.Generation {
		return ErrRevoked
	}
	return nil
}

// verify checks all but the generation.
func (k *Keyring) verify(token string) (Claims, error) {
	if len(token) > MaxLen || !strings.HasPrefix(token, Prefix) {
		return Claims{}, ErrMalformed
	}
	i := strings.LastIndexByte(token, '.')
	payload, sig := token[:i], token[i+1:]
	// Compared as text, not decoded: a decoder skips newlines and may
	// take other spellings of the same bytes, and only one spelling is
	// the token.
	want := base64.RawURLEncoding.EncodeToString(k.mac(payload))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return Claims{}, ErrSignature
	}
	parts := strings.Split(strings.TrimPrefix(payload, Prefix), ".")
	if len(parts) != 3 {
		return Claims{}, ErrMalformed
	}
	person, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	gen, err2 := strconv.ParseUint(parts[1], 10, 64)
	exp, err3 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Claims{}, ErrMalformed
	}
	c := Claims{Person: string(person), Generation: gen, Expires: time.Unix(exp, 0).UTC()}
	if !k.Clock.Now().Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}

// Generation is the person's current token generation (0 before any
// revocation).
func Generation(tx *store.Tx, person string) uint64 {
	v := tx.Get(bGenerations, []byte(person))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Revoke ends every token of person minted so far.
func Revoke(tx *store.Tx, person string) error {
	v := binary.BigEndian.AppendUint64(nil, Generation(tx, person)+1)
	if err := tx.Put(bGenerations, []byte(person), v); err != nil {
		return fmt.Errorf("revoke person tokens: %w", err)
	}
	return nil
}
