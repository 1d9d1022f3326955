package payment

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the worker does, for /metrics: a payment's moves by
// the state they reach (so the rate of captured is the rate at which
// sessions are paid).
type Metrics struct {
	moved *prometheus.CounterVec
}

// NewMetrics registers the worker's series with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{moved: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "evbill_payments_moved_total",
		Help: "Payment transitions the worker recorded, by the state reached (held, captured, released, failed, …).",
	}, []string{"to"})}
	if err := reg.Register(m.moved); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) movedTo(state string) {
	if m != nil {
		m.moved.WithLabelValues(state).Inc()
	}
}
