package payment_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/sandbox"
	"github.com/evbill/evbill/storetest"
)

// BenchmarkSettle measures the payment side of a session's end on each
// engine: from ended sessions with their CDRs and held sandbox payments to
// every payment captured with its ledger entry (settle, the capture call,
// the capture recorded and posted). Each iteration settles 1,000
// sessions; sessions/s is the figure of the target.
//
//	go test ./payment -run '^$' -bench Settle -benchtime 5x
func BenchmarkSettle(b *testing.B) {
	const sessions = 1000
	for _, e := range storetest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) {
			ctx := context.Background()
			s := e.Open(b).(storetest.PaymentFullStore)
			sbx, err := sandbox.New(sandbox.Config{})
			if err != nil {
				b.Fatal(err)
			}
			wk := &payment.Worker{Store: s, Gateways: map[string]evbill.Gateway{"sandbox": sbx}}
			tenant := evbill.Tenant{Name: "bench"}
			must(b, s.CreateTenant(ctx, &tenant))
			site := evbill.Site{TenantID: tenant.ID, Name: "S", Country: "NL", TimeZone: "Europe/Amsterdam"}
			must(b, s.CreateSite(ctx, &site))
			st := evbill.Station{TenantID: tenant.ID, SiteID: site.ID, ChargePointID: "CP-BENCH"}
			must(b, s.CreateStation(ctx, &st))
			t0 := time.Now().Add(-24 * time.Hour)
			var elapsed time.Duration
			for i := range b.N {
				b.StopTimer()
				starts := make([]evbill.SessionWrite, sessions)
				for j := range starts {
					starts[j].Start = &evbill.Session{TenantID: tenant.ID, StationID: st.ID, ConnectorNumber: 1, IDTag: "TAG",
						MeterStartWh: "0", StartedAt: t0.Add(time.Duration(i*sessions+j) * time.Millisecond)}
				}
				must(b, s.ApplySessionWrites(ctx, starts))
				ends := make([]evbill.SessionWrite, sessions)
				for j, w := range starts {
					must(b, w.Err)
					p := evbill.Payment{TenantID: tenant.ID, SessionID: w.Start.ID, SiteID: site.ID, Gateway: "sandbox",
						PaymentMethod: sandbox.CardSucceeds, Currency: "EUR", HoldAmount: 5000}
					must(b, s.CreatePayment(ctx, &p))
					ss := *w.Start
					stop := ss.StartedAt.Add(time.Hour)
					ss.MeterStopWh, ss.StoppedAt, ss.State = "10000", &stop, evbill.SessionEnded
					total := int64(300 + j%1000)
					ends[j].End = &evbill.EndWrite{Session: &ss, CDR: &evbill.CDR{Currency: "EUR",
						TotalExclVAT: decimal(total * 100 / 121), TotalInclVAT: decimal(total), AmountMinor: total,
						Document: []byte(`{}`), Breakdown: []byte(`[]`)}}
				}
				drain(b, wk) // the holds
				must(b, s.ApplySessionWrites(ctx, ends))
				for _, w := range ends {
					must(b, w.Err)
				}
				before := clearing(b, s, tenant.ID)
				b.StartTimer()
				start := time.Now()
				drain(b, wk)
				elapsed += time.Since(start)
				b.StopTimer()
				// Every CDR was captured, in full, and posted.
				want := int64(0)
				for _, w := range ends {
					want += w.End.CDR.AmountMinor
				}
				if got := clearing(b, s, tenant.ID) - before; got != want {
					b.Fatalf("captured %d into the clearing account, want the CDRs' %d", got, want)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*sessions)/elapsed.Seconds(), "sessions/s")
		})
	}
}

// decimal writes minor units of EUR as a decimal.
func decimal(minor int64) string { return fmt.Sprintf("%d.%02d", minor/100, minor%100) }

// drain runs worker rounds until one moves nothing.
func drain(b *testing.B, wk *payment.Worker) {
	for {
		n, err := wk.RunOnce(context.Background())
		must(b, err)
		if n == 0 {
			return
		}
	}
}

// clearing is the balance of the sandbox's clearing account.
func clearing(b *testing.B, s storetest.PaymentFullStore, tenantID string) int64 {
	a, err := s.LedgerAccount(context.Background(), tenantID, ledger.GatewayClearing("sandbox"), "EUR")
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		return 0
	}
	must(b, err)
	return a.Balance
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
