package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	metricPipeline = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "deskmail_inbound_processed_total",
		Help: "Outcomes of the pipeline's attempts at stored inbound emails: ok (in its conversation), pending (transient failure, retried), failed (set aside), claim_lost, waiting (for an earlier email of its conversation).",
	}, []string{"result"})
	metricYield = promauto.NewCounter(prometheus.CounterOpts{
		Name: "deskmail_inbound_yield_seconds_total",
		Help: "Time the pipeline's dispatcher held emails back to let accepts go first (pipeline-yield).",
	})
	metricToConversation = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "deskmail_inbound_to_conversation_seconds",
		Help:    "Time from an inbound email's 250 (stored) to the commit that processed it into its conversation.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
	})
)
