package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus series. Routes are ServeMux patterns
// ("/api/v1/sites/{id}"), so the number of series is bounded by the number
// of routes, whatever IDs and paths clients send.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRegistry is the registry used when the caller brings none: the API's
// series plus the Go runtime and process series any service exports.
// serve makes it to add the payment worker's series to the same /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func newMetrics(reg prometheus.Registerer, store any) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evbill_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "evbill_http_request_duration_seconds",
			Help: "Time to answer HTTP requests, by route pattern and method.",
			// From 0.5 ms: a cached GET on SQLite answers in well under a
			// millisecond, and the p99 objective is 10 ms.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	cs := []prometheus.Collector{m.requests, m.duration}
	if ps, ok := store.(poolStatser); ok {
		cs = append(cs, poolCollector{ps})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// poolStatser is implemented by stores with a connection pool. It is not
// part of evbill.Store because an embedded database need not have a pool;
// the API exports the numbers when they exist.
type poolStatser interface {
	PoolStats() (open, inUse, idle int)
}

var poolDesc = prometheus.NewDesc("evbill_db_connections", "Database connections in the pool, by state (open = in_use + idle).", []string{"state"}, nil)

// poolCollector reads the pool once per scrape, so the three numbers are
// of one instant.
type poolCollector struct{ ps poolStatser }

// Describe announces the one pool metric.
func (c poolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- poolDesc }

// Collect reads the pool and reports its three numbers.
func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	open, inUse, idle := c.ps.PoolStats()
	ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(open), "open")
	ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(inUse), "in_use")
	ch <- prometheus.MustNewConstMetric(poolDesc, prometheus.GaugeValue, float64(idle), "idle")
}
