package api_test

import (
	"testing"
)

// TestStationCostDisplay: the charger display flag is off unless asked
// for, is set by POST and PATCH, is kept by a PATCH that leaves it out,
// and takes only a boolean.
func TestStationCostDisplay(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		c := e.newTenant().operator
		site := c.do("POST", "/api/v1/sites", map[string]any{"name": "A", "country": "NL", "time_zone": "Europe/Amsterdam"}).must(t, 201)["id"].(string)
		m := c.do("POST", "/api/v1/stations", map[string]any{"site_id": site, "charge_point_id": "AMS-001"}).must(t, 201)
		id := m["id"].(string)
		if m["cost_display"] != false {
			t.Fatalf("a new station's cost_display: %v", m)
		}
		if p := c.do("PATCH", "/api/v1/stations/"+id, map[string]any{"cost_display": true}).must(t, 200); p["cost_display"] != true {
			t.Fatalf("PATCH cost_display: %v", p)
		}
		if p := c.do("PATCH", "/api/v1/stations/"+id, map[string]any{"vendor": "Alfen"}).must(t, 200); p["cost_display"] != true {
			t.Fatalf("a PATCH without cost_display changed it: %v", p)
		}
		if g := c.do("GET", "/api/v1/stations/"+id, nil).must(t, 200); g["cost_display"] != true {
			t.Fatalf("GET after PATCH: %v", g)
		}
		if p := c.do("PATCH", "/api/v1/stations/"+id, map[string]any{"cost_display": false}).must(t, 200); p["cost_display"] != false {
			t.Fatalf("PATCH cost_display off: %v", p)
		}
		flagged := c.do("POST", "/api/v1/stations", map[string]any{"site_id": site, "charge_point_id": "AMS-002", "cost_display": true}).must(t, 201)
		if g := c.do("GET", "/api/v1/stations/"+flagged["id"].(string), nil).must(t, 200); g["cost_display"] != true {
			t.Fatalf("POST cost_display: %v", g)
		}
		ids, _ := items(t, c.do("GET", "/api/v1/stations", nil).must(t, 200))
		if len(ids) != 2 {
			t.Fatalf("listed %v", ids)
		}
		c.do("POST", "/api/v1/stations", map[string]any{"site_id": site, "charge_point_id": "AMS-003", "cost_display": "yes"}).problem(t, 422, "invalid", "body.cost_display")
		c.do("PATCH", "/api/v1/stations/"+id, map[string]any{"cost_display": 1}).problem(t, 422, "invalid", "body.cost_display")
	})
}
