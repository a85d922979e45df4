package loopguard

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
)

// part is a leaf of the MIME tree as the classifier sees it, whichever
// parser produced it.
type part struct {
	header    header
	mediaType string
	params    map[string]string
	content   []byte // transfer-decoded
	depth     int    // 0 for a single-part message
}

var (
	errTooManyParts = errors.New("too many MIME parts")
	errTooDeep      = errors.New("MIME nesting too deep")
)

// scanner walks the multipart structure of a message with hard caps.
// message/rfc822 parts are leaves: the classifier only ever looks at the
// header of an attached message, never for report parts inside it.
type scanner struct {
	maxParts, maxDepth, maxHeader int
	parts                         int
	leaves                        []part
	notes                         []string
}

func (s *scanner) walk(h header, body []byte, depth int) error {
	s.parts++
	if s.parts > s.maxParts {
		return fmt.Errorf("%w: more than %d", errTooManyParts, s.maxParts)
	}
	if depth > s.maxDepth {
		return fmt.Errorf("%w: more than %d levels", errTooDeep, s.maxDepth)
	}
	mt, params := mediaType(h.get("content-type"))
	if !strings.HasPrefix(mt, "multipart/") {
		s.leaves = append(s.leaves, part{header: h, mediaType: mt, params: params, content: body, depth: depth})
		return nil
	}
	// One piece over what is left of the cap is enough to know it is
	// exceeded; a body of 500 000 empty parts is not split further.
	pieces := splitMultipart(body, params["boundary"], s.maxParts-s.parts+1)
	if len(pieces) == 0 {
		// RFC 2046 §5.1.1: a multipart needs its boundary. Without it the
		// body is kept as text so that a legacy bounce text is still read.
		s.notes = append(s.notes, "multipart body without its boundary: read as text")
		s.leaves = append(s.leaves, part{header: h, mediaType: "text/plain", content: body, depth: depth})
		return nil
	}
	for _, p := range pieces {
		ph, pb, _ := readHeader(p, s.maxHeader)
		if err := s.walk(ph, pb, depth+1); err != nil {
			return err
		}
	}
	return nil
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
		_, rest := cutLine(body[off:])
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

// decodeTransfer undoes Content-Transfer-Encoding on at most max bytes of
// body (encoded), keeping as much as it can of a damaged body.
func decodeTransfer(h header, body []byte, max int) []byte {
	if len(body) > max {
		body = body[:max]
	}
	switch strings.ToLower(strings.TrimSpace(h.get("content-transfer-encoding"))) {
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		clean = clean[:len(clean)/4*4]
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, _ := base64.StdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		return out
	}
	return body
}
