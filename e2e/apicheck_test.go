package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/deskmail/deskmail/docs/apicheck"
)

// apiClient is the e2e tests' client of the daemon's HTTP listener: every
// request it sends and every answer it gets is checked against
// docs/openapi.json.
func apiClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	return apicheck.Client(t, &http.Client{Timeout: timeout})
}
