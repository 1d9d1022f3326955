package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/evbill/evbill/auth"
)

func TestSites(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		c := e.newTenant().operator
		m := c.do("POST", "/api/v1/sites", map[string]any{
			"name": "Harbour", "address": "Kade 1", "city": "Amsterdam", "postal_code": "1011 AA",
			"country": "NL", "time_zone": "Europe/Amsterdam", "site_host": "Harbour Parking BV",
		}).must(t, 201)
		id := m["id"].(string)
		if !strings.HasPrefix(id, "site_") || m["name"] != "Harbour" || m["postal_code"] != "1011 AA" || m["site_host"] != "Harbour Parking BV" {
			t.Fatalf("created %v", m)
		}
		if ca := m["created_at"].(string); !strings.HasSuffix(ca, "Z") {
			t.Fatalf("created_at %q is not UTC RFC 3339", ca)
		}
		got := c.do("GET", "/api/v1/sites/"+id, nil).must(t, 200)
		if fmt.Sprint(got) != fmt.Sprint(m) {
			t.Fatalf("GET %v\nPOST %v", got, m)
		}

		// PATCH changes what is present and keeps the rest.
		p := c.do("PATCH", "/api/v1/sites/"+id, map[string]any{"name": "Harbour West", "time_zone": "Europe/Brussels"}).must(t, 200)
		if p["name"] != "Harbour West" || p["time_zone"] != "Europe/Brussels" || p["city"] != "Amsterdam" {
			t.Fatalf("patched %v", p)
		}
		if g := c.do("GET", "/api/v1/sites/"+id, nil).must(t, 200); g["name"] != "Harbour West" {
			t.Fatalf("patch not stored: %v", g)
		}

		// Validation names the fields.
		c.do("POST", "/api/v1/sites", map[string]any{"name": "", "country": "nl", "time_zone": "Mars/Olympus"}).
			problem(t, 422, "invalid", "body.name", "body.country")
		c.do("POST", "/api/v1/sites", map[string]any{"name": "x", "country": "NL", "time_zone": "Mars/Olympus"}).
			problem(t, 422, "invalid", "body.time_zone")
		c.do("POST", "/api/v1/sites", map[string]any{"name": "x", "country": "NL", "time_zone": "Local"}).
			problem(t, 422, "invalid", "body.time_zone")
		c.do("POST", "/api/v1/sites", map[string]any{"country": "NL"}).problem(t, 422, "invalid", "body.name", "body.time_zone")
		c.do("POST", "/api/v1/sites", map[string]any{"name": 7, "country": "NL", "time_zone": "UTC"}).problem(t, 422, "invalid", "body.name")
		c.do("PATCH", "/api/v1/sites/"+id, map[string]any{"country": "Netherlands"}).problem(t, 422, "invalid", "body.country")
		c.do("PATCH", "/api/v1/sites/"+id, map[string]any{"country": "XX"}).problem(t, 422, "invalid", "body.country")
		c.do("POST", "/api/v1/sites", map[string]any{"name": "x", "country": "UK", "time_zone": "UTC"}).problem(t, 422, "invalid", "body.country")
		c.do("PATCH", "/api/v1/sites/"+id, map[string]any{"time_zone": "Nowhere"}).problem(t, 422, "invalid", "body.time_zone")

		// Not found.
		c.do("GET", "/api/v1/sites/site_nope", nil).problem(t, 404, "not-found")
		c.do("PATCH", "/api/v1/sites/site_nope", map[string]any{"name": "x"}).problem(t, 404, "not-found")

		checkPagination(t, c, "/api/v1/sites", func(i int) any {
			return map[string]any{"name": fmt.Sprint("s", i), "country": "DE", "time_zone": "Europe/Berlin"}
		}, []string{id})
	})
}

