// Package apicheck holds tests to the API's contract: it wraps a test's
// HTTP client so that every request it sends and every answer it gets is
// validated against docs/openapi.json (OpenAPI 3.1, with
// github.com/pb33f/libopenapi-validator). A request the document calls
// invalid must be refused (4xx); an answer must be one the document
// describes for that route and status, body included.
package apicheck

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/deskmail/deskmail/docs"
)

var (
	once    sync.Once
	shared  validator.Validator
	loadErr error
	mu      sync.Mutex // the validator's caches are not documented as safe for concurrent use
)

// Validator is the document's validator, built once per test binary.
func Validator() (validator.Validator, error) {
	once.Do(func() {
		doc, err := libopenapi.NewDocument(docs.OpenAPI)
		if err != nil {
			loadErr = fmt.Errorf("parse docs/openapi.json: %w", err)
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			loadErr = fmt.Errorf("build the validator: %v", errs)
			return
		}
		shared = v
	})
	return shared, loadErr
}

// Client returns a copy of base whose every exchange is checked; a
// mismatch fails t (Errorf, so the test goes on and shows the rest).
func Client(t testing.TB, base *http.Client) *http.Client {
	t.Helper()
	v, err := Validator()
	if err != nil {
		t.Fatal(err)
	}
	c := *base
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = &transport{t: t, v: v, next: next}
	return &c
}

type transport struct {
	t    testing.TB
	v    validator.Validator
	next http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	if req.Method == http.MethodOptions {
		return tr.next.RoundTrip(req) // CORS preflight: HTTP's machinery, not an operation
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > 0 && check.Header.Get("Content-Type") == "" {
		// The API reads every body as its documented type whatever the
		// header says (curl -d sends form-urlencoded): check it as that.
		check.Header.Set("Content-Type", "application/json")
		if strings.HasSuffix(req.URL.Path, "/v1/inbound") {
			check.Header.Set("Content-Type", "message/rfc822")
		}
	}
	mu.Lock()
	reqOK, reqErrs := tr.v.ValidateHttpRequestSync(check)
	mu.Unlock()

	resp, err := tr.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	what := req.Method + " " + req.URL.RequestURI()
	if !reqOK && (resp.StatusCode < 400 || resp.StatusCode >= 500) {
		tr.t.Errorf("apicheck: %s: the document calls the request invalid, the server answered %s:\n%s", what, resp.Status, describe(reqErrs))
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "text/event-stream" {
		// A stream does not end: check the status and the type only.
		check.Body = nil
		resp2 := *resp
		resp2.Body = io.NopCloser(strings.NewReader(""))
		tr.validateResponse(what, check, &resp2, true)
		return resp, nil
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	copyResp := *resp
	copyResp.Body = io.NopCloser(bytes.NewReader(rb))
	tr.validateResponse(what, check, &copyResp, false)
	return resp, nil
}

func (tr *transport) validateResponse(what string, req *http.Request, resp *http.Response, stream bool) {
	if resp.StatusCode == http.StatusMethodNotAllowed || (resp.StatusCode == http.StatusNotFound && resp.Header.Get("Content-Type") == "application/json" && !known(tr.v, req)) {
		return // the mux's answers for paths and methods the document does not have
	}
	mu.Lock()
	ok, errs := tr.v.ValidateHttpResponse(req, resp)
	mu.Unlock()
	if stream {
		// An empty stream body is not a string the schema can check.
		var rest []*verrors.ValidationError
		for _, e := range errs {
			if e.ValidationType != "response" || !strings.Contains(strings.ToLower(e.Message), "body") {
				rest = append(rest, e)
			}
		}
		ok, errs = len(rest) == 0, rest
	}
	if !ok {
		tr.t.Errorf("apicheck: %s: the answer %s is not what the document describes:\n%s", what, resp.Status, describe(errs))
	}
}

// known tells whether the document has the request's path and method.
func known(v validator.Validator, req *http.Request) bool {
	mu.Lock()
	defer mu.Unlock()
	_, errs := v.ValidateHttpRequestSync(req)
	for _, e := range errs {
		if e.ValidationType == "path" || e.ValidationSubType == "missing" {
			return false
		}
	}
	return true
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  - %s", e.Message)
		if e.Reason != "" {
			fmt.Fprintf(&b, ": %s", e.Reason)
		}
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s at %s", se.Reason, se.FieldPath)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
