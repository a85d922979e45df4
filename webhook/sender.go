package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/queue"
)

// Bounds of delivery.
const (
	// RequestTimeout bounds one POST, response included.
	RequestTimeout = 10 * time.Second
	// DefaultConcurrency is how many POSTs run at once by default.
	DefaultConcurrency = 4
	// maxResponse is how much of a response is read (and dropped) so the
	// connection can be reused.
	maxResponse = 64 << 10
)

// DefaultBackoff is the retry schedule of webhook jobs (the queue's
// KindBackoff for queue.KindWebhook): the web app is usually back within
// seconds, so 5 s doubling to an hour, with jitter so the events queued
// during an outage do not all arrive in the same second. The queue's
// MaxAge ends the retries.
var DefaultBackoff = queue.Backoff{Base: 5 * time.Second, Max: time.Hour, Jitter: 0.2}

// Sender POSTs webhook jobs: it is the queue worker's queue.Sender for
// queue.KindWebhook. Its zero fields take their defaults on first use.
type Sender struct {
	URL    string
	Secret []byte
	Clock  clock.Clock
	// Client defaults to one with RequestTimeout.
	Client *http.Client
	// Concurrency caps the POSTs at once (default DefaultConcurrency), so
	// a slow web app cannot take every slot of the queue worker's pool of
	// outbound work for long, nor be flooded after an outage.
	Concurrency int

	once  sync.Once
	slots chan struct{}
}

func (s *Sender) init() {
	s.once.Do(func() {
		if s.Client == nil {
			s.Client = &http.Client{Timeout: RequestTimeout}
		}
		if s.Concurrency <= 0 {
			s.Concurrency = DefaultConcurrency
		}
		if s.Clock == nil {
			s.Clock = clock.Real{}
		}
		s.slots = make(chan struct{}, s.Concurrency)
	})
}

// Send POSTs the event stored with j. Any failure is temporary: the web
// app is told "until it succeeds" (SPEC section 5), within the queue's
// MaxAge.
func (s *Sender) Send(ctx context.Context, j queue.Job, body []byte) (queue.Result, error) {
	s.init()
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return queue.Result{}, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return queue.Result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "deskmail-webhook/1")
	req.Header.Set("X-Deskmail-Event", j.ID)
	req.Header.Set(SignatureHeader, Sign(s.Secret, body, s.Clock.Now()))
	resp, err := s.Client.Do(req)
	if err != nil {
		metricPosts.WithLabelValues("error").Inc()
		return queue.Result{}, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		metricPosts.WithLabelValues("refused").Inc()
		return queue.Result{}, fmt.Errorf("the web app answered %s", resp.Status)
	}
	metricPosts.WithLabelValues("delivered").Inc()
	return queue.Result{Reply: resp.Status}, nil
}
