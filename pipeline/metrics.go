package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	metricPipeline = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "deskmail_inbound_processed_total",
		Help: "Outcomes of the pipeline's attempts at stored inbound emails: ok (in its conversation), pending (transient failure, retried), failed (set aside), claim_lost, waiting (for an earlier email of its conversation), record_changed (its record changed since the claim read it: given back).",
	}, []string{"result"})
	metricYield = promauto.NewCounter(prometheus.CounterOpts{
		Name: "deskmail_inbound_yield_seconds_total",
		Help: "Time the pipeline's dispatcher held emails back to let accepts go first (pipeline-yield).",
	})
	// The dispatcher's claims, for the two-node profile (bench pipeline
	// --nodes): how many scans found nothing, how many candidates a claim
	// lost to another node (locked, or claimed since the scan), how many
	// it claimed.
	metricDispatchClaims = promauto.NewCounter(prometheus.CounterOpts{
		Name: "deskmail_inbound_dispatch_claims_total",
		Help: "Claim transactions of the pipeline's dispatcher.",
	})
	metricDispatchEmpty = promauto.NewCounter(prometheus.CounterOpts{
		Name: "deskmail_inbound_dispatch_empty_total",
		Help: "Scans of the pipeline's dispatcher that found no email to claim.",
	})
	metricClaimCandidates = promauto.NewCounter(prometheus.CounterOpts{
		Name: "deskmail_inbound_claim_candidates_total",
		Help: "Emails the pipeline's dispatcher tried to claim.",
	})
	metricClaimLost = promauto.NewCounter(prometheus.CounterOpts{
		Name: "deskmail_inbound_claim_lost_total",
		Help: "Emails the pipeline's dispatcher tried to claim and did not: locked by another transaction, claimed since its scan, or held back for their order.",
	})
	metricClaimed = promauto.NewCounter(prometheus.CounterOpts{
		Name: "deskmail_inbound_claimed_total",
		Help: "Emails the pipeline's dispatcher claimed.",
	})
	// What the dispatcher's scans of the due index passed over without
	// claiming, by why: in hand here or noted waiting (skip), another
	// node's under affinity (foreign), held back by an earlier email of
	// its ordering key that another node holds (held).
	metricDuePassed = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "deskmail_inbound_due_passed_total",
		Help: "Emails the pipeline's scans of the due index passed over: skip (in hand or noted waiting), foreign (another node's, affinity), held (behind an earlier email of its key held elsewhere).",
	}, []string{"why"})
	metricDuePassedSkip    = metricDuePassed.WithLabelValues("skip")
	metricDuePassedForeign = metricDuePassed.WithLabelValues("foreign")
	metricDuePassedHeld    = metricDuePassed.WithLabelValues("held")
	metricToConversation   = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "deskmail_inbound_to_conversation_seconds",
		Help:    "Time from an inbound email's 250 (stored) to the commit that processed it into its conversation.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
	})
)
