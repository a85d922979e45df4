package mailmsg

import (
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
)

// disposition reads a leaf's Content-Disposition type and its file name
// (the disposition's filename, else Content-Type's name; RFC 2231 and
// RFC 2047 forms decoded).
func disposition(p *Part) (kind, name string) {
	if v := p.Header.Get("content-disposition"); v != "" {
		d, params, err := mime.ParseMediaType(v)
		if err != nil {
			d = strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
		}
		kind, name = d, params["filename"]
	}
	if name == "" {
		name = p.Params["name"]
	}
	if strings.Contains(name, "=?") {
		name = DecodeWords(name)
	}
	return kind, strings.ToValidUTF8(name, "\uFFFD")
}

// decodedSize is the size of body once its transfer encoding is undone,
// counted without keeping the bytes.
func decodedSize(h Header, body []byte) int64 {
	switch strings.ToLower(strings.TrimSpace(h.Get("content-transfer-encoding"))) {
	case "base64":
		n := 0
		for _, c := range body {
			if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' {
				n++
			}
		}
		return int64(n/4*3 + max(n%4-1, 0))
	case "quoted-printable":
		n, _ := io.Copy(io.Discard, quotedprintable.NewReader(bytes.NewReader(body)))
		return n
	}
	return int64(len(body))
}
