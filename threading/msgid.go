package threading

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"github.com/deskmail/deskmail/mailmsg"
)

// Message-IDs. Every email deskmail sends gets
//
//	dm1.RANDOM.TAG@DOMAIN
//
// RANDOM is 16 bytes from crypto/rand in lowercase base32 (26 chars):
// globally unique without coordination, as RFC 5322 section 3.6.4 asks,
// and it names no person, conversation or address, so a forwarded email
// leaks nothing. TAG is 5 bytes of HMAC-SHA256 over "RANDOM@DOMAIN" under
// the keyring (8 chars): it lets the loop guard recognise our own mail
// coming back without a lookup, and nobody else can mint IDs that pass.
// "dm1." names the scheme and its version.
//
// IDs in this package are written without angle brackets, as net/mail
// returns them and as the Index keys them; ThreadHeaders adds the brackets
// that the header syntax (msg-id, RFC 5322 section 3.6.4) needs.

const (
	msgIDPrefix  = "dm1."
	msgIDRandLen = 16
	msgIDTagLen  = 5
	msgIDContext = "deskmail/message-id\x00"
)

// MaxReferences caps the References header: the conversation root plus
// the newest MaxReferences-1 IDs. RFC 5322 section 3.6.4 lets the list
// grow without end, but long lists break 998-octet line limits in naive
// software and some servers reject huge headers; netnews practice (RFC
// 5537 section 3.4.4) is to keep the first and the most recent ones,
// which is all a client needs to join the thread.
const MaxReferences = 12

// MaxReferencesScan bounds how many IDs of an inbound In-Reply-To or
// References header are looked at.
const MaxReferencesScan = mailmsg.MaxMessageIDs

func msgIDTag(secret []byte, randPart, domain string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msgIDContext))
	m.Write([]byte(randPart))
	m.Write([]byte{'@'})
	m.Write([]byte(strings.ToLower(domain)))
	return m.Sum(nil)[:msgIDTagLen]
}

// MessageID returns a new Message-ID for an email sent from domain,
// without angle brackets. Use it for every outgoing email, and once per
// conversation for its thread root (see Thread.RootID).
func (k *Keyring) MessageID(domain string) string {
	var r [msgIDRandLen]byte
	rand.Read(r[:]) // never fails (crypto/rand, Go 1.24+)
	rp := b32.EncodeToString(r[:])
	tag := b32.EncodeToString(msgIDTag(k.snapshot()[0].secret, rp, domain))
	return msgIDPrefix + rp + "." + tag + "@" + domain
}

// IsOwnMessageID reports whether id (with or without angle brackets) is a
// Message-ID this keyring minted, under the current or an old secret.
// IDs minted under a secret dropped from the keyring no longer pass.
func (k *Keyring) IsOwnMessageID(id string) bool {
	id = CanonicalMessageID(id)
	at := strings.LastIndexByte(id, '@')
	if at < 0 || !strings.HasPrefix(strings.ToLower(id), msgIDPrefix) {
		return false
	}
	local, domain := strings.ToLower(id[len(msgIDPrefix):at]), id[at+1:]
	rp, tagText, ok := strings.Cut(local, ".")
	if !ok || len(rp) != b32.EncodedLen(msgIDRandLen) || len(tagText) != b32.EncodedLen(msgIDTagLen) {
		return false
	}
	tag, err := b32.DecodeString(tagText)
	if err != nil || b32.EncodeToString(tag) != tagText {
		return false
	}
	for _, key := range k.snapshot() {
		if hmac.Equal(tag, msgIDTag(key.secret, rp, domain)) {
			return true
		}
	}
	return false
}

// CanonicalMessageID is the form IDs are compared and indexed in: white
// space and one pair of angle brackets removed, nothing else changed (the
// local part is case-sensitive, RFC 5322 section 3.6.4).
func CanonicalMessageID(id string) string { return mailmsg.CanonicalMessageID(id) }

// ParseMessageIDs reads the IDs of an In-Reply-To or References header
// value, oldest first, at most MaxReferencesScan of them (the newest
// ones). It is lenient where clients are sloppy: IDs without brackets,
// comments, commas; anything without an '@' is dropped.
func ParseMessageIDs(header string) []string { return mailmsg.MessageIDs(header) }

// Thread is what BuildThreadHeaders needs to know about a conversation.
type Thread struct {
	// RootID is the conversation's thread root: a MessageID made once,
	// when the conversation first sends email, and kept with it (and in
	// the index). It is never the Message-ID of an email actually sent;
	// every email refers to it, so all of them share one ancestor even
	// in a mailbox that never saw the first one.
	RootID string
	// Prior lists the Message-IDs of earlier emails of the conversation,
	// oldest first: the ones sent to this recipient, and the ones the
	// recipient sent us, so In-Reply-To names a message they have.
	Prior []string
	// Topic is the conversation subject (see ThreadSubject).
	Topic string
	// Started is when the conversation began; Now is the send time.
	Started, Now time.Time
}

