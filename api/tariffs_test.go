package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/tariff"
)

// tariffDoc is a small valid OCPI tariff, pretty-printed and with a field
// OCPI does not define, both of which must survive storage.
func tariffDoc(id, price string) string {
	return fmt.Sprintf(`{
  "country_code": "NL",
  "party_id": "EVB",
  "id": %q,
  "currency": "EUR",
  "x_partner_note": {"keep": ["me", 1.50]},
  "elements": [
    {"price_components": [{"type": "ENERGY", "price": %s, "vat": 21.0, "step_size": 1}]}
  ],
  "last_updated": "2025-01-01T00:00:00Z"
}
`, id, price)
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// rawField returns the raw JSON of a top-level field of a response.
func rawField(t *testing.T, r *resp, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	return string(m[name])
}

func TestTariffVersions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		tn := e.newTenant()
		c := tn.operator
		doc1, doc2 := tariffDoc("T-1", "0.30"), tariffDoc("T-1", "0.35")

		r1 := c.do("POST", "/api/v1/tariffs", doc1)
		m := r1.must(t, 201)
		id := m["id"].(string)
		if !strings.HasPrefix(id, "trf_") || m["version"] != float64(1) || m["currency"] != "EUR" {
			t.Fatalf("created %s", r1.body)
		}
		if got := rawField(t, r1, "tariff"); got != compact(t, doc1) {
			t.Fatalf("tariff echoed as\n%s\nwant\n%s", got, compact(t, doc1))
		}
		// Stored byte for byte, whitespace and unknown fields included.
		v1, err := e.store.TariffVersion(context.Background(), tn.id, id, 1)
		if err != nil || string(v1.Document) != doc1 {
			t.Fatalf("stored %q (%v), want the body as sent", v1.Document, err)
		}

		r2 := c.do("PUT", "/api/v1/tariffs/"+id, doc2)
		m2 := r2.must(t, 200)
		if m2["id"] != id || m2["version"] != float64(2) || rawField(t, r2, "tariff") != compact(t, doc2) {
			t.Fatalf("PUT answered %s", r2.body)
		}

		// Latest by default, any version on request, v1 unchanged.
		if g := c.do("GET", "/api/v1/tariffs/"+id, nil); g.must(t, 200)["version"] != float64(2) || rawField(t, g, "tariff") != compact(t, doc2) {
			t.Fatalf("latest %s", g.body)
		}
		g1 := c.do("GET", "/api/v1/tariffs/"+id+"?version=1", nil)
		if g1.must(t, 200)["version"] != float64(1) || rawField(t, g1, "tariff") != rawField(t, r1, "tariff") {
			t.Fatalf("v1 %s", g1.body)
		}
		if rawField(t, g1, "created_at") != rawField(t, r1, "created_at") {
			t.Fatal("v1's created_at changed")
		}
		c.do("GET", "/api/v1/tariffs/"+id+"?version=3", nil).problem(t, 404, "not-found")
		c.do("GET", "/api/v1/tariffs/"+id+"?version=0", nil).problem(t, 422, "invalid", "query.version")
		vs := c.do("GET", "/api/v1/tariffs/"+id+"/versions", nil).must(t, 200)["items"].([]any)
		if len(vs) != 2 || vs[0].(map[string]any)["version"] != float64(1) || vs[1].(map[string]any)["version"] != float64(2) {
			t.Fatalf("versions %v", vs)
		}
		c.do("GET", "/api/v1/tariffs/trf_missing/versions", nil).problem(t, 404, "not-found")
		c.do("GET", "/api/v1/tariffs/trf_missing", nil).problem(t, 404, "not-found")
		c.do("PUT", "/api/v1/tariffs/trf_missing", doc2).problem(t, 404, "not-found")
		c.do("PUT", "/api/v1/tariffs/trf_missing", `{"nonsense": true}`).problem(t, 404, "not-found")

		// The list shows each tariff once, at its latest version.
		other := c.do("POST", "/api/v1/tariffs", tariffDoc("T-2", "0.25")).must(t, 201)["id"].(string)
		list := c.do("GET", "/api/v1/tariffs", nil).must(t, 200)["items"].([]any)
		byID := map[string]float64{}
		for _, it := range list {
			byID[it.(map[string]any)["id"].(string)] = it.(map[string]any)["version"].(float64)
		}
		if len(byID) != 2 || byID[id] != 2 || byID[other] != 1 {
			t.Fatalf("list %v", list)
		}
		checkPagination(t, c, "/api/v1/tariffs", func(i int) any { return tariffDoc(fmt.Sprint("P", i), "0.1") }, []string{id, other})

		// Resolution uses the latest version created at or before the
		// instant.
		f := c.fixture(t)
		c.do("DELETE", "/api/v1/tariff-assignments/"+f.assignment, nil).must(t, 204)
		c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": id, "station_id": f.station}).must(t, 201)
		created2, _ := time.Parse(time.RFC3339Nano, m2["created_at"].(string))
		created1, _ := time.Parse(time.RFC3339Nano, m["created_at"].(string))
		for _, tc := range []struct {
			at      time.Time
			version float64
		}{{created1, 1}, {created2.Add(-time.Microsecond), 1}, {created2, 2}, {time.Now().Add(time.Hour), 2}} {
			r := c.do("GET", "/api/v1/stations/"+f.station+"/tariff?at="+url.QueryEscape(tc.at.Format(time.RFC3339Nano)), nil)
			if got := r.must(t, 200); got["version"] != tc.version || got["tariff_id"] != id {
				t.Fatalf("at %s: %s, want version %v", tc.at.Format(time.RFC3339Nano), r.body, tc.version)
			}
		}
		c.do("GET", "/api/v1/stations/"+f.station+"/tariff?at="+url.QueryEscape(created1.Add(-time.Second).Format(time.RFC3339)), nil).problem(t, 404, "not-found")
		c.do("GET", "/api/v1/stations/"+f.station+"/tariff?at=yesterday", nil).problem(t, 422, "invalid", "query.at")
	})
}

