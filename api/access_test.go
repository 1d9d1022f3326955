package api_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
)

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	e.newTenant()
	secret, _, _ := auth.NewAPIKey() // never stored
	for name, hdr := range map[string][]string{
		"no header":      nil,
		"empty bearer":   {"Authorization", "Bearer "},
		"basic":          {"Authorization", "Basic dXNlcjpwYXNz"},
		"unknown key":    {"Authorization", "Bearer " + secret},
		"no scheme":      {"Authorization", secret},
		"too long":       {"Authorization", "Bearer " + strings.Repeat("a", 300)},
		"bearer garbage": {"Authorization", "Bearer garbage"},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.anon().do("GET", "/api/v1/sites", nil, hdr...)
			r.problem(t, 401, "unauthorized")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	// The scheme is case-insensitive (RFC 9110).
	c := e.newTenant().readonly
	e.anon().do("GET", "/api/v1/sites", nil, "Authorization", "bearer "+c.key).must(t, 200)
	// A request without a key is refused before its body is looked at.
	e.anon().do("POST", "/api/v1/sites", `{"bad json`).problem(t, 401, "unauthorized")
}

// TestRoles checks every role against a read, writes, a quote and the API
// key routes: readonly and finance only read, operators do all but keys,
// admins everything.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant()
	f := tn.admin.fixture(t)
	type op struct {
		method, path string
		body         any
		action       auth.Action
	}
	ops := []op{
		{"GET", "/api/v1/sites", nil, auth.Read},
		{"GET", "/api/v1/stations/" + f.station + "/tariff", nil, auth.Read},
		{"POST", "/api/v1/quotes", map[string]any{"station_id": f.station, "energy_kwh": 1, "charging_minutes": 10}, auth.Read},
		{"POST", "/api/v1/sites", map[string]any{"name": "x", "country": "NL", "time_zone": "UTC"}, auth.Write},
		{"PATCH", "/api/v1/sites/" + f.site, map[string]any{"name": "y"}, auth.Write},
		{"POST", "/api/v1/driver-groups", map[string]any{"name": "g"}, auth.Write},
		{"PUT", "/api/v1/tariffs/" + f.tariff, readFile(t, "../examples/tariff.json"), auth.Write},
		{"PUT", "/api/v1/stations/" + f.station + "/password", map[string]any{"password": "0123456789abcdef"}, auth.Write},
		{"DELETE", "/api/v1/tariff-assignments/tas_missing", nil, auth.Write},
		{"POST", "/api/v1/api-keys", map[string]any{"name": "k", "role": "readonly"}, auth.ManageKeys},
		{"GET", "/api/v1/api-keys", nil, auth.ManageKeys},
		{"GET", "/api/v1/tenant", nil, auth.Read},
		{"PATCH", "/api/v1/tenant", map[string]any{"auto_register_site_id": ""}, auth.Configure},
		{"PATCH", "/api/v1/tenant", map[string]any{"payments": map[string]any{"card_hold": 0}}, auth.Configure},
	}
	for role, c := range map[evbill.Role]*client{evbill.RoleAdmin: tn.admin, evbill.RoleOperator: tn.operator, evbill.RoleFinance: tn.finance, evbill.RoleReadonly: tn.readonly} {
		for _, o := range ops {
			r := c.do(o.method, o.path, o.body)
			if auth.Allowed(role, o.action) {
				if r.status == 401 || r.status == 403 {
					t.Errorf("%s %s %s: %s, want allowed", role, o.method, o.path, r)
				}
			} else {
				r.problem(t, 403, "forbidden")
			}
		}
	}
	// Sanity: the table covers refusals and permissions of each role.
	if auth.Allowed(evbill.RoleOperator, auth.ManageKeys) || !auth.Allowed(evbill.RoleOperator, auth.Write) || auth.Allowed(evbill.RoleFinance, auth.Write) {
		t.Fatal("auth.Allowed changed; revisit this test")
	}
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant()
	m := tn.admin.do("POST", "/api/v1/api-keys", map[string]any{"name": "CI", "role": "operator"}).must(t, 201)
	secret, _ := m["secret"].(string)
	if !strings.HasPrefix(secret, auth.KeyPrefix) || m["prefix"] != secret[:auth.DisplayPrefixLen] || m["role"] != "operator" || m["name"] != "CI" {
		t.Fatalf("created %v", m)
	}
	// The new key works, in the admin's tenant, with its role.
	k := &client{e: e, key: secret}
	site := k.do("POST", "/api/v1/sites", map[string]any{"name": "by CI", "country": "NL", "time_zone": "UTC"}).must(t, 201)["id"].(string)
	tn.admin.do("GET", "/api/v1/sites/"+site, nil).must(t, 200)
	k.do("POST", "/api/v1/api-keys", map[string]any{"name": "x", "role": "admin"}).problem(t, 403, "forbidden")
	tn.admin.do("POST", "/api/v1/api-keys", map[string]any{"name": "x", "role": "root"}).problem(t, 422, "invalid", "body.role")
	tn.admin.do("POST", "/api/v1/api-keys", map[string]any{"role": "readonly"}).problem(t, 422, "invalid", "body.name")
	// A replayable key creation would keep the secret in the idempotency
	// store: refused.
	tn.admin.do("POST", "/api/v1/api-keys", map[string]any{"name": "x", "role": "readonly"}, "Idempotency-Key", "k").
		problem(t, 422, "invalid", "header.Idempotency-Key")

	r := tn.admin.do("GET", "/api/v1/api-keys", nil)
	ids, _ := items(t, r.must(t, 200))
	if !slices.Contains(ids, m["id"].(string)) || strings.Contains(string(r.body), secret) || strings.Contains(string(r.body), `"secret"`) {
		t.Fatalf("list %s", r.body)
	}
}

