package inbound

import (
	"github.com/emersion/go-message/charset"
	"mime"
	"net/mail"
	"strings"
)

// Limits of OrderKeys: References can list a whole thread; the most
// recent ones are what a reply's conversation is found by.
const (
	maxRefKeys = 20
	maxKeyLen  = 200
)

// OrderKeys names, from what is known before any lookup, everything that
// may put an email into the same conversation as another one: the reply
// token addresses it was sent to (reply+TOKEN@...), its own Message-ID
// and the ones it refers to (In-Reply-To, the last References), and its
// sender. Two emails sharing a key are appended in the order they were
// answered 250; emails sharing none are independent and may be committed
// in any order. The keys over-approximate (two emails of one sender may
// well go to two conversations): a false sharing costs a little waiting,
// a missing one would cost order.
//
// The subject tag ([#1234]), the last threading fallback, is not a key:
// a tagged email from a new sender with no references is rare, and its
// order relative to others only matters within seconds.
func OrderKeys(env Envelope, from, messageID, inReplyTo, references string) []string {
	seen := map[string]bool{}
	var keys []string
	add := func(k string) {
		k = strings.Map(func(r rune) rune {
			if r == 0 || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, k)
		if len(k) > maxKeyLen {
			k = k[:maxKeyLen]
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, r := range env.Rcpts {
		r = strings.ToLower(r)
		if strings.HasPrefix(r, "reply+") {
			add("rcpt:" + r)
		}
	}
	ids := msgIDs(messageID)
	ids = append(ids, msgIDs(inReplyTo)...)
	refs := msgIDs(references)
	if len(refs) > maxRefKeys {
		refs = refs[len(refs)-maxRefKeys:]
	}
	for _, id := range append(ids, refs...) {
		add("mid:" + id)
	}
	sender := ""
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader}}
	if a, err := p.Parse(from); err == nil {
		sender = a.Address
	} else if i, j := strings.LastIndexByte(from, '<'), strings.LastIndexByte(from, '>'); i >= 0 && j > i {
		sender = from[i+1 : j]
	}
	if sender == "" {
		sender = env.MailFrom
	}
	if sender = strings.ToLower(strings.TrimSpace(sender)); sender != "" {
		add("from:" + sender)
	}
	return keys
}

// msgIDs extracts the <...> identifiers of a header value, lower-cased
// (over-grouping two IDs differing only in case is harmless here).
func msgIDs(v string) []string {
	var out []string
	for len(out) < 1000 {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.ToLower(strings.TrimSpace(v[i+1 : i+j])); id != "" {
			out = append(out, id)
		}
		v = v[i+j+1:]
	}
	return out
}