func TestTariffValidation(t *testing.T) {
	e := newEnv(t)
	c := e.newTenant().operator
	bad := `{"country_code": "NLD", "party_id": "EVB", "id": "X", "currency": "EUR",
	  "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": -1}]}],
	  "last_updated": "2025-01-01T00:00:00Z"}`
	_, err := tariff.Parse([]byte(bad))
	var ve *tariff.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) < 2 {
		t.Fatalf("the fixture should break several rules: %v", err)
	}
	r := c.do("POST", "/api/v1/tariffs", bad)
	p := r.problem(t, 422, "invalid")
	errs := p["errors"].([]any)
	if len(errs) != len(ve.Problems) {
		t.Fatalf("%d errors, want %d: %s", len(errs), len(ve.Problems), r.body)
	}
	for i, pr := range ve.Problems {
		em := errs[i].(map[string]any)
		if em["location"] != "body."+pr.Path || em["message"] != pr.Rule {
			t.Errorf("error %d = %v, want location body.%s message %q", i, em, pr.Path, pr.Rule)
		}
	}
	id := c.do("POST", "/api/v1/tariffs", tariffDoc("OK", "0.3")).must(t, 201)["id"].(string)
	c.do("PUT", "/api/v1/tariffs/"+id, bad).problem(t, 422, "invalid", "body."+ve.Problems[0].Path)
	c.do("POST", "/api/v1/tariffs", `[1, 2]`).problem(t, 422, "invalid", "body")
	c.do("POST", "/api/v1/tariffs", `{"id": `).problem(t, 400, "malformed", "body")
	c.do("POST", "/api/v1/tariffs", "").problem(t, 400, "malformed")
	// Nothing invalid was stored.
	if ids, _ := items(t, c.do("GET", "/api/v1/tariffs", nil).must(t, 200)); len(ids) != 1 {
		t.Fatalf("%d tariffs stored, want 1", len(ids))
	}
	if v := c.do("GET", "/api/v1/tariffs/"+id, nil).must(t, 200)["version"]; v != float64(1) {
		t.Fatalf("version %v after a refused update", v)
	}
}

