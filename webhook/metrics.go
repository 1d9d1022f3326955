package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the delivery worker and the dispatcher do, for
// /metrics: attempts by the state they left the delivery in (so the rate
// of succeeded is the delivery rate, and dead is what needs a person),
// and deliveries made by the fan-out.
type Metrics struct {
	attempts *prometheus.CounterVec
	fanned   prometheus.Counter
}

// NewMetrics registers the webhook series with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evbill_webhook_attempts_total",
			Help: "Webhook delivery attempts recorded, by the state the delivery reached (succeeded, pending for a retry, dead).",
		}, []string{"state"}),
		fanned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "evbill_webhook_deliveries_created_total",
			Help: "Webhook deliveries made from outbox events (one per event and endpoint that wants it).",
		}),
	}
	for _, c := range []prometheus.Collector{m.attempts, m.fanned} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) attempted(state string) {
	if m != nil {
		m.attempts.WithLabelValues(state).Inc()
	}
}

func (m *Metrics) created(n int) {
	if m != nil && n > 0 {
		m.fanned.Add(float64(n))
	}
}

// Succeeded is the series of attempts that delivered, for benchmarks and
// tests that wait for a count of deliveries.
func (m *Metrics) Succeeded() prometheus.Counter {
	return m.attempts.WithLabelValues("succeeded")
}