// TestTenantIsolation checks every route that takes an ID with another
// tenant's IDs: each answers 404 (or 422 for an ID in a body), changes
// nothing, and no list shows the other tenant's records.
func TestTenantIsolation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		a, b := e.newTenant(), e.newTenant()
		fa := a.admin.fixture(t)
		fb := b.admin.fixture(t)
		tok := a.admin.do("GET", "/api/v1/tokens/"+fa.token, nil).must(t, 200)
		c := b.admin
		tariffBody := readFile(t, "../examples/tariff.json")
		for _, o := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/sites/" + fa.site, nil},
			{"PATCH", "/api/v1/sites/" + fa.site, map[string]any{"name": "stolen"}},
			{"GET", "/api/v1/stations/" + fa.station, nil},
			{"PATCH", "/api/v1/stations/" + fa.station, map[string]any{"vendor": "stolen"}},
			{"PUT", "/api/v1/stations/" + fa.station + "/password", map[string]any{"password": "0123456789abcdef"}},
			{"GET", "/api/v1/stations/" + fa.station + "/connectors", nil},
			{"POST", "/api/v1/stations/" + fa.station + "/connectors", map[string]any{"connector_number": 9, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 22}},
			{"GET", "/api/v1/stations/" + fa.station + "/tariff", nil},
			{"GET", "/api/v1/connectors/" + fa.connector, nil},
			{"PATCH", "/api/v1/connectors/" + fa.connector, map[string]any{"max_power_kw": 1}},
			{"GET", "/api/v1/tariffs/" + fa.tariff, nil},
			{"GET", "/api/v1/tariffs/" + fa.tariff + "?version=1", nil},
			{"GET", "/api/v1/tariffs/" + fa.tariff + "/versions", nil},
			{"PUT", "/api/v1/tariffs/" + fa.tariff, tariffBody},
			{"GET", "/api/v1/tariff-assignments/" + fa.assignment, nil},
			{"DELETE", "/api/v1/tariff-assignments/" + fa.assignment, nil},
			{"GET", "/api/v1/driver-groups/" + fa.group, nil},
			{"PATCH", "/api/v1/driver-groups/" + fa.group, map[string]any{"name": "stolen"}},
			{"GET", "/api/v1/drivers/" + fa.driver, nil},
			{"PATCH", "/api/v1/drivers/" + fa.driver, map[string]any{"name": "stolen"}},
			{"GET", "/api/v1/tokens/" + fa.token, nil},
			{"PATCH", "/api/v1/tokens/" + fa.token, map[string]any{"status": "BLOCKED"}},
			{"POST", "/api/v1/quotes", map[string]any{"station_id": fa.station, "energy_kwh": 1, "charging_minutes": 10}},
		} {
			c.do(o.method, o.path, o.body).problem(t, 404, "not-found")
		}
		// IDs of the other tenant in a body are "no such record" too.
		for _, o := range []struct {
			path string
			body any
			loc  string
		}{
			{"/api/v1/stations", map[string]any{"site_id": fa.site, "charge_point_id": "B-1"}, "body.site_id"},
			{"/api/v1/tariff-assignments", map[string]any{"tariff_id": fa.tariff, "site_id": fb.site}, "body.tariff_id"},
			{"/api/v1/tariff-assignments", map[string]any{"tariff_id": fb.tariff, "site_id": fa.site}, "body.site_id"},
			{"/api/v1/tariff-assignments", map[string]any{"tariff_id": fb.tariff, "station_id": fa.station}, "body.station_id"},
			{"/api/v1/tariff-assignments", map[string]any{"tariff_id": fb.tariff, "connector_id": fa.connector}, "body.connector_id"},
			{"/api/v1/tariff-assignments", map[string]any{"tariff_id": fb.tariff, "site_id": fb.site, "driver_group_id": fa.group}, "body.driver_group_id"},
			{"/api/v1/drivers", map[string]any{"name": "x", "group_id": fa.group}, "body.group_id"},
			{"/api/v1/tokens", map[string]any{"uid": "B-T", "type": "RFID", "driver_id": fa.driver}, "body.driver_id"},
			{"/api/v1/tokens", map[string]any{"uid": "B-T", "type": "RFID", "group_id": fa.group}, "body.group_id"},
			{"/api/v1/quotes", map[string]any{"station_id": fb.station, "token_uid": tok["uid"], "energy_kwh": 1, "charging_minutes": 10}, "body.token_uid"},
			{"/api/v1/quotes", map[string]any{"station_id": fb.station, "connector_id": fa.connector, "energy_kwh": 1, "charging_minutes": 10}, "body.connector_id"},
			{"/api/v1/quotes", map[string]any{"station_id": fb.station, "group_id": fa.group, "energy_kwh": 1, "charging_minutes": 10}, "body.group_id"},
		} {
			c.do("POST", o.path, o.body).problem(t, 422, "invalid", o.loc)
		}
		c.do("PATCH", "/api/v1/stations/"+fb.station, map[string]any{"site_id": fa.site}).problem(t, 422, "invalid", "body.site_id")
		c.do("PATCH", "/api/v1/drivers/"+fb.driver, map[string]any{"group_id": fa.group}).problem(t, 422, "invalid", "body.group_id")
		c.do("PATCH", "/api/v1/tokens/"+fb.token, map[string]any{"driver_id": fa.driver}).problem(t, 422, "invalid", "body.driver_id")
		c.do("GET", "/api/v1/stations/"+fb.station+"/tariff?connector="+fa.connector, nil).problem(t, 422, "invalid", "query.connector")

		// Nothing of A's changed.
		if s := a.admin.do("GET", "/api/v1/sites/"+fa.site, nil).must(t, 200); s["name"] != "Depot" {
			t.Fatalf("A's site changed: %v", s)
		}
		a.admin.do("GET", "/api/v1/tariff-assignments/"+fa.assignment, nil).must(t, 200)
		if v := a.admin.do("GET", "/api/v1/tariffs/"+fa.tariff, nil).must(t, 200)["version"]; v != float64(1) {
			t.Fatalf("A's tariff has version %v", v)
		}
		if s := a.admin.do("GET", "/api/v1/stations/"+fa.station, nil).must(t, 200); s["has_password"] != false || s["vendor"] != "" {
			t.Fatalf("A's station changed: %v", s)
		}
		if tk := a.admin.do("GET", "/api/v1/tokens/"+fa.token, nil).must(t, 200); tk["status"] != "ACCEPTED" {
			t.Fatalf("A's token changed: %v", tk)
		}

		// Lists show only one's own records.
		own := map[string][]string{}
		for _, id := range []string{fa.site, fa.station, fa.connector, fa.tariff, fa.assignment, fa.group, fa.driver, fa.token} {
			own["a"] = append(own["a"], id)
		}
		for _, path := range []string{"/api/v1/sites", "/api/v1/stations", "/api/v1/stations/" + fb.station + "/connectors", "/api/v1/tariffs",
			"/api/v1/tariff-assignments", "/api/v1/driver-groups", "/api/v1/drivers", "/api/v1/tokens"} {
			ids, _ := c.listAll(t, path, 500)
			for _, id := range ids {
				if slices.Contains(own["a"], id) {
					t.Fatalf("B's %s lists A's %s", path, id)
				}
			}
			if len(ids) == 0 {
				t.Fatalf("B's %s is empty", path)
			}
		}
	})
}

