package storetest

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

// BenchmarkStationRead measures Store.Station, the lookup behind every
// OCPP message and API call about a station, in a tenant with 100
// stations.
func BenchmarkStationRead(b *testing.B, s evbill.Store) {
	ctx := context.Background()
	tn := newTenant(b, s)
	site := newSite(b, s, tn.ID)
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = newStation(b, s, tn.ID, site.ID).ID
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.Station(ctx, tn.ID, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAssignmentsForStation measures Store.AssignmentsForStation, the
// read that tariff selection makes for every priced session, for a
// station with 2 connectors whose site has 20 stations, 40 connectors and
// an assignment on the site, on each station and on each connector: 4 of
// the 61 assignments apply.
func BenchmarkAssignmentsForStation(b *testing.B, s evbill.Store) {
	ctx := context.Background()
	tn := newTenant(b, s)
	site := newSite(b, s, tn.ID)
	tariff := newTariff(b, s, tn.ID)
	newAssignment(b, s, evbill.TariffAssignment{TenantID: tn.ID, TariffID: tariff.TariffID, SiteID: site.ID})
	var stations []string
	for range 20 {
		st := newStation(b, s, tn.ID, site.ID)
		stations = append(stations, st.ID)
		newAssignment(b, s, evbill.TariffAssignment{TenantID: tn.ID, TariffID: tariff.TariffID, StationID: st.ID})
		for n := 1; n <= 2; n++ {
			c := newConnector(b, s, tn.ID, st.ID, n)
			newAssignment(b, s, evbill.TariffAssignment{TenantID: tn.ID, TariffID: tariff.TariffID, ConnectorID: c.ID})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		as, err := s.AssignmentsForStation(ctx, tn.ID, stations[i%len(stations)])
		if err != nil {
			b.Fatal(err)
		}
		if len(as) != 4 {
			b.Fatalf("%d assignments, want 4", len(as))
		}
		i++
	}
}

// BenchmarkApplySessionWrites measures the group commit of the OCPP path:
// batches of batch writes, each batch one ApplySessionWrites, over 256
// sessions charging at once. Of every 64 writes, one starts a session,
// one ends a session with a small CDR and one event, and the rest store
// one meter reading each, as MeterValues do. It reports writes/s: OCPP
// messages durably committed (as durably as the engine is configured to
// commit) per second.
func BenchmarkApplySessionWrites(b *testing.B, s FullStore, batch int) {
	ctx := context.Background()
	w := newSessionWorld(b, s)
	const open = 256
	n := 0 // sessions started so far, which makes each start's key unique
	active := make([]evbill.Session, 0, open)
	for range open {
		active = append(active, startNew(b, s, w.session(1+n%8, n)))
		n++
	}
	writes := make([]evbill.SessionWrite, batch)
	c, rr, sec := 0, 0, 0 // writes so far, round robin over sessions, reading clock
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var starts []*evbill.Session
		ended := 0 // active[:ended] end in this batch and get no more samples
		for i := range writes {
			c++
			switch {
			case c%64 == 31:
				st := w.session(1+n%8, n)
				n++
				starts = append(starts, &st)
				writes[i] = evbill.SessionWrite{Start: &st}
			case c%64 == 63 && ended < len(active)-1:
				writes[i] = evbill.SessionWrite{End: endWith(active[ended], t0.Add(48*time.Hour), "cdr.created")}
				ended++
			default:
				ss := active[ended+rr%(len(active)-ended)]
				rr++
				sec++
				writes[i] = evbill.SessionWrite{Samples: &evbill.SampleWrite{
					TenantID: w.tenant.ID, SessionID: ss.ID,
					Samples: []evbill.MeterSample{{
						Time: t0.Add(time.Duration(sec) * time.Second), EnergyWh: strconv.Itoa(sec), PowerW: "11000",
						CurrentA: "16", Context: "Sample.Periodic",
					}},
				}}
			}
		}
		if err := s.ApplySessionWrites(ctx, writes); err != nil {
			b.Fatal(err)
		}
		for i := range writes {
			if writes[i].Err != nil {
				b.Fatalf("write %d: %v", i, writes[i].Err)
			}
		}
		active = active[ended:]
		for _, st := range starts {
			active = append(active, *st)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkTrialBalance measures LedgerStore.TrialBalance over a tenant's
// ledger of postings postings made by bulk, which fill loads into the
// database behind the store (posting one entry at a time would take
// hours at ten million): top-ups of 10,000 driver wallets through one
// gateway, two postings each. It then checks that the ledger balances.
func BenchmarkTrialBalance(b *testing.B, s LedgerFullStore, postings int, fill func(tenantID string, entries int)) {
	ctx := context.Background()
	tn := newTenant(b, s)
	// The accounts, made through the store; fill adds entries to them.
	first, err := ledger.WalletToppedUp(tn.ID, "seed", "sandbox", "drv_0", "EUR", 1)
	noErr(b, "WalletToppedUp", err)
	noErr(b, "PostEntry", s.PostEntry(ctx, &first))
	start := time.Now()
	fill(tn.ID, postings/2)
	b.Logf("loaded %d postings in %v", postings, time.Since(start).Round(time.Second))
	b.ReportAllocs()
	b.ResetTimer()
	var lines []evbill.TrialBalanceLine
	for b.Loop() {
		if lines, err = s.TrialBalance(ctx, tn.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var debits, credits int64
	for _, l := range lines {
		debits += l.Debits
		credits += l.Credits
	}
	if debits != credits || debits != int64(postings/2)*100+1 {
		b.Fatalf("trial balance %+v: debits %d, credits %d", lines, debits, credits)
	}
}

// BenchPostings is the ledger size of BenchmarkTrialBalance: the
// EVBILL_BENCH_POSTINGS environment variable, 200,000 by default.
func BenchPostings(b *testing.B) int {
	if v := os.Getenv("EVBILL_BENCH_POSTINGS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			b.Fatalf("EVBILL_BENCH_POSTINGS=%q is not a number of postings", v)
		}
		return n
	}
	return 200_000
}
