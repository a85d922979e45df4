package intake

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	metricThread = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "deskmail_threading_emails_total",
		Help: "Human emails through the threading step, by outcome (post, open, quarantine, reject, drop, duplicate).",
	}, []string{"outcome"})
)