// TestTenantIsolationProperty creates random records for two tenants and
// checks that each tenant sees exactly its own: 200 for its IDs, 404 for
// the other's, and lists holding exactly its records.
func TestTenantIsolationProperty(t *testing.T) {
	e := newEnv(t)
	kinds := []string{"site", "station", "connector", "tariff", "assignment", "group", "driver", "token"}
	rapid.Check(t, func(rt *rapid.T) {
		tenants := [2]*client{e.newTenant().operator, e.newTenant().operator}
		// recs[tenant][kind] are the IDs created, with the path to GET them.
		type rec struct{ id, path string }
		var recs [2]map[string][]rec
		for i := range recs {
			recs[i] = map[string][]rec{}
		}
		var need func(ti int, kind string) string
		create := func(ti int, kind string) string {
			c := tenants[ti]
			var path string
			var body any
			switch kind {
			case "site":
				path, body = "/api/v1/sites", map[string]any{"name": "s", "country": "NL", "time_zone": "Europe/Amsterdam"}
			case "station":
				path, body = "/api/v1/stations", map[string]any{"site_id": need(ti, "site"), "charge_point_id": evbill.NewID("cp")}
			case "connector":
				st := need(ti, "station")
				path, body = "/api/v1/stations/"+st+"/connectors", map[string]any{"connector_number": len(recs[ti]["connector"]) + 1, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 11}
			case "tariff":
				path, body = "/api/v1/tariffs", tariffDoc("R", "0.2")
			case "assignment":
				path, body = "/api/v1/tariff-assignments", map[string]any{"tariff_id": need(ti, "tariff"), "site_id": need(ti, "site")}
			case "group":
				path, body = "/api/v1/driver-groups", map[string]any{"name": "g"}
			case "driver":
				path, body = "/api/v1/drivers", map[string]any{"name": "d"}
			case "token":
				path, body = "/api/v1/tokens", map[string]any{"uid": evbill.NewID("u")[2:20], "type": "RFID"}
			}
			id := c.do("POST", path, body).must(t, 201)["id"].(string)
			get := map[string]string{"site": "/api/v1/sites/", "station": "/api/v1/stations/", "connector": "/api/v1/connectors/", "tariff": "/api/v1/tariffs/",
				"assignment": "/api/v1/tariff-assignments/", "group": "/api/v1/driver-groups/", "driver": "/api/v1/drivers/", "token": "/api/v1/tokens/"}[kind]
			recs[ti][kind] = append(recs[ti][kind], rec{id, get + id})
			return id
		}
		need = func(ti int, kind string) string {
			if rs := recs[ti][kind]; len(rs) > 0 {
				return rs[rapid.IntRange(0, len(rs)-1).Draw(rt, "pick")].id
			}
			return create(ti, kind)
		}
		n := rapid.IntRange(1, 8).Draw(rt, "n")
		for range n {
			create(rapid.IntRange(0, 1).Draw(rt, "tenant"), rapid.SampledFrom(kinds).Draw(rt, "kind"))
		}
		lists := map[string]string{"site": "/api/v1/sites", "station": "/api/v1/stations", "tariff": "/api/v1/tariffs",
			"assignment": "/api/v1/tariff-assignments", "group": "/api/v1/driver-groups", "driver": "/api/v1/drivers", "token": "/api/v1/tokens"}
		for ti := range 2 {
			own, other := tenants[ti], tenants[1-ti]
			for kind, rs := range recs[ti] {
				for _, r := range rs {
					own.do("GET", r.path, nil).must(t, 200)
					other.do("GET", r.path, nil).problem(t, 404, "not-found")
				}
				if kind == "station" {
					for _, r := range rs {
						other.do("GET", r.path+"/connectors", nil).problem(t, 404, "not-found")
					}
				}
			}
			for kind, path := range lists {
				ids, _ := own.listAll(t, path, 3)
				var want []string
				for _, r := range recs[ti][kind] {
					want = append(want, r.id)
				}
				slices.Sort(want)
				if !slices.Equal(ids, want) {
					rt.Fatalf("tenant %d %s: listed %v, want %v", ti, kind, ids, want)
				}
			}
		}
	})
}