// ThreadHeaders are header values, ready to write (IDs in angle brackets).
type ThreadHeaders struct {
	InReplyTo   string // In-Reply-To
	References  string // References, IDs separated by spaces; fold when writing
	ThreadTopic string // Thread-Topic (Outlook)
	ThreadIndex string // Thread-Index (Outlook), base64
}

// BuildThreadHeaders computes the threading headers of the next email of a
// conversation. How the clients thread, and so why each header:
//
//   - Thunderbird and Apple Mail follow References and In-Reply-To (the
//     JWZ algorithm, RFC 5256 section 2.2); a referenced message that is
//     missing becomes an empty parent, so a shared root is enough.
//   - Gmail puts a message into an existing conversation when it refers
//     (References/In-Reply-To) to a message of that conversation AND the
//     subject is the same after removing "Re:"-style prefixes. Hence one
//     subject per conversation (ThreadSubject).
//   - Outlook (desktop, and Exchange/Microsoft 365 conversation view)
//     groups by Thread-Index, whose 16-byte GUID is the conversation
//     identity ([MS-OXOMSG] section 2.2.1.3), and by Thread-Topic, the
//     normalised subject; without a Thread-Index it falls back to the
//     subject. We derive the GUID from RootID, so every email of one
//     conversation carries the same one.
//
// The first email (no Prior) gets In-Reply-To and References set to the
// root; later ones reply to the newest prior ID, and References holds the
// root plus the newest IDs, at most MaxReferences in all.
func BuildThreadHeaders(t Thread) ThreadHeaders {
	root := CanonicalMessageID(t.RootID)
	refs := make([]string, 0, MaxReferences)
	var prior []string
	for _, id := range t.Prior {
		if id = CanonicalMessageID(id); id != "" && id != root {
			prior = append(prior, id)
		}
	}
	if len(prior) > MaxReferences-1 {
		prior = prior[len(prior)-(MaxReferences-1):]
	}
	if root != "" {
		refs = append(refs, root)
	}
	refs = append(refs, prior...)
	var h ThreadHeaders
	if len(refs) > 0 {
		h.InReplyTo = "<" + refs[len(refs)-1] + ">"
		h.References = "<" + strings.Join(refs, "> <") + ">"
	}
	h.ThreadTopic = NormalizeSubject(t.Topic)
	h.ThreadIndex = threadIndex(root, t.Started, t.Now, len(t.Prior) > 0)
	return h
}

// filetime converts to Windows FILETIME: 100 ns ticks since 1601-01-01.
func filetime(t time.Time) uint64 {
	const epochDiff = 116444736000000000 // 1601 -> 1970 in 100 ns ticks
	return uint64(t.UnixNano()/100) + epochDiff
}

// threadIndex builds a Thread-Index value ([MS-OXOMSG] 2.2.1.3): a 22-byte
// header (0x01, the top 40 bits of the start FILETIME, a 16-byte GUID)
// and, for a reply, one 5-byte response level holding the time since the
// start. Outlook needs only the GUID to group; the rest orders the view.
func threadIndex(root string, started, now time.Time, reply bool) string {
	b := make([]byte, 22, 27)
	b[0] = 0x01
	ft := filetime(started) &^ (1<<24 - 1)
	var t8 [8]byte
	binary.BigEndian.PutUint64(t8[:], ft)
	copy(b[1:6], t8[:5])
	g := sha256.Sum256([]byte("deskmail/thread-index\x00" + root))
	copy(b[6:22], g[:16])
	if reply {
		var delta uint64
		if n := filetime(now); n > ft {
			delta = n - ft
		}
		// Response level: 1 bit DC, 31 bits time difference, 4 bits
		// random, 4 bits sequence. DC=0 keeps bits 48..18 of the delta
		// (about 1.7 years), DC=1 bits 53..23 for longer conversations.
		var level uint64
		if delta>>49 == 0 {
			level = (delta >> 18) & (1<<31 - 1)
		} else {
			level = 1<<31 | (delta>>23)&(1<<31-1)
		}
		level = level<<8 | uint64(g[16]&0xf0)
		var l8 [8]byte
		binary.BigEndian.PutUint64(l8[:], level)
		b = append(b, l8[3:8]...)
	}
	return base64.StdEncoding.EncodeToString(b)
}
