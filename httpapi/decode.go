package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// Body limits. A request body over its limit is refused with 413 before
// it is decoded in full.
const (
	// MaxBodyBytes bounds the JSON body of PUT requests (people, projects,
	// items, conversations): room for 10,000 follower IDs.
	MaxBodyBytes = 1 << 20
	// MaxMessageBodyBytes bounds POST /v1/conversations/{id}/messages: text
	// and html may each hold model.MaxTextBytes once decoded, and JSON
	// escaping makes the body larger than what it carries.
	MaxMessageBodyBytes = 4 << 20
	// MaxSmallBodyBytes bounds the bodies that carry a few fields only:
	// POST /v1/seen and PATCH /v1/people/{id}/settings.
	MaxSmallBodyBytes = 16 << 10
)

// decodeJSON reads one JSON object of at most limit bytes into dst,
// refusing unknown fields and trailing data. On failure it has written the
// answer (413, or 400 naming the field) and returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) bool {
	err := decodeStrict(http.MaxBytesReader(w, r.Body, limit), dst)
	if err != nil {
		writeDecodeError(w, err, "")
	}
	return err == nil
}

// decodeStrict decodes exactly one JSON value into dst, refusing unknown
// fields.
func decodeStrict(rd io.Reader, dst any) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	// One object per body: anything after it is a client bug.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errTrailingData
	}
	return nil
}

var errTrailingData = errors.New("data after the JSON object")

// writeDecodeError answers a decodeStrict error. prefix is put before the
// field names, for an object decoded on its own that is nested in the
// body ("settings."): the decoder only knows names relative to it.
func writeDecodeError(w http.ResponseWriter, err error, prefix string) {
	var (
		mbe *http.MaxBytesError
		ute *json.UnmarshalTypeError
		nfe *notify.FieldError
		se  *json.SyntaxError
	)
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "body", "body over the limit of "+strconv.FormatInt(mbe.Limit, 10)+" bytes")
	case errors.Is(err, errTrailingData):
		writeError(w, http.StatusBadRequest, "body", "one JSON object expected, found more after it")
	case errors.As(err, &nfe):
		writeError(w, http.StatusBadRequest, fieldName(prefix, nfe.Field), "must be one of "+strings.Join(nfe.Allowed, ", "))
	case errors.As(err, &ute):
		writeError(w, http.StatusBadRequest, fieldName(prefix, ute.Field), "must be a JSON "+jsonKind(ute.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this; the name is quoted.
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		writeError(w, http.StatusBadRequest, fieldName(prefix, name), "unknown field")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, fieldName(prefix, ""), "not a JSON object")
	default:
		writeError(w, http.StatusBadRequest, "body", "could not read the body")
	}
}

// fieldName joins the prefix of a nested object and a field name within
// it; an error about the whole value names the object, or the body.
func fieldName(prefix, name string) string {
	switch {
	case name != "":
		return prefix + name
	case prefix != "":
		return strings.TrimSuffix(prefix, ".")
	}
	return "body"
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(k string) string {
	switch {
	case k == "bool":
		return "boolean"
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "slice", k == "array":
		return "array"
	case k == "struct", k == "map", k == "ptr":
		return "object"
	}
	return k
}

// checkPathID answers 400 naming the path parameter when it is not a
// valid record ID (so nothing odd reaches the store or the logs).
func checkPathID(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	id := r.PathValue(name)
	if !model.ValidID(id) {
		writeError(w, http.StatusBadRequest, name, "not a valid id")
		return "", false
	}
	return id, true
}

// queryLimit reads the limit parameter: def when absent, 400 outside 1..max.
func queryLimit(w http.ResponseWriter, r *http.Request, def, max int) (int, bool) {
	l := r.URL.Query().Get("limit")
	if l == "" {
		return def, true
	}
	v, err := strconv.Atoi(l)
	if err != nil || v <= 0 || v > max {
		writeError(w, http.StatusBadRequest, "limit", "must be between 1 and "+strconv.Itoa(max))
		return 0, false
	}
	return v, true
}

// writeStoreError answers the error of a model or store call: a field
// error is 400 naming the field, an unknown record 404, a conflict 409,
// a client that went away or a closed store 503; anything else is logged
// and answered 500 without its text (it may name internals).
func (s *Server) writeStoreError(w http.ResponseWriter, r *http.Request, what string, err error) {
	var fe *model.FieldError
	var nfe *notify.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Field, fe.Msg)
	case errors.As(err, &nfe):
		writeError(w, http.StatusBadRequest, nfe.Field, "must be one of "+strings.Join(nfe.Allowed, ", "))
	case errors.Is(err, model.ErrNotFound), errors.Is(err, notify.ErrNotFound):
		writeError(w, http.StatusNotFound, "", notFoundText(err))
	case errors.Is(err, model.ErrConflict):
		writeError(w, http.StatusConflict, "", conflictText(err))
	case errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrUnavailable), errors.Is(err, context.Canceled), r.Context().Err() != nil:
		writeError(w, http.StatusServiceUnavailable, "", "temporary failure, try again")
	default:
		s.Log.Error(what, "err", err, "path", r.URL.Path)
		writeError(w, http.StatusInternalServerError, "", "internal error")
	}
}

// notFoundText is the model's "KIND ID: not found" without wrapping noise;
// the model's messages name only the record, never internals.
func notFoundText(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": not found"); i > 0 {
		msg = msg[:i]
		if j := strings.LastIndex(msg, ": "); j >= 0 {
			msg = msg[j+2:]
		}
		// The model names a record by its bucket with the "s" cut off,
		// which does not make "people" singular.
		return strings.Replace(msg, "people ", "person ", 1) + " not found"
	}
	return "not found"
}

func conflictText(err error) string {
	_, detail, ok := strings.Cut(err.Error(), "conflict: ")
	if !ok {
		return "conflict"
	}
	return detail
}
