// Package loopguard decides, for every inbound email, whether a person wrote
// it. Only mail written by a person may make deskmail notify anyone or send
// any email; everything else (out-of-office replies, other helpdesks'
// acknowledgements, bounces, mailing lists, deskmail's own mail coming
// back) is stored and journaled but triggers nothing, which is what keeps
// two automatic systems from mailing each other forever.
//
// A Guard classifies a message into one Class with readable reasons
// (Guard.Classify): every rule that matches adds a weighted signal, a
// class is decided when its weights reach 10, and the reasons say what
// decided, what was seen and outweighed, and what spoke against (the
// tables are in rules.go, the weighing in score.go). It parses bounces and
// abuse reports so the outbound side can mark the email they refer to
// (Verdict.Bounce), marks deskmail's own outgoing mail (Guard.Marker) and
// rate-limits each sender per conversation (Guard.AllowSender).
// ConversationCap and RecipientCap stop the ping-pong classification
// misses, with their counts kept in the caller's transaction (KV).
// Classification is pure and bounded: it reads only its inputs, a fixed
// prefix of each part, and never panics, whatever the bytes. Every rule is
// listed, with the RFC or the sender that needs it, in
// docs/LOOP-PREVENTION.md.
package loopguard

import "time"

// Class is the kind of an inbound message (SPEC section 7).
type Class string

// The five classes. Only Human may trigger notifications or email.
const (
	Human     Class = "human"
	AutoReply Class = "auto_reply"
	Bounce    Class = "bounce"
	Bulk      Class = "bulk"
	Looping   Class = "looping"
)

// priority orders the classes when several rules match: the most specific
// evidence of a machine wins.
func (c Class) priority() int {
	switch c {
	case Looping:
		return 5
	case Bounce:
		return 4
	case AutoReply:
		return 3
	case Bulk:
		return 2
	}
	return 1
}

// Envelope is what the SMTP transaction said about a message.
type Envelope struct {
	// MailFrom is the reverse path; "" is the null reverse path "<>" of
	// notifications (RFC 5321 §4.5.5).
	MailFrom string
	Rcpts    []string
	RemoteIP string
	// Offline is true when there was no SMTP transaction (deskmail
	// explain on a saved file): the reverse path is then taken from the
	// Return-Path header, if any, and an empty MailFrom means "unknown".
	Offline bool
}

// Verdict is the outcome of Classify.
type Verdict struct {
	Class Class
	// Reasons says which rules decided, most important first, e.g.
	// "Auto-Submitted: auto-replied (RFC 3834 §5)". Lines starting with
	// "note:" did not decide the class but are worth a look.
	Reasons []string
	// Bounce is set for Class Bounce, and only then. Its fields are
	// empty where the report did not say (or could not be read).
	Bounce *BounceReport
}

// Notify reports whether the message may trigger notifications or any
// automatic email: only a human's may.
func (v Verdict) Notify() bool { return v.Class == Human }

// Options are the limits of a Guard. Zero values take the defaults.
type Options struct {
	// MaxReceived is the number of Received fields above which a message
	// is looping (default 30, SPEC section 7). RFC 5321 §6.3 asks for at
	// least 100 before *rejecting* mail, and Postfix bounces at 50; the
	// loop guard rejects nothing, it only keeps such mail from triggering
	// anything, so a lower threshold is safe.
	MaxReceived int
	// MaxHeaderBytes caps the top-level header and each part's header
	// (default 256 KiB).
	MaxHeaderBytes int
	// MaxParts caps the number of MIME parts (default 200).
	MaxParts int
	// MaxDepth caps multipart nesting (default 10).
	MaxDepth int
	// Secrets are the HMAC keys of the own-mail marker: the first signs,
	// all of them verify (key rotation). Without a secret, deskmail's own
	// mail is not recognised by the marker.
	Secrets [][]byte
	// RateLimit messages per RateWindow per (sender, conversation)
	// (default 20 per 10 minutes).
	RateLimit  int
	RateWindow time.Duration
	// MaxRateKeys caps the (sender, conversation) pairs tracked
	// (default 100000, a few MiB).
	MaxRateKeys int
	// OwnMessageID tells whether a Message-ID is one deskmail minted
	// (threading.Keyring.IsOwnMessageID). With it, In-Reply-To naming our
	// own email is a hint of another system answering ours; nil turns
	// the hint off (deskmail explain without a data folder).
	OwnMessageID func(id string) bool
}

// Default limits; see Options.
const (
	DefaultMaxReceived    = 30
	DefaultMaxHeaderBytes = 256 << 10
	DefaultMaxParts       = 200
	DefaultMaxDepth       = 10
	DefaultRateLimit      = 20
	DefaultRateWindow     = 10 * time.Minute
	DefaultMaxRateKeys    = 100000
)

// Guard classifies inbound mail. It is safe for concurrent use.
type Guard struct {
	opts Options
	rate *rateLimiter
}

// New returns a Guard with opts, defaults filled in.
func New(opts Options) *Guard {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opts.MaxReceived, DefaultMaxReceived)
	def(&opts.MaxHeaderBytes, DefaultMaxHeaderBytes)
	def(&opts.MaxParts, DefaultMaxParts)
	def(&opts.MaxDepth, DefaultMaxDepth)
	def(&opts.RateLimit, DefaultRateLimit)
	def(&opts.MaxRateKeys, DefaultMaxRateKeys)
	if opts.RateWindow <= 0 {
		opts.RateWindow = DefaultRateWindow
	}
	return &Guard{opts: opts, rate: newRateLimiter(opts.RateLimit, opts.RateWindow, opts.MaxRateKeys)}
}
