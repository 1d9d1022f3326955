package storetest

import (
	"testing"

	"github.com/evbill/evbill"
)

// testStationCostDisplay: the flag that has evbill send a station the
// California Pricing messages survives every way a station is written and
// read, including the lookup across tenants the OCPP path uses, and is off
// for a station that did not ask for it.
func testStationCostDisplay(t *testing.T, s evbill.Store) {
	ctx := t.Context()
	tn := newTenant(t, s)
	site := newSite(t, s, tn.ID)

	plain := newStation(t, s, tn.ID, site.ID)
	got, err := s.Station(ctx, tn.ID, plain.ID)
	noErr(t, "Station", err)
	if got.CostDisplay {
		t.Errorf("a station created without CostDisplay has it")
	}

	st := evbill.Station{TenantID: tn.ID, SiteID: site.ID, ChargePointID: uniq("CP"), CostDisplay: true}
	noErr(t, "CreateStation", s.CreateStation(ctx, &st))
	got, err = s.Station(ctx, tn.ID, st.ID)
	noErr(t, "Station", err)
	equal(t, "Station with CostDisplay", got, st)
	got, err = s.StationByChargePointID(ctx, tn.ID, st.ChargePointID)
	noErr(t, "StationByChargePointID", err)
	equal(t, "StationByChargePointID with CostDisplay", got, st)
	across, err := s.StationsByChargePointID(ctx, st.ChargePointID)
	noErr(t, "StationsByChargePointID", err)
	equal(t, "StationsByChargePointID with CostDisplay", across, []evbill.Station{st})
	list, err := s.ListStations(ctx, tn.ID, evbill.Page{})
	noErr(t, "ListStations", err)
	equal(t, "ListStations", list, sortBy(func(x evbill.Station) string { return x.ID }, plain, st))

	// An update writes the flag both ways and returns what it stored.
	for _, on := range []bool{false, true} {
		upd := st
		upd.CostDisplay = on
		noErr(t, "UpdateStation", s.UpdateStation(ctx, &upd))
		if upd.CostDisplay != on {
			t.Errorf("UpdateStation returned CostDisplay %v, want %v", upd.CostDisplay, on)
		}
		got, err = s.Station(ctx, tn.ID, st.ID)
		noErr(t, "Station after update", err)
		equal(t, "Station after UpdateStation", got, upd)
	}
}