func TestAssignments(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		c := e.newTenant().operator
		f := c.fixture(t)
		from, to := "2030-01-01T00:00:00+01:00", "2031-01-01T00:00:00+01:00"
		m := c.do("POST", "/api/v1/tariff-assignments", map[string]any{
			"tariff_id": f.tariff, "connector_id": f.connector, "driver_group_id": f.group, "valid_from": from, "valid_to": to, "priority": 7,
		}).must(t, 201)
		id := m["id"].(string)
		if m["connector_id"] != f.connector || m["driver_group_id"] != f.group || m["valid_from"] != "2029-12-31T23:00:00Z" ||
			m["valid_to"] != "2030-12-31T23:00:00Z" || m["priority"] != float64(7) || m["site_id"] != nil || m["station_id"] != nil {
			t.Fatalf("created %v", m)
		}
		if g := c.do("GET", "/api/v1/tariff-assignments/"+id, nil).must(t, 200); fmt.Sprint(g) != fmt.Sprint(m) {
			t.Fatalf("GET %v\nPOST %v", g, m)
		}

		c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": f.tariff}).problem(t, 422, "invalid", "body")
		c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": f.tariff, "site_id": f.site, "station_id": f.station}).problem(t, 422, "invalid", "body")
		c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": f.tariff, "site_id": f.site, "valid_from": to, "valid_to": from}).problem(t, 422, "invalid", "body.valid_to")
		c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": f.tariff, "site_id": f.site, "valid_from": from, "valid_to": from}).problem(t, 422, "invalid", "body.valid_to")
		c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": "trf_missing", "site_id": "site_missing", "driver_group_id": "grp_missing"}).
			problem(t, 422, "invalid", "body.tariff_id", "body.site_id", "body.driver_group_id")
		c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": f.tariff, "station_id": "sta_missing"}).problem(t, 422, "invalid", "body.station_id")
		c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": f.tariff, "connector_id": "con_missing"}).problem(t, 422, "invalid", "body.connector_id")
		c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": f.tariff, "site_id": f.site, "valid_from": "soon"}).problem(t, 422, "invalid", "body.valid_from")

		checkPagination(t, c, "/api/v1/tariff-assignments", func(i int) any {
			return map[string]any{"tariff_id": f.tariff, "station_id": f.station, "priority": i}
		}, []string{f.assignment, id})

		c.do("DELETE", "/api/v1/tariff-assignments/"+id, nil).must(t, 204)
		c.do("GET", "/api/v1/tariff-assignments/"+id, nil).problem(t, 404, "not-found")
		c.do("DELETE", "/api/v1/tariff-assignments/"+id, nil).problem(t, 404, "not-found")
		c.do("GET", "/api/v1/tariff-assignments/tas_missing", nil).problem(t, 404, "not-found")
	})
}