// checkPagination creates 7 more records and lists them with several page
// sizes: every record once, in ID order, in the expected number of pages.
func checkPagination(t *testing.T, c *client, path string, body func(i int) any, existing []string) {
	t.Helper()
	want := slices.Clone(existing)
	for i := range 7 {
		want = append(want, c.do("POST", path, body(i)).must(t, 201)["id"].(string))
	}
	slices.Sort(want)
	for _, limit := range []int{1, 2, 3, len(want), len(want) + 1, 500} {
		ids, pages := c.listAll(t, path, limit)
		if !slices.Equal(ids, want) {
			t.Fatalf("limit %d: listed %v, want %v", limit, ids, want)
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
	m := c.do("GET", path, nil).must(t, 200)
	if ids, next := items(t, m); len(ids) != len(want) || next != "" {
		t.Fatalf("default limit: %d items, next %q", len(ids), next)
	}
	c.do("GET", path+"?limit=0", nil).problem(t, 422, "invalid", "query.limit")
	c.do("GET", path+"?limit=501", nil).problem(t, 422, "invalid", "query.limit")
	c.do("GET", path+"?limit=ten", nil).problem(t, 422, "invalid", "query.limit")
	c.do("GET", path+"?limt=5", nil).problem(t, 422, "invalid", "query.limt")
}

// TestPaginationProperty lists random numbers of records with random page
// sizes: the pages together are every record exactly once, in order.
func TestPaginationProperty(t *testing.T) {
	e := newEnv(t)
	rapid.Check(t, func(rt *rapid.T) {
		c := e.newTenant().operator
		n := rapid.IntRange(0, 12).Draw(rt, "n")
		var want []string
		for i := range n {
			want = append(want, c.do("POST", "/api/v1/driver-groups", map[string]any{"name": fmt.Sprint("g", i)}).must(t, 201)["id"].(string))
		}
		slices.Sort(want)
		limit := rapid.IntRange(1, 6).Draw(rt, "limit")
		ids, pages := c.listAll(t, "/api/v1/driver-groups", limit)
		if !slices.Equal(ids, want) {
			rt.Fatalf("listed %v, want %v", ids, want)
		}
		if wantPages := max(1, (n+limit-1)/limit); pages != wantPages {
			rt.Fatalf("%d pages, want %d", pages, wantPages)
		}
	})
}

func TestStations(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		tn := e.newTenant()
		c := tn.operator
		site := c.do("POST", "/api/v1/sites", map[string]any{"name": "A", "country": "NL", "time_zone": "Europe/Amsterdam"}).must(t, 201)["id"].(string)
		site2 := c.do("POST", "/api/v1/sites", map[string]any{"name": "B", "country": "NL", "time_zone": "Europe/Amsterdam"}).must(t, 201)["id"].(string)
		m := c.do("POST", "/api/v1/stations", map[string]any{"site_id": site, "charge_point_id": "AMS-001", "vendor": "Alfen", "model": "Eve"}).must(t, 201)
		id := m["id"].(string)
		if m["charge_point_id"] != "AMS-001" || m["vendor"] != "Alfen" || m["has_password"] != false || m["site_id"] != site {
			t.Fatalf("created %v", m)
		}
		if g := c.do("GET", "/api/v1/stations/"+id, nil).must(t, 200); fmt.Sprint(g) != fmt.Sprint(m) {
			t.Fatalf("GET %v\nPOST %v", g, m)
		}

		// Identity rules and uniqueness.
		for _, bad := range []string{"", "a:b", "a/b", "has space", strings.Repeat("x", 49), "naïve"} {
			c.do("POST", "/api/v1/stations", map[string]any{"site_id": site, "charge_point_id": bad}).problem(t, 422, "invalid", "body.charge_point_id")
		}
		c.do("POST", "/api/v1/stations", map[string]any{"site_id": site, "charge_point_id": strings.Repeat("x", 48)}).must(t, 201)
		c.do("POST", "/api/v1/stations", map[string]any{"site_id": site2, "charge_point_id": "AMS-001"}).problem(t, 409, "conflict")
		c.do("POST", "/api/v1/stations", map[string]any{"site_id": "site_missing", "charge_point_id": "AMS-002"}).problem(t, 422, "invalid", "body.site_id")

		// PATCH, including moving to another site.
		p := c.do("PATCH", "/api/v1/stations/"+id, map[string]any{"site_id": site2, "model": "Eve Double"}).must(t, 200)
		if p["site_id"] != site2 || p["model"] != "Eve Double" || p["vendor"] != "Alfen" {
			t.Fatalf("patched %v", p)
		}
		c.do("PATCH", "/api/v1/stations/"+id, map[string]any{"site_id": "site_missing"}).problem(t, 422, "invalid", "body.site_id")
		c.do("PATCH", "/api/v1/stations/"+id, map[string]any{"charge_point_id": strings.Repeat("x", 48)}).problem(t, 409, "conflict")
		c.do("PATCH", "/api/v1/stations/sta_missing", map[string]any{"model": "x"}).problem(t, 404, "not-found")
		c.do("GET", "/api/v1/stations/sta_missing", nil).problem(t, 404, "not-found")

		// The OCPP password: length rules, never echoed, stored hashed.
		short := "short-secret"
		r := c.do("PUT", "/api/v1/stations/"+id+"/password", map[string]any{"password": short})
		r.problem(t, 422, "invalid", "body.password")
		if strings.Contains(string(r.body), short) {
			t.Fatalf("the problem echoes the password: %s", r.body)
		}
		c.do("PUT", "/api/v1/stations/"+id+"/password", map[string]any{"password": strings.Repeat("p", 41)}).problem(t, 422, "invalid", "body.password")
		c.do("PUT", "/api/v1/stations/sta_missing/password", map[string]any{"password": "0123456789abcdef"}).problem(t, 404, "not-found")
		pw := "correct-horse-battery-staple"
		if r := c.do("PUT", "/api/v1/stations/"+id+"/password", map[string]any{"password": pw}); r.status != 204 || len(r.body) != 0 {
			t.Fatalf("set password: %s", r)
		}
		g := c.do("GET", "/api/v1/stations/"+id, nil)
		if g.must(t, 200)["has_password"] != true || strings.Contains(string(g.body), "pbkdf2") || strings.Contains(string(g.body), pw) {
			t.Fatalf("station after password: %s", g.body)
		}
		h, err := e.store.StationPasswordHash(context.Background(), tn.id, id)
		if err != nil || !auth.VerifyPassword(h, pw) || auth.VerifyPassword(h, pw+"x") {
			t.Fatalf("stored hash %q (%v) does not verify the password", h, err)
		}

		checkPagination(t, c, "/api/v1/stations", func(i int) any {
			return map[string]any{"site_id": site, "charge_point_id": fmt.Sprint("P-", i)}
		}, []string{id, items2(t, c, "/api/v1/stations", id)})
	})
}