// TestTenantSettings: the tenant shows its settings; an admin turns
// auto-registration on with one of the tenant's sites, never another's,
// and off again.
func TestTenantSettings(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		tn, other := e.newTenant(), e.newTenant()
		f, g := tn.admin.fixture(t), other.admin.fixture(t)
		got := tn.readonly.do("GET", "/api/v1/tenant", nil).must(t, 200)
		if got["auto_register_site_id"] != "" || got["id"] == "" {
			t.Fatalf("a new tenant: %v", got)
		}
		got = tn.admin.do("PATCH", "/api/v1/tenant", map[string]any{"auto_register_site_id": f.site}).must(t, 200)
		if got["auto_register_site_id"] != f.site {
			t.Fatalf("after turning auto-registration on: %v", got)
		}
		tn.admin.do("PATCH", "/api/v1/tenant", map[string]any{"auto_register_site_id": g.site}).problem(t, 422, "invalid", "body.auto_register_site_id")
		if got := tn.readonly.do("GET", "/api/v1/tenant", nil).must(t, 200); got["auto_register_site_id"] != f.site {
			t.Fatalf("a refused change altered the setting: %v", got)
		}
		if got := other.readonly.do("GET", "/api/v1/tenant", nil).must(t, 200); got["auto_register_site_id"] != "" {
			t.Fatalf("one tenant's setting showed in another: %v", got)
		}
		got = tn.admin.do("PATCH", "/api/v1/tenant", map[string]any{"auto_register_site_id": ""}).must(t, 200)
		if got["auto_register_site_id"] != "" {
			t.Fatalf("after turning auto-registration off: %v", got)
		}
	})
}

