package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/storetest"
	"github.com/evbill/evbill/webhook"
)

// BenchmarkDeliver measures the whole path from the outbox to a recorded
// success: b.N events already in the outbox are fanned out by the
// dispatcher to one endpoint, posted signed by the worker (Run, with its
// defaults: 4 rounds of 256, 64 requests in flight) to a receiver on
// loopback that answers 204, and recorded, each round's attempts in one
// transaction. It reports deliveries/s; run it with a fixed count, e.g.
//
//	go test ./webhook -run '^$' -bench Deliver -benchtime 20000x
//
// with EVBILL_TEST_POSTGRES_URL set for the PostgreSQL run. The receiver
// does not verify (that is its CPU, not evbill's); the tests do. It also
// reports the process's CPU time per delivery, which unlike the rate does
// not depend on what else the machine is running.
func BenchmarkDeliver(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchDeliver(b, sqliteEngine(b)) })
	b.Run("postgres", func(b *testing.B) { benchDeliver(b, postgresEngine(b)) })
}

func benchDeliver(b *testing.B, e engine) {
	s := e.open(b)
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	src := storetest.NewEventSource(b, s)
	secret, _ := webhook.NewSecret()
	ep := evbill.WebhookEndpoint{TenantID: src.TenantID(), EventTypes: cdrEvents, URL: srv.URL + "/hooks", Secret: secret}
	if err := s.CreateWebhookEndpoint(context.Background(), &ep); err != nil {
		b.Fatal(err)
	}
	for left := b.N; left > 0; left -= 1000 {
		src.Emit(b, min(left, 1000), "cdr.created")
	}
	m, err := webhook.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &webhook.Worker{Store: s, Metrics: m}
	d := &webhook.Dispatcher{Store: s, Notify: w.Wake, Metrics: m}
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	done := make(chan struct{}, 2)
	go func() { w.Run(ctx, 5*time.Millisecond); done <- struct{}{} }()
	go func() { d.Run(ctx, 5*time.Millisecond); done <- struct{}{} }()
	deadline := time.Now().Add(10 * time.Minute)
	for testutil.ToFloat64(m.Succeeded()) < float64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%v of %d delivered after 10 minutes", testutil.ToFloat64(m.Succeeded()), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	cancel()
	<-done
	<-done
	if n := got.Load(); n < int64(b.N) {
		b.Fatalf("the receiver got %d requests for %d deliveries", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/delivery")
}

// cpuTime is the CPU time the process used so far, user and system: what
// a delivery costs whatever else the machine runs (the receiver's share
// included, PostgreSQL's server not).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