// TestResolvedTariff walks the precedence rules through the API: the
// connector beats the station beats the site; a group's assignment beats
// everybody's of the same specificity; then priority; validity windows
// apply; a deleted assignment stops applying at once (cache invalidated).
func TestResolvedTariff(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		c := e.newTenant().operator
		post := func(path string, body any) string {
			t.Helper()
			return c.do("POST", path, body).must(t, 201)["id"].(string)
		}
		site := post("/api/v1/sites", map[string]any{"name": "S", "country": "BE", "time_zone": "Europe/Brussels"})
		x := post("/api/v1/stations", map[string]any{"site_id": site, "charge_point_id": "X"})
		y := post("/api/v1/stations", map[string]any{"site_id": site, "charge_point_id": "Y"})
		cx := post("/api/v1/stations/"+x+"/connectors", map[string]any{"connector_number": 1, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 22})
		cy := post("/api/v1/stations/"+y+"/connectors", map[string]any{"connector_number": 1, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 22})
		grp := post("/api/v1/driver-groups", map[string]any{"name": "G"})
		var tr [6]string
		for i := range tr {
			tr[i] = post("/api/v1/tariffs", tariffDoc(fmt.Sprint("T", i), "0.3"))
		}
		resolve := func(station, query string) string {
			t.Helper()
			r := c.do("GET", "/api/v1/stations/"+station+"/tariff"+query, nil)
			if r.status == 404 {
				return "none"
			}
			m := r.must(t, 200)
			if m["time_zone"] != "Europe/Brussels" || m["version"] != float64(1) || m["assignment_id"] == "" {
				t.Fatalf("resolved %s", r.body)
			}
			for i, id := range tr {
				if m["tariff_id"] == id {
					return fmt.Sprint("T", i)
				}
			}
			t.Fatalf("unknown tariff in %s", r.body)
			return ""
		}
		expect := func(station, query, want string) {
			t.Helper()
			if got := resolve(station, query); got != want {
				t.Fatalf("station %s%s: %s, want %s", station, query, got, want)
			}
		}

		expect(x, "", "none")
		post("/api/v1/tariff-assignments", map[string]any{"tariff_id": tr[0], "site_id": site})
		expect(x, "", "T0")
		a1 := post("/api/v1/tariff-assignments", map[string]any{"tariff_id": tr[1], "station_id": x})
		expect(x, "", "T1")
		expect(y, "", "T0")
		post("/api/v1/tariff-assignments", map[string]any{"tariff_id": tr[2], "connector_id": cx})
		expect(x, "?connector="+cx, "T2")
		expect(x, "", "T1")
		post("/api/v1/tariff-assignments", map[string]any{"tariff_id": tr[3], "site_id": site, "driver_group_id": grp})
		expect(x, "?group="+grp, "T1") // the station beats the site, even the site's group tariff
		expect(y, "?group="+grp, "T3") // a group's assignment beats everybody's
		expect(y, "", "T0")
		post("/api/v1/tariff-assignments", map[string]any{"tariff_id": tr[4], "station_id": x, "driver_group_id": grp})
		expect(x, "?group="+grp, "T4")
		expect(x, "?group="+grp+"&connector="+cx, "T2")
		// Priority beats recency.
		post("/api/v1/tariff-assignments", map[string]any{"tariff_id": tr[5], "station_id": y, "priority": 5})
		post("/api/v1/tariff-assignments", map[string]any{"tariff_id": tr[0], "station_id": y, "priority": 1})
		expect(y, "", "T5")
		// A validity window.
		soon := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		post("/api/v1/tariff-assignments", map[string]any{"tariff_id": tr[2], "station_id": y, "priority": 9,
			"valid_from": soon.Format(time.RFC3339), "valid_to": soon.Add(time.Hour).Format(time.RFC3339)})
		expect(y, "", "T5")
		expect(y, "?at="+url.QueryEscape(soon.Add(time.Minute).Format(time.RFC3339)), "T2")
		expect(y, "?at="+url.QueryEscape(soon.Add(time.Hour).Format(time.RFC3339)), "T5")
		// Deleting an assignment takes effect at once.
		c.do("DELETE", "/api/v1/tariff-assignments/"+a1, nil).must(t, 204)
		expect(x, "", "T0")

		c.do("GET", "/api/v1/stations/"+x+"/tariff?connector="+cy, nil).problem(t, 422, "invalid", "query.connector")
		c.do("GET", "/api/v1/stations/"+x+"/tariff?connector=con_missing", nil).problem(t, 422, "invalid", "query.connector")
		c.do("GET", "/api/v1/stations/"+x+"/tariff?group=grp_missing", nil).problem(t, 422, "invalid", "query.group")
		c.do("GET", "/api/v1/stations/sta_missing/tariff", nil).problem(t, 404, "not-found")
	})
}

// nextMonday10 returns the next Monday, at least a day away, at 10:00 in
// loc: a future instant (tariff versions apply only after they were
// stored) inside the example tariff's 07:00–19:00 day rate.
func nextMonday10(loc *time.Location) time.Time {
	d := time.Now().In(loc).AddDate(0, 0, 2)
	for d.Weekday() != time.Monday {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 10, 0, 0, 0, loc)
}

func dec(s string) decimal.Decimal { return decimal.MustParse(s) }

