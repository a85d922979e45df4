package mailmsg

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
)

// Part is one node of the MIME tree: a multipart (with Children) or a
// leaf (Leaf >= 0, the leaf's position among all leaves, depth first).
// message/rfc822 parts are leaves: an attached message is not descended
// into.
type Part struct {
	Header    Header
	MediaType string            // lower-case type/subtype; text/plain when absent
	Params    map[string]string // Content-Type parameters
	// Body is the part's content as written (transfer-encoded), a slice
	// of the input: nothing is copied.
	Body     []byte
	Depth    int // 0 for the top level
	Children []*Part
	Leaf     int // -1 for a multipart
	// Disposition is the Content-Disposition type lower-cased ("inline",
	// "attachment") or "".
	Disposition string
	// FileName is the decoded file name (Content-Disposition filename,
	// else Content-Type name), or "".
	FileName string
	// Text is the decoded text of a text/plain or text/html leaf that is
	// not an attachment, in UTF-8, at most Limits.MaxTextBytes.
	Text string
	// TextCut is set when Text was cut at Limits.MaxTextBytes.
	TextCut bool
}

var (
	// ErrTooManyParts: the message has more MIME parts than MaxParts.
	ErrTooManyParts = errors.New("too many MIME parts")
	// ErrTooDeep: multiparts are nested deeper than MaxDepth.
	ErrTooDeep = errors.New("MIME nesting too deep")
)

// scanner walks the multipart structure of a message with hard caps.
type scanner struct {
	maxParts, maxDepth, maxHeader int
	parts                         int
	leaves                        []*Part
	notes                         []string
}

// walk makes the part of header h and body at depth, and its children.
// On a cap it returns the error together with the part read so far.
func (s *scanner) walk(h Header, body []byte, depth int) (*Part, error) {
	s.parts++
	if s.parts > s.maxParts {
		return nil, fmt.Errorf("%w: more than %d", ErrTooManyParts, s.maxParts)
	}
	if depth > s.maxDepth {
		return nil, fmt.Errorf("%w: more than %d levels", ErrTooDeep, s.maxDepth)
	}
	mt, params := MediaType(h.Get("content-type"))
	p := &Part{Header: h, MediaType: mt, Params: params, Body: body, Depth: depth, Leaf: -1}
	if !strings.HasPrefix(mt, "multipart/") {
		s.leaf(p)
		return p, nil
	}
	// One piece over what is left of the cap is enough to know it is
	// exceeded; a body of 500 000 empty parts is not split further.
	pieces := splitMultipart(body, params["boundary"], s.maxParts-s.parts+1)
	if len(pieces) == 0 {
		// RFC 2046 §5.1.1: a multipart needs its boundary. Without it the
		// body is kept as text so that a legacy bounce text is still read.
		s.notes = append(s.notes, "multipart body without its boundary: read as text")
		p.MediaType, p.Params = "text/plain", nil
		s.leaf(p)
		return p, nil
	}
	for _, piece := range pieces {
		ph, pb, _ := ReadHeader(piece, s.maxHeader)
		c, err := s.walk(ph, pb, depth+1)
		if c != nil {
			p.Children = append(p.Children, c)
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

func (s *scanner) leaf(p *Part) {
	p.Leaf = len(s.leaves)
	s.leaves = append(s.leaves, p)
}

// splitMultipart returns the body parts between the delimiter lines of a
// multipart body (RFC 2046 §5.1.1), ignoring preamble and epilogue. A
// missing close delimiter (a truncated message) keeps the last part. It
// returns at most max parts.
func splitMultipart(body []byte, boundary string, max int) [][]byte {
	if boundary == "" {
		return nil
	}
	delim := []byte("--" + boundary)
	var pieces [][]byte
	start := -1
	for off := 0; off < len(body); {
		i := bytes.Index(body[off:], delim)
		if i < 0 {
			break
		}
		i += off
		off = i + len(delim)
		if i > 0 && body[i-1] != '\n' {
			continue
		}
		end := i
		if end > 0 && body[end-1] == '\n' {
			end--
			if end > 0 && body[end-1] == '\r' {
				end--
			}
		}
		if start >= 0 && end >= start {
			pieces = append(pieces, body[start:end])
			if len(pieces) >= max {
				return pieces
			}
		}
		closing := bytes.HasPrefix(body[off:], []byte("--"))
		_, rest := CutLine(body[off:])
		if closing {
			return pieces
		}
		start = len(body) - len(rest)
		off = start
	}
	if start >= 0 && start < len(body) {
		pieces = append(pieces, body[start:])
	}
	return pieces
}

// DecodeTransfer undoes Content-Transfer-Encoding (h's) on at most max
// bytes of body (encoded), keeping as much as it can of a damaged body.
func DecodeTransfer(h Header, body []byte, max int) []byte {
	if len(body) > max {
		body = body[:max]
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("content-transfer-encoding"))) {
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		// Padding was dropped with the other bytes; a lone last
		// character holds no whole byte.
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		return out
	}
	return body
}
