package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/docs"
	"github.com/deskmail/deskmail/docs/apicheck"
)

// TestOpenAPIDocumentIsValid checks docs/openapi.json against the OpenAPI
// 3.1 schema with a real validator.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	v, err := apicheck.Validator()
	if err != nil {
		t.Fatal(err)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("%s: %s", e.Message, e.Reason)
		}
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(docs.OpenAPI, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q, %v", doc.OpenAPI, err)
	}
}

// TestOpenAPIMatchesTheRouter: every route the server registers is in the
// document, and every operation of the document is registered.
func TestOpenAPIMatchesTheRouter(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(docs.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(documented)
	registered := registeredRoutes(&Server{})
	// /debug/pprof is on the control socket only; registeredRoutes is the
	// HTTP listener's.
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("registered but not in docs/openapi.json: %s", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("in docs/openapi.json but not registered: %s", d)
		}
	}
	// Every documented route also answers with its security: public ones
	// without a token, the rest 401 without one.
	a := newMessagingAPI(t)
	param := regexp.MustCompile(`\{[a-z]+\}`)
	for _, d := range documented {
		method, path, _ := strings.Cut(d, " ")
		var sec json.RawMessage
		_ = json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &struct {
			Security *json.RawMessage `json:"security"`
		}{&sec})
		public := string(sec) == "[]"
		resp, _ := a.callTok(method, param.ReplaceAllString(path, "x1"), "", nil)
		if public != (resp.StatusCode != http.StatusUnauthorized) {
			t.Errorf("%s: documented public=%v, answered %d without a token", d, public, resp.StatusCode)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	a := newMessagingAPI(t)
	resp, err := a.client.Get(a.srv.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(b) != string(docs.OpenAPI) {
		t.Fatalf("%d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
}
