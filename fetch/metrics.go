package fetch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Labels are mailbox names from the configuration: few and bounded.
var (
	metricMessages = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "deskmail_fetch_messages_total",
		Help: "Messages fetched over IMAP, by mailbox and result (stored, duplicate, too_large).",
	}, []string{"mailbox", "result"})
	metricErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "deskmail_fetch_errors_total",
		Help: "IMAP sessions that ended in an error (connection, sign-in, server), by mailbox.",
	}, []string{"mailbox"})
	metricFailing = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "deskmail_fetch_failing",
		Help: "1 while a mailbox's last attempt failed (wrong password, certificate, server down), else 0.",
	}, []string{"mailbox"})
)
