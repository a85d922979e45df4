package queue

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	metricDeliveries = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "deskmail_queue_deliveries_total",
		Help: "Delivery attempts by result (sent, captured, deferred, failed).",
	}, []string{"result"})
	metricDeliverySeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "deskmail_queue_delivery_duration_seconds",
		Help:    "Time one delivery attempt took at the transport.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16), // 1 ms .. 33 s
	})
)

func deliveryResult(res Result, err error) string {
	switch {
	case err == nil && res.Captured:
		return "captured"
	case err == nil:
		return "sent"
	case IsPermanent(err):
		return "failed"
	}
	return "deferred"
}