// TestTenantPayments: a new tenant shows the server's defaults (zeros); an
// admin changes one payment setting at a time, the others kept; amounts
// out of bounds are refused at their field, all at once, and a refused
// request changes nothing; only admins change them, and another tenant
// never sees them.
func TestTenantPayments(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		tn, other := e.newTenant(), e.newTenant()
		f, g := tn.admin.fixture(t), other.admin.fixture(t)
		payments := func(c *client) map[string]any {
			t.Helper()
			p, ok := c.do("GET", "/api/v1/tenant", nil).must(t, 200)["payments"].(map[string]any)
			if !ok {
				t.Fatal("the tenant shows no payments")
			}
			return p
		}
		want := func(what string, got map[string]any, hold, minimum, limit float64) {
			t.Helper()
			if got["card_hold"] != hold || got["wallet_minimum"] != minimum || got["account_limit"] != limit {
				t.Fatalf("%s: payments %v, want %v, %v, %v", what, got, hold, minimum, limit)
			}
		}
		want("a new tenant", payments(tn.readonly), 0, 0, 0)

		patch := func(p map[string]any) map[string]any {
			t.Helper()
			got, _ := tn.admin.do("PATCH", "/api/v1/tenant", map[string]any{"payments": p}).must(t, 200)["payments"].(map[string]any)
			return got
		}
		want("after setting the card hold", patch(map[string]any{"card_hold": 2500}), 2500, 0, 0)
		want("after setting the account limit", patch(map[string]any{"account_limit": 250_000}), 2500, 0, 250_000)
		want("after setting all three", patch(map[string]any{"card_hold": evbill.MaxCardHold, "wallet_minimum": evbill.MaxWalletMinimum,
			"account_limit": evbill.MaxAccountLimit}), evbill.MaxCardHold, evbill.MaxWalletMinimum, evbill.MaxAccountLimit)
		want("after an empty change", patch(map[string]any{}), evbill.MaxCardHold, evbill.MaxWalletMinimum, evbill.MaxAccountLimit)
		want("at the least card hold", patch(map[string]any{"card_hold": evbill.MinCardHold, "wallet_minimum": 700, "account_limit": 0}),
			evbill.MinCardHold, 700, 0)
		want("in the readonly key's view", payments(tn.readonly), evbill.MinCardHold, 700, 0)

		for _, bad := range []struct {
			body      any
			locations []string
		}{
			{map[string]any{"payments": map[string]any{"card_hold": 50}}, []string{"body.payments.card_hold"}},
			{map[string]any{"payments": map[string]any{"card_hold": -1}}, []string{"body.payments.card_hold"}},
			{map[string]any{"payments": map[string]any{"card_hold": evbill.MaxCardHold + 1}}, []string{"body.payments.card_hold"}},
			{map[string]any{"payments": map[string]any{"wallet_minimum": -5}}, []string{"body.payments.wallet_minimum"}},
			{map[string]any{"payments": map[string]any{"wallet_minimum": evbill.MaxWalletMinimum + 1}}, []string{"body.payments.wallet_minimum"}},
			{map[string]any{"payments": map[string]any{"account_limit": evbill.MaxAccountLimit + 1}}, []string{"body.payments.account_limit"}},
			{`{"payments": {"account_limit": 1e30}}`, []string{"body.payments.account_limit"}},
			{`{"payments": {"card_hold": 2500.5}}`, []string{"body.payments.card_hold"}},
			{`{"payments": {"card_hold": "2500"}}`, []string{"body.payments.card_hold"}},
			// Every field is checked before anything is written.
			{map[string]any{"auto_register_site_id": g.site, "payments": map[string]any{"card_hold": 99}},
				[]string{"body.auto_register_site_id", "body.payments.card_hold"}},
			{map[string]any{"auto_register_site_id": f.site, "payments": map[string]any{"card_hold": 1, "account_limit": 5000}},
				[]string{"body.payments.card_hold"}},
		} {
			tn.admin.do("PATCH", "/api/v1/tenant", bad.body).problem(t, 422, "invalid", bad.locations...)
		}
		got := tn.readonly.do("GET", "/api/v1/tenant", nil).must(t, 200)
		if got["auto_register_site_id"] != "" {
			t.Fatalf("a refused change turned auto-registration on: %v", got)
		}
		want("after refused changes", got["payments"].(map[string]any), evbill.MinCardHold, 700, 0)

		for _, c := range []*client{tn.operator, tn.finance, tn.readonly} {
			c.do("PATCH", "/api/v1/tenant", map[string]any{"payments": map[string]any{"card_hold": 9000}}).problem(t, 403, "forbidden")
		}
		want("after refused roles", payments(tn.readonly), evbill.MinCardHold, 700, 0)
		want("another tenant", payments(other.readonly), 0, 0, 0)

		// Both settings in one request; then back to the server's defaults.
		got = tn.admin.do("PATCH", "/api/v1/tenant", map[string]any{"auto_register_site_id": f.site,
			"payments": map[string]any{"card_hold": 0, "wallet_minimum": 0}}).must(t, 200)
		if got["auto_register_site_id"] != f.site {
			t.Fatalf("auto-registration with payments: %v", got)
		}
		want("back to the defaults", got["payments"].(map[string]any), 0, 0, 0)
		tn.admin.do("PATCH", "/api/v1/tenant", map[string]any{"auto_register_site_id": ""}).must(t, 200)
		want("after turning auto-registration off", payments(tn.readonly), 0, 0, 0)
	})
}