func TestQuotes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		tn := e.newTenant()
		c := tn.readonly // a quote stores nothing, so read-only keys may ask
		f := tn.operator.fixture(t)
		ams, _ := time.LoadLocation("Europe/Amsterdam")
		start := nextMonday10(ams)
		tf, err := tariff.Parse(readFile(t, "../examples/tariff.json"))
		if err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name                  string
			charging, parking     int
			exclTotal, inclTotal  string
			charge                string
			minor                 float64
			periods               []tariff.Period
			wantLines, firstLines int
		}{
			{
				// 0.35 start + 20 kWh × 0.45 + 1 h × 0.60 = 9.95; × 1.21 = 12.0395.
				name: "charging", charging: 60, exclTotal: "9.95", inclTotal: "12.0395", charge: "12.04", minor: 1204,
				periods: []tariff.Period{{Start: start, Energy: dec("20"), Time: dec("3600"), Has: tariff.HasEnergy | tariff.HasTime}},
			},
			{
				// Plus 30 min idle at 6.00/h = 3.00: 12.95; × 1.21 = 15.6695.
				name: "charging and parking", charging: 60, parking: 30, exclTotal: "12.95", inclTotal: "15.6695", charge: "15.67", minor: 1567,
				periods: []tariff.Period{
					{Start: start, Energy: dec("20"), Time: dec("3600"), Has: tariff.HasEnergy | tariff.HasTime},
					{Start: start.Add(time.Hour), ParkingTime: dec("1800"), Has: tariff.HasParkingTime},
				},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := c.do("POST", "/api/v1/quotes", map[string]any{"station_id": f.station, "start_time": start.Format(time.RFC3339),
					"energy_kwh": 20, "charging_minutes": tc.charging, "parking_minutes": tc.parking})
				q := r.must(t, 200)
				// What the engine gives for the same session, priced directly.
				s := tariff.Session{Start: start, End: start.Add(time.Duration(tc.charging+tc.parking) * time.Minute), Periods: tc.periods, Location: ams}
				want, err := tf.Price(&s)
				if err != nil {
					t.Fatal(err)
				}
				wExcl, wIncl, _ := want.Total.Round(4)
				total := rawField(t, r, "total")
				if total != fmt.Sprintf(`{"excl_vat":%s,"incl_vat":%s}`, wExcl.Pad(4), wIncl.Pad(4)) ||
					wExcl.Cmp(dec(tc.exclTotal)) != 0 || wIncl.Cmp(dec(tc.inclTotal)) != 0 {
					t.Fatalf("total %s; engine %s/%s; by hand %s/%s", total, wExcl, wIncl, tc.exclTotal, tc.inclTotal)
				}
				amt := q["amount_to_charge"].(map[string]any)
				if amt["amount"] != tc.charge || amt["minor_units"] != tc.minor || amt["currency"] != "EUR" || amt["includes_vat"] != true ||
					want.Charge.Minor != int64(tc.minor) {
					t.Fatalf("amount_to_charge %v, engine %v", amt, want.Charge)
				}
				if q["tariff_id"] != f.tariff || q["version"] != float64(1) || q["currency"] != "EUR" || q["assignment_id"] != f.assignment ||
					q["time_zone"] != "Europe/Amsterdam" || q["start_time"] != start.UTC().Format(time.RFC3339) {
					t.Fatalf("quote %s", r.body)
				}
				lines := q["lines"].([]any)
				if len(lines) != len(want.Lines) {
					t.Fatalf("%d lines, engine %d: %s", len(lines), len(want.Lines), r.body)
				}
				var sum decimal.Decimal
				for i, l := range want.Lines {
					got := lines[i].(map[string]any)
					excl, incl, _ := l.Cost.Round(4)
					vat, _ := l.VAT()
					if got["dimension"] != l.Dimension.String() || got["element"] != float64(l.Element()) || got["period"] != float64(l.Period) ||
						fmt.Sprint(got["quantity"]) != fmt.Sprint(l.Quantity.Trim(0)) || dec(fmt.Sprint(got["unit_price"])).Cmp(l.UnitPrice()) != 0 ||
						dec(fmt.Sprint(got["vat"])).Cmp(vat) != 0 || dec(fmt.Sprint(got["excl_vat"])).Cmp(excl) != 0 || dec(fmt.Sprint(got["incl_vat"])).Cmp(incl) != 0 {
						t.Errorf("line %d = %v, engine %+v", i, got, l)
					}
					sum, _ = sum.Add(excl)
				}
				if sum.Cmp(wExcl) != 0 {
					t.Errorf("lines add up to %s, total %s", sum, wExcl)
				}
				if ex := q["explanation"].(string); !strings.Contains(ex, "Amount to charge: EUR "+tc.charge) {
					t.Errorf("explanation:\n%s", ex)
				}
			})
		}

		// Fractional energy stays exact: 12.345 kWh over 30 minutes.
		r := c.do("POST", "/api/v1/quotes", fmt.Sprintf(`{"station_id": %q, "start_time": %q, "energy_kwh": 12.345, "charging_minutes": 30}`, f.station, start.Format(time.RFC3339)))
		if r.must(t, 200); !strings.Contains(string(r.body), `"quantity":12.345`) {
			t.Fatalf("energy not exact: %s", r.body)
		}

		// A token prices under its driver's group; a blocked one is refused.
		grpTariff := tn.operator.do("POST", "/api/v1/tariffs", tariffDoc("GROUP", "0.10")).must(t, 201)["id"].(string)
		tn.operator.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": grpTariff, "site_id": f.site, "driver_group_id": f.group}).must(t, 201)
		tok := tn.operator.do("GET", "/api/v1/tokens/"+f.token, nil).must(t, 200)
		body := map[string]any{"station_id": f.station, "token_uid": tok["uid"], "start_time": start.Format(time.RFC3339), "energy_kwh": 10, "charging_minutes": 60}
		if q := c.do("POST", "/api/v1/quotes", body).must(t, 200); q["tariff_id"] != grpTariff || q["total"].(map[string]any)["excl_vat"] != 1.0 {
			t.Fatalf("token quote %v", q)
		}
		body2 := map[string]any{"station_id": f.station, "group_id": f.group, "start_time": start.Format(time.RFC3339), "energy_kwh": 10, "charging_minutes": 60}
		if q := c.do("POST", "/api/v1/quotes", body2).must(t, 200); q["tariff_id"] != grpTariff {
			t.Fatalf("group quote %v", q)
		}
		tn.operator.do("PATCH", "/api/v1/tokens/"+f.token, map[string]any{"status": "BLOCKED"}).must(t, 200)
		c.do("POST", "/api/v1/quotes", body).problem(t, 422, "invalid")

		// Errors.
		base := func(kv ...any) map[string]any {
			m := map[string]any{"station_id": f.station, "energy_kwh": 10, "charging_minutes": 60}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(m, kv[i].(string))
				} else {
					m[kv[i].(string)] = kv[i+1]
				}
			}
			return m
		}
		c.do("POST", "/api/v1/quotes", base("energy_kwh", -1)).problem(t, 422, "invalid", "body.energy_kwh")
		c.do("POST", "/api/v1/quotes", base("energy_kwh", "10")).problem(t, 422, "invalid", "body.energy_kwh")
		// Too many decimals to hold exactly: refused, not rounded to 0.
		c.do("POST", "/api/v1/quotes", fmt.Sprintf(`{"station_id": %q, "energy_kwh": 0.00000000000000000000001, "charging_minutes": 1}`, f.station)).
			problem(t, 422, "invalid", "body.energy_kwh")
		c.do("POST", "/api/v1/quotes", base("charging_minutes", nil)).problem(t, 422, "invalid", "body.charging_minutes")
		c.do("POST", "/api/v1/quotes", base("charging_minutes", 0.00001)).problem(t, 422, "invalid", "body.charging_minutes")
		c.do("POST", "/api/v1/quotes", base("charging_minutes", 0)).problem(t, 422, "invalid") // energy without time
		c.do("POST", "/api/v1/quotes", base("token_uid", "NOPE")).problem(t, 422, "invalid", "body.token_uid")
		c.do("POST", "/api/v1/quotes", base("group_id", "grp_missing")).problem(t, 422, "invalid", "body.group_id")
		c.do("POST", "/api/v1/quotes", base("connector_id", "con_missing")).problem(t, 422, "invalid", "body.connector_id")
		c.do("POST", "/api/v1/quotes", base("station_id", "sta_missing")).problem(t, 404, "not-found")
		c.do("POST", "/api/v1/quotes", base("start_time", "2020-01-01T00:00:00Z")).problem(t, 404, "not-found") // no version existed yet
		if q := c.do("POST", "/api/v1/quotes", base()).must(t, 200); !slices.Contains([]any{f.tariff}, q["tariff_id"]) {
			t.Fatalf("default start: %v", q)
		}
	})
}
