package loopguard

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// message is what the rules look at: the top-level header, the leaves of
// the MIME tree, and notes on anything that went wrong while reading.
type message struct {
	header    header
	mediaType string
	params    map[string]string
	parts     []part
	notes     []string
}

// enmimeParser skips malformed parts instead of failing the whole message
// and keeps decoding mistakes quiet: the loop guard needs the structure,
// not a perfect rendering.
var enmimeParser = enmime.NewParser(
	enmime.SkipMalformedParts(true),
	enmime.MultipartWOBoundaryAsSinglePart(true),
	enmime.SetReadPartErrorPolicy(enmime.AllowCorruptTextPartErrorPolicy),
	enmime.MaxStoredPartErrors(8),
	enmime.DisableCharacterDetection(true),
)

// parse reads raw within the caps of the options. It never fails and never
// panics: when the caps are exceeded or enmime fails, the parts come from
// the bounded scanner instead, and the top-level header always comes from
// readHeader.
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
		m.parts = decodeAll(sc.leaves)
		return m
	}
	if body == nil {
		// The header had no end (or was over the cap): there is nothing
		// enmime could add.
		m.parts = decodeAll(sc.leaves)
		return m
	}
	parts, err := parseEnmime(raw)
	if err != nil {
		m.notes = append(m.notes, fmt.Sprintf("MIME parser failed (%v): classified from a tolerant reading", err))
		m.parts = decodeAll(sc.leaves)
		return m
	}
	m.parts = parts
	return m
}

func decodeAll(leaves []part) []part {
	out := make([]part, len(leaves))
	for i, p := range leaves {
		p.content = decodeTransfer(p.header, p.content)
		out[i] = p
	}
	return out
}

// parseEnmime runs enmime under recover: a panic in a third-party parser
// on hostile input must cost one message its MIME view, not the daemon.
func parseEnmime(raw []byte) (parts []part, err error) {
	defer func() {
		if r := recover(); r != nil {
			parts, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	root, err := enmimeParser.ReadParts(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	var walk func(p *enmime.Part, depth int)
	walk = func(p *enmime.Part, depth int) {
		if p.FirstChild == nil {
			parts = append(parts, part{
				header:    fromMIMEHeader(p.Header),
				mediaType: strings.ToLower(p.ContentType),
				params:    p.ContentTypeParams,
				content:   p.Content,
				depth:     depth,
			})
			return
		}
		for c := p.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth+1)
		}
	}
	walk(root, 0)
	return parts, nil
}

func fromMIMEHeader(mh map[string][]string) header {
	var h header
	for k, vs := range mh {
		for _, v := range vs {
			h = append(h, field{name: strings.ToLower(k), value: strings.TrimSpace(v)})
		}
	}
	return h
}
