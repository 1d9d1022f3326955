package storetest

import (
	"context"
	"testing"

	"github.com/evbill/evbill"
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
