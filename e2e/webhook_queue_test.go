package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/webhook"
)

// The built daemon with a web app that is down: the webhook job of an
// appended message waits in the queue, `deskmail queue list` shows it by
// kind, and once the web app is back an operator's retry delivers it,
// signed; the log of outgoing email has no entry for it.
func TestWebhookJobInTheQueue(t *testing.T) {
	var up atomic.Bool
	var posts, delivered, badSig atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		posts.Add(1)
		if !webhook.Verify([]byte("hook-secret"), body, r.Header.Get(webhook.SignatureHeader), time.Now(), time.Minute) {
			badSig.Add(1)
		}
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		delivered.Add(1)
	}))
	defer srv.Close()
	dir := t.TempDir()
	d := startDaemon(t, dir, "--webhook-url", srv.URL, "--webhook-secret", "hook-secret")
	sendOne(t, d.SMTP, message("<hook-1@client.test>", "Printer on fire", 300))

	var job queue.Job
	deadline := time.Now().Add(lineTimeout)
	waitfor.Until(t, time.Until(deadline), "a webhook job in the queue is tried", func() bool {
		for _, j := range queueList(t, dir) {
			if j.Kind == queue.KindWebhook {
				job = j
			}
		}
		return job.ID != "" && posts.Load() > 0
	})
	if job.Conversation == "" || len(job.Messages) != 1 || job.Person != "" {
		t.Errorf("webhook job %+v: want its conversation and message, no person", job)
	}
	r := runCLI(t, nil, nil, "queue", "list", "--data", dir)
	if line := lineWith(r.Stdout, job.ID); !strings.Contains(line, " webhook ") {
		t.Errorf("queue list: %q has no webhook kind\n%s", line, r.Stdout)
	}
	r = runCLI(t, nil, nil, "queue", "show", job.ID, "--data", dir)
	if r.Code != 0 || !strings.Contains(r.Stdout, "kind: webhook") || !strings.Contains(r.Stdout, "503") {
		t.Errorf("queue show: %q %s", r.Stdout, r.Stderr)
	}

	up.Store(true)
	// Between attempts (the first backoff is 5 s) the job is queued, so
	// the retry is accepted; during an attempt it is refused as sending.
	waitfor.Until(t, time.Until(deadline), "queue retry is accepted (or the job delivered)", func() bool {
		r := runCLI(t, nil, nil, "queue", "retry", job.ID, "--data", dir)
		return r.Code == 0 || delivered.Load() > 0
	})
	waitfor.Until(t, time.Until(deadline), "the retried webhook job is delivered", func() bool { return delivered.Load() > 0 })
	if badSig.Load() > 0 {
		t.Errorf("%d POSTs without a valid signature", badSig.Load())
	}
	// The web app counts the POST before the daemon commits its answer:
	// the job leaves the list at that commit.
	waitfor.Until(t, time.Until(deadline), "the delivered job leaves the queue", func() bool {
		for _, j := range queueList(t, dir) {
			if j.ID == job.ID {
				return false
			}
		}
		return true
	})
	r = runCLI(t, nil, nil, "log", "--json", "--data", dir, "--hours", "1", "--direction", "out")
	if r.Code != 0 {
		t.Fatalf("log: %s", r.Stderr)
	}
	if strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("the webhook job is in the log of outgoing email:\n%s", r.Stdout)
	}
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