// items2 returns the one station other than id that the tenant has.
func items2(t *testing.T, c *client, path, id string) string {
	ids, _ := items(t, c.do("GET", path, nil).must(t, 200))
	for _, x := range ids {
		if x != id {
			return x
		}
	}
	t.Fatal("no second record")
	return ""
}

func TestConnectors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		tn := e.newTenant()
		c := tn.operator
		f := c.fixture(t)
		path := "/api/v1/stations/" + f.station + "/connectors"
		r := c.do("POST", path, `{"connector_number": 2, "standard": "IEC_62196_T2_COMBO", "power_type": "DC", "max_power_kw": 7.40}`)
		m := r.must(t, 201)
		id := m["id"].(string)
		// The decimal travels exactly: 7.40 in, 7.40 out, "7.40" stored.
		if !strings.Contains(string(r.body), `"max_power_kw":7.40`) || m["station_id"] != f.station || m["connector_number"] != float64(2) {
			t.Fatalf("created %s", r.body)
		}
		stored, err := e.store.Connector(context.Background(), tn.id, id)
		if err != nil || stored.MaxPowerKW != "7.40" {
			t.Fatalf("stored max power %q (%v), want 7.40", stored.MaxPowerKW, err)
		}
		// More digits than a float64 holds survive too.
		r = c.do("POST", path, `{"connector_number": 3, "standard": "CHADEMO", "power_type": "DC", "max_power_kw": 150.123456789012345}`)
		if r.must(t, 201); !strings.Contains(string(r.body), `"max_power_kw":150.123456789012345`) {
			t.Fatalf("precision lost: %s", r.body)
		}
		if g := c.do("GET", "/api/v1/connectors/"+id, nil); !strings.Contains(string(g.body), `"max_power_kw":7.40`) {
			t.Fatalf("GET %s", g)
		}

		c.do("POST", path, map[string]any{"connector_number": 2, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 22}).problem(t, 409, "conflict")
		c.do("POST", path, map[string]any{"connector_number": 0, "standard": "SCHUKO", "power_type": "AC", "max_power_kw": 0}).
			problem(t, 422, "invalid", "body.connector_number", "body.standard", "body.power_type", "body.max_power_kw")
		c.do("POST", path, map[string]any{"connector_number": 4, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": "22"}).
			problem(t, 422, "invalid", "body.max_power_kw")
		c.do("POST", path, `{"connector_number": 4, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 1e-30}`).
			problem(t, 422, "invalid", "body.max_power_kw")
		c.do("POST", "/api/v1/stations/sta_missing/connectors", map[string]any{"connector_number": 1, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 22}).
			problem(t, 404, "not-found")
		c.do("GET", "/api/v1/stations/sta_missing/connectors", nil).problem(t, 404, "not-found")

		p := c.do("PATCH", "/api/v1/connectors/"+id, `{"max_power_kw": 11.0, "power_type": "AC_3_PHASE", "standard": "IEC_62196_T2"}`)
		if pm := p.must(t, 200); !strings.Contains(string(p.body), `"max_power_kw":11.0`) || pm["connector_number"] != float64(2) || pm["power_type"] != "AC_3_PHASE" {
			t.Fatalf("patched %s", p.body)
		}
		c.do("PATCH", "/api/v1/connectors/"+id, map[string]any{"connector_number": 1}).problem(t, 409, "conflict")
		c.do("PATCH", "/api/v1/connectors/"+id, map[string]any{"max_power_kw": -1}).problem(t, 422, "invalid", "body.max_power_kw")
		c.do("PATCH", "/api/v1/connectors/con_missing", map[string]any{"max_power_kw": 1}).problem(t, 404, "not-found")
		c.do("GET", "/api/v1/connectors/con_missing", nil).problem(t, 404, "not-found")

		existing, _ := c.listAll(t, path, 50)
		checkPagination(t, c, path, func(i int) any {
			return map[string]any{"connector_number": 10 + i, "standard": "IEC_62196_T2", "power_type": "AC_1_PHASE", "max_power_kw": 3.7}
		}, existing)
	})
}

