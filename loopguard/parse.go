package loopguard

import (
	"fmt"
	"strings"
)

// message is what the rules look at: the top-level header, the leaves of
// the MIME tree, and notes on anything that went wrong while reading.
type message struct {
	header    header
	mediaType string
	params    map[string]string
	parts     []part
	notes     []string
	text      *string  // the author's own words, lower-cased, made on first use (bodytext.go)
	lead      []string // the first lines of the author's own words, made with text
	hits      *phraseHits
}

// What the classifier decodes of each part. Everything it needs sits at
// the start of a part: the words of an auto-reply or a bounce, the fields
// of a delivery-status report, the header of an attached message. Reading
// more would only make a large or hostile message cost more.
const (
	// maxTextScan is how much of a text part is transfer-decoded.
	maxTextScan = 64 << 10
	// maxReportScan is how much of a report part (delivery-status,
	// feedback-report) is read.
	maxReportScan = 64 << 10
)

// parse reads raw within the caps of the options, in time linear in the
// size of raw. It never fails and never panics: the MIME structure comes
// from the bounded scanner (mime.go), which stops at MaxParts and
// MaxDepth and keeps what it read so far, and only the parts the rules
// read are decoded, each up to a cap.
//
// An earlier version also ran enmime over the whole message. enmime
// decodes every part in full, and its base64 cleaner formats an error for
// every stray byte: a 1 MiB body of junk took about a second, and far
// longer under the fuzzer's instrumentation, which is what made
// FuzzClassify stall. The classifier needs the structure and the first
// bytes of a few parts, which the scanner gives.
func (g *Guard) parse(raw []byte) *message {
	m := &message{}
	var body []byte
	m.header, body, m.notes = readHeader(raw, g.opts.MaxHeaderBytes)
	m.mediaType, m.params = mediaType(m.header.get("content-type"))

	sc := &scanner{maxParts: g.opts.MaxParts, maxDepth: g.opts.MaxDepth, maxHeader: g.opts.MaxHeaderBytes}
	scanErr := sc.walk(m.header, body, 0)
	m.notes = append(m.notes, sc.notes...)
	if scanErr != nil {
		m.notes = append(m.notes, fmt.Sprintf("MIME structure not parsed (%v): classified from the headers and the first parts", scanErr))
	}
	m.parts = decodeAll(sc.leaves)
	return m
}

// decodeAll undoes the transfer encoding of the parts the rules read, up
// to their cap, and converts text to UTF-8. Other parts (attachments,
// images) keep no content: no rule reads them.
func decodeAll(leaves []part) []part {
	out := make([]part, len(leaves))
	for i, p := range leaves {
		switch {
		case strings.HasPrefix(p.mediaType, "text/") && p.mediaType != "text/rfc822-headers":
			p.content = decodeTransfer(p.header, p.content, maxTextScan)
			if cs := strings.ToLower(p.params["charset"]); cs != "" {
				p.content = []byte(toUTF8(cs, p.content))
			}
		case isReportPart(p.mediaType):
			p.content = decodeTransfer(p.header, p.content, maxReportScan)
		case isAttachedMessage(p.mediaType):
			// Only its header is ever read; readHeader caps it.
			p.content = decodeTransfer(p.header, p.content, DefaultMaxHeaderBytes)
		default:
			p.content = nil
		}
		out[i] = p
	}
	return out
}

func isReportPart(t string) bool {
	switch t {
	case "message/delivery-status", "message/global-delivery-status", "message/feedback-report",
		"message/disposition-notification", "message/global-disposition-notification":
		return true
	}
	return false
}

func isAttachedMessage(t string) bool {
	switch t {
	case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
		return true
	}
	return false
}
