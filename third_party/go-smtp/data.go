package smtp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

type EnhancedCode [3]int

// SMTPError specifies the error code, enhanced error code (if any) and
// message returned by the server.
type SMTPError struct {
	Code         int
	EnhancedCode EnhancedCode
	Message      string
}

// NoEnhancedCode is used to indicate that enhanced error code should not be
// included in response.
//
// Note that RFC 2034 requires an enhanced code to be included in all 2xx, 4xx
// and 5xx responses. This constant is exported for use by extensions, you
// should probably use EnhancedCodeNotSet instead.
var NoEnhancedCode = EnhancedCode{-1, -1, -1}

// EnhancedCodeNotSet is a nil value of EnhancedCode field in SMTPError, used
// to indicate that backend failed to provide enhanced status code. X.0.0 will
// be used (X is derived from error code).
var EnhancedCodeNotSet = EnhancedCode{0, 0, 0}

func (err *SMTPError) Error() string {
	s := fmt.Sprintf("SMTP error %03d", err.Code)
	if err.Message != "" {
		s += ": " + err.Message
	}
	return s
}

func (err *SMTPError) Temporary() bool {
	return err.Code/100 == 4
}

var ErrDataTooLarge = &SMTPError{
	Code:         552,
	EnhancedCode: EnhancedCode{5, 3, 4},
	Message:      "Maximum message size exceeded",
}

// ErrBareLF is returned by the DATA reader, with Server.RejectBareLF, when a
// line ends in a bare LF instead of CRLF (RFC 5321 section 2.3.8).
var ErrBareLF = &SMTPError{
	Code:         550,
	EnhancedCode: EnhancedCode{5, 5, 2},
	Message:      "Bare LF received: lines must end with CRLF (RFC 5321 section 2.3.8)",
}

type dataReader struct {
	r     *bufio.Reader
	state int

	strict bool // Server.RejectBareLF
	prevCR bool
	bareLF bool // seen: every later Read fails

	limited bool
	n       int64 // Maximum bytes remaining
}

func newDataReader(c *Conn) *dataReader {
	dr := &dataReader{
		r:      c.text.R,
		strict: c.server.RejectBareLF,
	}

	if c.server.MaxMessageBytes > 0 {
		dr.limited = true
		dr.n = int64(c.server.MaxMessageBytes)
	}

	return dr
}

// RejectsBareLF reports whether the reader fails with ErrBareLF at the
// first LF not preceded by CR (Server.RejectBareLF), so that a session
// handed it need not look for bare LFs again (deskmail patch 6). Only
// DATA's reader has it: BDAT chunks reach the session as they are.
func (r *dataReader) RejectsBareLF() bool { return r.strict }

// copyLine copies into b the bytes that are buffered up to the next CR or
// LF: none of them changes the state (stateData) nor can be a bare LF. It
// returns how many it copied (0 at a CR or LF, or with nothing buffered:
// the byte-wise path then reads, and waits, as before). With strict, the
// last byte copied is no CR, so prevCR is false.
func (r *dataReader) copyLine(b []byte) int {
	buf, _ := r.r.Peek(r.r.Buffered())
	if len(buf) > len(b) {
		buf = buf[:len(b)]
	}
	m := bytes.IndexByte(buf, '\r')
	if m < 0 {
		m = len(buf)
	}
	if j := bytes.IndexByte(buf[:m], '\n'); j >= 0 {
		m = j
	}
	if m == 0 {
		return 0
	}
	copy(b, buf[:m])
	r.r.Discard(m)
	r.prevCR = false
	return m
}

func (r *dataReader) Read(b []byte) (n int, err error) {
	if r.bareLF {
		return 0, ErrBareLF
	}
	if r.limited {
		if r.n <= 0 {
			return 0, ErrDataTooLarge
		}
		if int64(len(b)) > r.n {
			b = b[0:r.n]
		}
	}

	// Code below is taken from net/textproto with only one modification to
	// not rewrite CRLF -> LF.

	// Run data through a simple state machine to
	// elide leading dots and detect End-of-Data (<CR><LF>.<CR><LF>) line.
	const (
		stateBeginLine = iota // beginning of line; initial state; must be zero
		stateDot              // read . at beginning of line
		stateDotCR            // read .\r at beginning of line
		stateCR               // read \r (possibly at end of line)
		stateData             // reading data in middle of line
		stateEOF              // reached .\r\n end marker line
	)
	for n < len(b) && r.state != stateEOF {
		// deskmail patch (5): in the middle of a line, copy up to the
		// next CR or LF from the buffer at once; the state machine
		// below takes every other byte, one at a time, as upstream.
		if r.state == stateData {
			if m := r.copyLine(b[n:]); m > 0 {
				n += m
				continue
			}
		}
		var c byte
		c, err = r.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			break
		}
		if r.strict {
			if c == '\n' && !r.prevCR {
				r.bareLF = true
				err = ErrBareLF
				break
			}
			r.prevCR = c == '\r'
		}
		switch r.state {
		case stateBeginLine:
			if c == '.' {
				r.state = stateDot
				continue
			}
			if c == '\r' {
				r.state = stateCR
				break
			}
			r.state = stateData
		case stateDot:
			if c == '\r' {
				r.state = stateDotCR
				continue
			}
			r.state = stateData
		case stateDotCR:
			if c == '\n' {
				r.state = stateEOF
				continue
			}
			r.state = stateData
		case stateCR:
			if c == '\n' {
				r.state = stateBeginLine
				break
			}
			r.state = stateData
		case stateData:
			if c == '\r' {
				r.state = stateCR
			}
		}
		b[n] = c
		n++
	}
	if err == nil && r.state == stateEOF {
		err = io.EOF
	}

	if r.limited {
		r.n -= int64(n)
	}
	return
}