func TestDriversGroupsTokens(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		c := e.newTenant().operator
		// Groups.
		g := c.do("POST", "/api/v1/driver-groups", map[string]any{"name": "Staff"}).must(t, 201)
		gid := g["id"].(string)
		g2 := c.do("POST", "/api/v1/driver-groups", map[string]any{"name": "Fleet"}).must(t, 201)["id"].(string)
		if c.do("GET", "/api/v1/driver-groups/"+gid, nil).must(t, 200)["name"] != "Staff" {
			t.Fatal("group not stored")
		}
		if c.do("PATCH", "/api/v1/driver-groups/"+gid, map[string]any{"name": "Employees"}).must(t, 200)["name"] != "Employees" {
			t.Fatal("group not renamed")
		}
		c.do("POST", "/api/v1/driver-groups", map[string]any{"name": ""}).problem(t, 422, "invalid", "body.name")
		c.do("GET", "/api/v1/driver-groups/grp_missing", nil).problem(t, 404, "not-found")
		c.do("PATCH", "/api/v1/driver-groups/grp_missing", map[string]any{"name": "x"}).problem(t, 404, "not-found")

		// Drivers.
		d := c.do("POST", "/api/v1/drivers", map[string]any{"name": "Ada", "email": "ada@example.com", "group_id": gid}).must(t, 201)
		did := d["id"].(string)
		if d["email"] != "ada@example.com" || d["group_id"] != gid {
			t.Fatalf("driver %v", d)
		}
		for _, bad := range []string{"ada", "Ada <ada@example.com>", "ada@", "@example.com", "a b@example.com"} {
			c.do("POST", "/api/v1/drivers", map[string]any{"name": "x", "email": bad}).problem(t, 422, "invalid", "body.email")
		}
		c.do("POST", "/api/v1/drivers", map[string]any{"name": "x", "group_id": "grp_missing"}).problem(t, 422, "invalid", "body.group_id")
		p := c.do("PATCH", "/api/v1/drivers/"+did, map[string]any{"group_id": g2}).must(t, 200)
		if p["group_id"] != g2 || p["email"] != "ada@example.com" || p["name"] != "Ada" {
			t.Fatalf("patched %v", p)
		}
		if p := c.do("PATCH", "/api/v1/drivers/"+did, map[string]any{"group_id": "", "email": ""}).must(t, 200); p["group_id"] != nil || p["email"] != nil {
			t.Fatalf("cleared %v", p)
		}
		c.do("PATCH", "/api/v1/drivers/"+did, map[string]any{"email": "nope"}).problem(t, 422, "invalid", "body.email")
		c.do("PATCH", "/api/v1/drivers/drv_missing", map[string]any{"name": "x"}).problem(t, 404, "not-found")
		c.do("GET", "/api/v1/drivers/drv_missing", nil).problem(t, 404, "not-found")

		// Tokens.
		tk := c.do("POST", "/api/v1/tokens", map[string]any{"uid": "04A2B3C4D5E6", "type": "RFID", "driver_id": did, "expires_at": "2030-01-01T00:00:00+01:00"}).must(t, 201)
		tid := tk["id"].(string)
		if tk["status"] != "ACCEPTED" || tk["expires_at"] != "2029-12-31T23:00:00Z" || tk["driver_id"] != did {
			t.Fatalf("token %v", tk)
		}
		c.do("POST", "/api/v1/tokens", map[string]any{"uid": "04A2B3C4D5E6", "type": "APP_USER"}).problem(t, 409, "conflict")
		c.do("POST", "/api/v1/tokens", map[string]any{"uid": "", "type": "CARD", "status": "LOST"}).problem(t, 422, "invalid", "body.uid", "body.type", "body.status")
		c.do("POST", "/api/v1/tokens", map[string]any{"uid": "X1", "type": "RFID", "driver_id": "drv_missing", "group_id": "grp_missing"}).
			problem(t, 422, "invalid", "body.driver_id", "body.group_id")
		c.do("POST", "/api/v1/tokens", map[string]any{"uid": "X1", "type": "RFID", "expires_at": "tomorrow"}).problem(t, 422, "invalid", "body.expires_at")
		p = c.do("PATCH", "/api/v1/tokens/"+tid, map[string]any{"status": "BLOCKED", "group_id": gid}).must(t, 200)
		if p["status"] != "BLOCKED" || p["group_id"] != gid || p["expires_at"] != "2029-12-31T23:00:00Z" {
			t.Fatalf("patched %v", p)
		}
		if p := c.do("PATCH", "/api/v1/tokens/"+tid, `{"expires_at": null, "driver_id": ""}`).must(t, 200); p["expires_at"] != nil || p["driver_id"] != nil || p["group_id"] != gid {
			t.Fatalf("cleared %v", p)
		}
		if g := c.do("GET", "/api/v1/tokens/"+tid, nil).must(t, 200); g["expires_at"] != nil || g["status"] != "BLOCKED" {
			t.Fatalf("GET %v", g)
		}
		c.do("PATCH", "/api/v1/tokens/"+tid, map[string]any{"status": "LOST"}).problem(t, 422, "invalid", "body.status")
		c.do("PATCH", "/api/v1/tokens/tok_missing", map[string]any{"status": "BLOCKED"}).problem(t, 404, "not-found")
		c.do("GET", "/api/v1/tokens/tok_missing", nil).problem(t, 404, "not-found")

		checkPagination(t, c, "/api/v1/driver-groups", func(i int) any { return map[string]any{"name": fmt.Sprint("g", i)} }, []string{gid, g2})
		checkPagination(t, c, "/api/v1/drivers", func(i int) any { return map[string]any{"name": fmt.Sprint("d", i)} }, []string{did})
		checkPagination(t, c, "/api/v1/tokens", func(i int) any { return map[string]any{"uid": fmt.Sprint("U", i), "type": "OTHER"} }, []string{tid})
	})
}
