package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/deskmail/deskmail/store"
)

var (
	metricCommit = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "deskmail_store_commit_duration_seconds",
		Help:    "Duration of a store commit (one fsynced bbolt transaction).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	metricBatch = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "deskmail_store_commit_batch_size",
		Help:    "Writes that shared one commit (group commit).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 11),
	})
	metricCommitErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "deskmail_store_commit_errors_total",
		Help: "Store commits that failed.",
	})
)

func observeCommit(d time.Duration, batch int, err error) {
	metricCommit.Observe(d.Seconds())
	metricBatch.Observe(float64(batch))
	if err != nil {
		metricCommitErrors.Inc()
	}
}

func registerDBSize(db *store.DB) {
	if dbSizeCollector != nil {
		prometheus.DefaultRegisterer.Unregister(dbSizeCollector)
	}
	dbSizeCollector = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "deskmail_store_db_size_bytes",
		Help: "Size of the bbolt database file.",
	}, func() float64 { return float64(db.Size()) })
	prometheus.DefaultRegisterer.MustRegister(dbSizeCollector)
}

var dbSizeCollector prometheus.Collector
