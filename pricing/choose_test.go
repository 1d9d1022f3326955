package pricing

import (
	"fmt"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/tariff"
)

func parsedTariff(t *testing.T, id, extra string) *tariff.Tariff {
	t.Helper()
	tf, err := tariff.Parse([]byte(`{"country_code":"NL","party_id":"EVB","id":"` + id + `","currency":"EUR",` + extra +
		`"elements":[{"price_components":[{"type":"ENERGY","price":0.30,"step_size":1}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

// TestChoosePrecedence: connector beats station beats site; a group
// assignment beats one for everybody; then priority; then recency; and
// validity windows and tariff versions in force are respected.
func TestChoosePrecedence(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := t0.Add(48 * time.Hour)
	e := &entry{
		station:  evbill.Station{ID: "sta_1"},
		site:     evbill.Site{ID: "site_1"},
		versions: map[string][]version{},
	}
	for _, id := range []string{"site", "station", "connector", "group", "prio", "recent", "future", "expired", "later-version"} {
		e.versions["trf_"+id] = []version{{stored: evbill.TariffVersion{TariffID: "trf_" + id, Version: 1, CreatedAt: t0}, parsed: parsedTariff(t, id, "")}}
	}
	// A tariff whose only version was created after the instant asked about.
	e.versions["trf_later-version"][0].stored.CreatedAt = at.Add(time.Hour)
	// A tariff whose OCPI validity ended.
	e.versions["trf_expired"][0].parsed = parsedTariff(t, "expired", `"end_date_time":"2025-01-02T00:00:00Z",`)
	future := at.Add(time.Hour)
	a := func(id, tariffID, site, station, connector, group string, prio int, created time.Time) evbill.TariffAssignment {
		return evbill.TariffAssignment{ID: id, TariffID: tariffID, SiteID: site, StationID: station, ConnectorID: connector,
			DriverGroupID: group, Priority: prio, CreatedAt: created}
	}
	all := []evbill.TariffAssignment{
		a("tas_1", "trf_site", "site_1", "", "", "", 0, t0),
		a("tas_2", "trf_station", "", "sta_1", "", "", 0, t0),
		a("tas_3", "trf_connector", "", "", "con_1", "", 0, t0),
		a("tas_4", "trf_group", "", "sta_1", "", "grp_1", 0, t0),
		a("tas_5", "trf_expired", "", "", "con_2", "", 9, t0),
		a("tas_6", "trf_later-version", "", "", "con_2", "", 8, t0),
	}
	fut := a("tas_7", "trf_future", "", "", "con_2", "", 7, t0)
	fut.ValidFrom = &future
	all = append(all, fut)
	tests := []struct {
		target Target
		want   string
	}{
		{Target{}, "trf_station"},
		{Target{ConnectorID: "con_1"}, "trf_connector"},
		{Target{ConnectorID: "con_1", GroupID: "grp_1"}, "trf_connector"},
		{Target{GroupID: "grp_1"}, "trf_group"},
		{Target{GroupID: "grp_2"}, "trf_station"},
		{Target{ConnectorID: "con_2"}, "trf_station"}, // expired, not yet versioned, not yet valid
	}
	e.assignments = all
	for _, tc := range tests {
		_, v, ok := choose(e, tc.target, at)
		if !ok || v.stored.TariffID != tc.want {
			t.Errorf("%+v: got %s (%v), want %s", tc.target, v.stored.TariffID, ok, tc.want)
		}
	}
	// Same target and group: higher priority, then the more recent.
	e.assignments = []evbill.TariffAssignment{
		a("tas_a", "trf_site", "", "sta_1", "", "", 1, t0),
		a("tas_b", "trf_prio", "", "sta_1", "", "", 5, t0),
		a("tas_c", "trf_recent", "", "sta_1", "", "", 5, t0.Add(time.Hour)),
	}
	if _, v, _ := choose(e, Target{}, at); v.stored.TariffID != "trf_recent" {
		t.Errorf("got %s, want the more recent of two equal priorities", v.stored.TariffID)
	}
	e.assignments = nil
	if _, _, ok := choose(e, Target{}, at); ok {
		t.Error("a station without assignments resolved a tariff")
	}
}

func TestInForcePicksTheVersionOfTheTime(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var vs []version
	for i := 1; i <= 3; i++ {
		vs = append(vs, version{stored: evbill.TariffVersion{Version: i, CreatedAt: t0.Add(time.Duration(i) * time.Hour)},
			parsed: parsedTariff(t, fmt.Sprint(i), "")})
	}
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{{90 * time.Minute, 1}, {2 * time.Hour, 2}, {5 * time.Hour, 3}} {
		v, ok := inForce(vs, t0.Add(tc.at))
		if !ok || v.stored.Version != tc.want {
			t.Errorf("at +%s: version %d, want %d", tc.at, v.stored.Version, tc.want)
		}
	}
	if _, ok := inForce(vs, t0); ok {
		t.Error("a version was in force before any was created")
	}
}

// TestInForceSkipsVersionsNotYetStarted: a new version dated to start next
// month leaves the current one in force until then; a version whose end
// has passed ends the tariff instead of reviving an older price.
func TestInForceSkipsVersionsNotYetStarted(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	v1 := version{stored: evbill.TariffVersion{Version: 1, CreatedAt: t0}, parsed: parsedTariff(t, "1", "")}
	v2 := version{stored: evbill.TariffVersion{Version: 2, CreatedAt: t0.Add(time.Hour)},
		parsed: parsedTariff(t, "2", `"start_date_time":"2025-02-01T00:00:00Z",`)}
	vs := []version{v1, v2}
	if v, ok := inForce(vs, t0.Add(48*time.Hour)); !ok || v.stored.Version != 1 {
		t.Errorf("before v2 starts: version %d (%v), want 1", v.stored.Version, ok)
	}
	if v, ok := inForce(vs, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)); !ok || v.stored.Version != 2 {
		t.Errorf("when v2 starts: version %d (%v), want 2", v.stored.Version, ok)
	}
	ended := version{stored: evbill.TariffVersion{Version: 2, CreatedAt: t0.Add(time.Hour)},
		parsed: parsedTariff(t, "2", `"end_date_time":"2025-01-10T00:00:00Z",`)}
	if v, ok := inForce([]version{v1, ended}, time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC)); ok {
		t.Errorf("an ended tariff revived version %d", v.stored.Version)
	}
}