// TestTenantPaymentsSchema checks what the OpenAPI document says of the
// payment settings against the code it restates: the bounds of
// evbill.TenantPayments.Check and the charging service's defaults.
func TestTenantPaymentsSchema(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Comps struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Description string   `json:"description"`
					Minimum     *float64 `json:"minimum"`
					Maximum     *float64 `json:"maximum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(e.anon().do("GET", "/api/v1/openapi.json", nil).body, &doc); err != nil {
		t.Fatal(err)
	}
	shown, patched := doc.Comps.Schemas["TenantPayments"], doc.Comps.Schemas["TenantPaymentsPatch"]
	for field, v := range map[string][2]int64{
		"card_hold":      {charging.DefaultCardHold, evbill.MaxCardHold},
		"wallet_minimum": {charging.DefaultWalletMinimum, evbill.MaxWalletMinimum},
		"account_limit":  {charging.DefaultAccountLimit, evbill.MaxAccountLimit},
	} {
		if d := shown.Properties[field].Description; !strings.Contains(d, "default, "+strconv.FormatInt(v[0], 10)+" ") {
			t.Errorf("%s: the description does not give the default %d: %q", field, v[0], d)
		}
		p := patched.Properties[field]
		if p.Minimum == nil || *p.Minimum != 0 || p.Maximum == nil || *p.Maximum != float64(v[1]) {
			t.Errorf("%s: the patch's bounds are %v..%v, want 0..%d", field, p.Minimum, p.Maximum, v[1])
		}
		if !strings.Contains(p.Description, strconv.FormatInt(v[1], 10)) {
			t.Errorf("%s: the patch's description does not give the most, %d: %q", field, v[1], p.Description)
		}
	}
	if d := patched.Properties["card_hold"].Description; !strings.Contains(d, "from "+strconv.Itoa(evbill.MinCardHold)+" ") {
		t.Errorf("card_hold: the patch's description does not give the least, %d: %q", evbill.MinCardHold, d)
	}
}
