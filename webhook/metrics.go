package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var metricPosts = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "deskmail_webhook_posts_total",
	Help: "Webhook POSTs by result (delivered: 2xx, refused: another status, error: no answer).",
}, []string{"result"})
