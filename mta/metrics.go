package mta

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	metricConnections = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "deskmail_smtp_connections_total",
		Help: "SMTP and LMTP connections, by result (accepted, rejected).",
	}, []string{"proto", "result"})
	metricActive = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "deskmail_smtp_connections_active",
		Help: "Open SMTP and LMTP connections.",
	}, []string{"proto"})
	metricMessages = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "deskmail_smtp_messages_total",
		Help: "Messages and recipients by result (accepted, duplicate, rejected, tempfail) and reason.",
	}, []string{"result", "reason"})
	metricSize = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "deskmail_smtp_message_size_bytes",
		Help:    "Size of accepted messages.",
		Buckets: prometheus.ExponentialBuckets(1024, 4, 10), // 1 KiB .. 256 MiB
	})
	metricCommitWait = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "deskmail_smtp_commit_wait_seconds",
		Help:    "Time an accepted message waited for its durable commit before the 250.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
)

// The counters of every email, found once rather than by label each time.
var (
	metricAccepted  = metricMessages.WithLabelValues("accepted", "")
	metricDuplicate = metricMessages.WithLabelValues("duplicate", "")
)
