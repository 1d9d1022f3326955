package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/api"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/postgres"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/sqlite"
)

// engines are the stores every API test runs against: SQLite always,
// PostgreSQL when EVBILL_TEST_POSTGRES_URL names a database.
func engines(t testing.TB) map[string]func(t testing.TB) evbill.Store {
	m := map[string]func(t testing.TB) evbill.Store{
		"sqlite": func(t testing.TB) evbill.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "evbill.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
	if dsn := os.Getenv("EVBILL_TEST_POSTGRES_URL"); dsn != "" {
		m["postgres"] = func(t testing.TB) evbill.Store {
			st, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
	}
	return m
}

// forEachEngine runs the test once per store engine.
func forEachEngine(t *testing.T, f func(t *testing.T, e *env)) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			f(t, newEnvWith(t, open(t)))
		})
	}
}

// env is a running API over a real store.
type env struct {
	t        testing.TB
	store    evbill.Store
	resolver *pricing.Resolver
	srv      *httptest.Server
	registry *prometheus.Registry
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, engines(t)["sqlite"](t))
}

func newEnvWith(t testing.TB, st evbill.Store) *env {
	t.Helper()
	e := &env{t: t, store: st, resolver: pricing.NewResolver(st), registry: prometheus.NewRegistry()}
	h, err := api.New(api.Config{Store: st, Resolver: e.resolver, Registry: e.registry})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// tenant is a tenant with one client per role.
type tenant struct {
	id                                 string
	admin, operator, finance, readonly *client
}

var tenantSeq int

// newTenant creates a tenant and its keys directly through the store, as
// `evbill apikey create` does.
func (e *env) newTenant() *tenant {
	e.t.Helper()
	tenantSeq++
	tn := evbill.Tenant{Name: fmt.Sprintf("tenant-%d-%s", tenantSeq, evbill.NewID("t"))}
	if err := e.store.CreateTenant(context.Background(), &tn); err != nil {
		e.t.Fatal(err)
	}
	tt := &tenant{id: tn.ID}
	for _, r := range []struct {
		role evbill.Role
		c    **client
	}{{evbill.RoleAdmin, &tt.admin}, {evbill.RoleOperator, &tt.operator}, {evbill.RoleFinance, &tt.finance}, {evbill.RoleReadonly, &tt.readonly}} {
		secret, prefix, hash := auth.NewAPIKey()
		k := evbill.APIKey{TenantID: tn.ID, Name: string(r.role), Role: r.role, Prefix: prefix}
		if err := e.store.CreateAPIKey(context.Background(), &k, hash); err != nil {
			e.t.Fatal(err)
		}
		*r.c = &client{e: e, key: secret}
	}
	return tt
}

// client makes requests with one API key.
type client struct {
	e   *env
	key string
}

// resp is a response, read whole.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request. body is sent as is when it is a string or []byte,
// and as JSON otherwise. hdr are header name/value pairs.
func (c *client) do(method, path string, body any, hdr ...string) *resp {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.e.srv.Client().Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// anon is a client without a key.
func (e *env) anon() *client { return &client{e: e} }

func (r *resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// decode reads the body as JSON into a map.
func (r *resp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %s is not a JSON object: %v", r, err)
	}
	return m
}

// must checks the status and returns the body as a map.
func (r *resp) must(t testing.TB, status int) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if len(r.body) == 0 {
		return nil
	}
	return r.obj(t)
}

// problem checks that the response is a problem with the status and type
// and, when locations are given, that its errors name each of them.
func (r *resp) problem(t testing.TB, status int, typ string, locations ...string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json: %s", ct, r.body)
	}
	m := r.obj(t)
	if m["type"] != api.ProblemBase+typ || m["status"] != float64(status) || m["title"] != http.StatusText(status) {
		t.Fatalf("problem %s: want type %s, status %d", r.body, api.ProblemBase+typ, status)
	}
	errs, _ := m["errors"].([]any)
	for _, loc := range locations {
		found := false
		for _, e := range errs {
			if em, _ := e.(map[string]any); em["location"] == loc && em["message"] != "" {
				found = true
			}
		}
		if !found {
			t.Fatalf("problem %s names no error at %s", r.body, loc)
		}
	}
	return m
}

// items returns the IDs of a list response's items and its next cursor.
func items(t testing.TB, m map[string]any) (ids []string, next string) {
	t.Helper()
	list, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("no items array in %v", m)
	}
	for _, it := range list {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	if n, ok := m["next_cursor"]; ok {
		next = n.(string)
		if next == "" {
			t.Fatalf("next_cursor present but empty: %v", m)
		}
	}
	return ids, next
}

// listAll follows next_cursor through every page with the limit and
// returns the IDs and the number of pages.
func (c *client) listAll(t testing.TB, path string, limit int) (ids []string, pages int) {
	t.Helper()
	cursor := ""
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for {
		m := c.do("GET", fmt.Sprintf("%s%slimit=%d&cursor=%s", path, sep, limit, cursor), nil).must(t, 200)
		page, next := items(t, m)
		if len(page) > limit {
			t.Fatalf("page of %d items for limit %d", len(page), limit)
		}
		ids = append(ids, page...)
		pages++
		if next == "" {
			return ids, pages
		}
		cursor = next
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture creates one of each record for a tenant and returns their IDs.
type fixture struct {
	site, station, connector, tariff, assignment, group, driver, token string
}

func (c *client) fixture(t testing.TB) fixture {
	t.Helper()
	var f fixture
	f.site = c.do("POST", "/api/v1/sites", map[string]any{"name": "Depot", "country": "NL", "time_zone": "Europe/Amsterdam"}).must(t, 201)["id"].(string)
	f.station = c.do("POST", "/api/v1/stations", map[string]any{"site_id": f.site, "charge_point_id": "CP-" + evbill.NewID("x")}).must(t, 201)["id"].(string)
	f.connector = c.do("POST", "/api/v1/stations/"+f.station+"/connectors", map[string]any{"connector_number": 1, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 22}).must(t, 201)["id"].(string)
	f.tariff = c.do("POST", "/api/v1/tariffs", readFile(t, "../examples/tariff.json")).must(t, 201)["id"].(string)
	f.assignment = c.do("POST", "/api/v1/tariff-assignments", map[string]any{"tariff_id": f.tariff, "site_id": f.site}).must(t, 201)["id"].(string)
	f.group = c.do("POST", "/api/v1/driver-groups", map[string]any{"name": "Fleet"}).must(t, 201)["id"].(string)
	f.driver = c.do("POST", "/api/v1/drivers", map[string]any{"name": "Ada", "email": "ada@example.com", "group_id": f.group}).must(t, 201)["id"].(string)
	f.token = c.do("POST", "/api/v1/tokens", map[string]any{"uid": "UID-" + evbill.NewID("x")[2:14], "type": "RFID", "driver_id": f.driver}).must(t, 201)["id"].(string)
	return f
}
