package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/api"
)

func TestIdempotency(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		a, b := e.newTenant(), e.newTenant()
		c := a.operator
		body := map[string]any{"name": "Once", "country": "NL", "time_zone": "Europe/Amsterdam"}
		key := "Idempotency-Key"

		r1 := c.do("POST", "/api/v1/sites", body, key, "k-1")
		r1.must(t, 201)
		if r1.header.Get("Idempotent-Replayed") != "" {
			t.Fatal("first request marked as replayed")
		}
		r2 := c.do("POST", "/api/v1/sites", body, key, "k-1")
		if r2.status != 201 || !bytes.Equal(r1.body, r2.body) || r2.header.Get("Idempotent-Replayed") != "true" ||
			r2.header.Get("Content-Type") != "application/json" {
			t.Fatalf("replay %s %v, want the first answer %s", r2, r2.header, r1)
		}
		if ids, _ := c.listAll(t, "/api/v1/sites", 50); len(ids) != 1 {
			t.Fatalf("%d sites after a replayed POST, want 1", len(ids))
		}
		// Another key of the same tenant may replay it: keys belong to the
		// tenant, not to the API key.
		if r := a.admin.do("POST", "/api/v1/sites", body, key, "k-1"); !bytes.Equal(r.body, r1.body) {
			t.Fatalf("same tenant, other API key: %s", r)
		}

		// The same key with another request is a conflict.
		c.do("POST", "/api/v1/sites", map[string]any{"name": "Other", "country": "NL", "time_zone": "Europe/Amsterdam"}, key, "k-1").problem(t, 409, "conflict")
		c.do("POST", "/api/v1/driver-groups", body, key, "k-1").problem(t, 409, "conflict")
		// JSON that means the same but is written differently is another
		// request: the hash is of the bytes.
		c.do("POST", "/api/v1/sites", `{"name":"Once","country":"NL","time_zone":"Europe/Amsterdam"} `, key, "k-1").problem(t, 409, "conflict")

		// Keys are per tenant.
		rb := b.operator.do("POST", "/api/v1/sites", body, key, "k-1")
		if rb.must(t, 201); rb.header.Get("Idempotent-Replayed") != "" || bytes.Equal(rb.body, r1.body) {
			t.Fatalf("tenant B got tenant A's answer: %s", rb)
		}

		// A refused request is not stored: it can be corrected and retried
		// with the same key.
		c.do("POST", "/api/v1/sites", map[string]any{"name": "Bad", "country": "nl", "time_zone": "UTC"}, key, "k-2").problem(t, 422, "invalid", "body.country")
		c.do("POST", "/api/v1/sites", map[string]any{"name": "Good", "country": "NL", "time_zone": "UTC"}, key, "k-2").must(t, 201)
		// Nor is one refused by the role check.
		a.readonly.do("POST", "/api/v1/sites", body, key, "k-3").problem(t, 403, "forbidden")
		c.do("POST", "/api/v1/sites", body, key, "k-3").must(t, 201)

		c.do("POST", "/api/v1/sites", body, key, strings.Repeat("k", 256)).problem(t, 422, "invalid", "header.Idempotency-Key")
		c.do("POST", "/api/v1/sites", body, key, "bad\tkey").problem(t, 422, "invalid", "header.Idempotency-Key")

		// Tariffs are replayed byte for byte too.
		doc := tariffDoc("IDEM", "0.2")
		t1 := c.do("POST", "/api/v1/tariffs", doc, key, "k-tariff")
		t2 := c.do("POST", "/api/v1/tariffs", doc, key, "k-tariff")
		if t1.must(t, 201); !bytes.Equal(t1.body, t2.body) || t2.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("tariff replay %s vs %s", t2, t1)
		}
	})
}

// TestIdempotencyConcurrent sends one request with one key many times at
// once: exactly one record is created and every answer is the same.
func TestIdempotencyConcurrent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		c := e.newTenant().operator
		const n = 12
		var wg sync.WaitGroup
		res := make([]*resp, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res[i] = c.do("POST", "/api/v1/driver-groups", map[string]any{"name": "race"}, "Idempotency-Key", "race-1")
			}()
		}
		close(start)
		wg.Wait()
		fresh := 0
		for _, r := range res {
			if r.status != 201 || !bytes.Equal(r.body, res[0].body) {
				t.Fatalf("answers differ: %s vs %s", r, res[0])
			}
			if r.header.Get("Idempotent-Replayed") == "" {
				fresh++
			}
		}
		if fresh != 1 {
			t.Fatalf("%d requests ran, want 1", fresh)
		}
		if ids, _ := c.listAll(t, "/api/v1/driver-groups", 50); len(ids) != 1 {
			t.Fatalf("%d groups created, want 1", len(ids))
		}
	})
}

// TestIdempotencyAcrossInstances runs two API servers on one store, as two
// evbill instances on one PostgreSQL would: their in-process locks do not
// see each other, yet a key is run once, because it is reserved in the
// store before the request runs. A request that finds the key held by a
// request still running elsewhere is told to retry (409, Retry-After).
func TestIdempotencyAcrossInstances(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		e2 := newEnvWith(t, e.store)
		c1 := e.newTenant().operator
		c2 := &client{e: e2, key: c1.key}
		const n = 16
		res := make([]*resp, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := c1
				if i%2 == 1 {
					c = c2
				}
				<-start
				for try := 0; try < 50; try++ {
					r := c.do("POST", "/api/v1/driver-groups", map[string]any{"name": "twice?"}, "Idempotency-Key", "cross-1")
					if r.status == 409 && r.header.Get("Retry-After") != "" {
						time.Sleep(20 * time.Millisecond)
						continue
					}
					res[i] = r
					return
				}
			}()
		}
		close(start)
		wg.Wait()
		for i, r := range res {
			if r == nil || r.status != 201 || !bytes.Equal(r.body, res[0].body) {
				t.Fatalf("request %d: %v, want the one answer %s", i, r, res[0])
			}
		}
		if ids, _ := c1.listAll(t, "/api/v1/driver-groups", 50); len(ids) != 1 {
			t.Fatalf("%d groups created by one key on two instances, want 1", len(ids))
		}
	})
}

// TestIdempotencyKeyHeldElsewhere: a key reserved by a request that is
// still running on another instance is not run again.
func TestIdempotencyKeyHeldElsewhere(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant()
	held := evbill.IdempotentResponse{Key: "held", RequestHash: []byte("another instance's request")}
	if err := e.store.SaveIdempotentResponse(context.Background(), tn.id, &held); err != nil {
		t.Fatal(err)
	}
	r := tn.operator.do("POST", "/api/v1/driver-groups", map[string]any{"name": "x"}, "Idempotency-Key", "held")
	r.problem(t, 409, "conflict")
	if ids, _ := tn.operator.listAll(t, "/api/v1/driver-groups", 50); len(ids) != 0 {
		t.Fatalf("a held key ran its request: %d groups", len(ids))
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	c := e.newTenant().operator
	// A valid tariff padded with spaces to exactly 1 MiB is accepted and
	// stored as sent.
	doc := tariffDoc("BIG", "0.2")
	exact := doc + strings.Repeat(" ", api.MaxBodyBytes-len(doc))
	r := c.do("POST", "/api/v1/tariffs", exact)
	r.must(t, 201)
	big := exact + " "
	c.do("POST", "/api/v1/tariffs", big).problem(t, 413, "too-large")
	c.do("PUT", "/api/v1/tariffs/"+r.obj(t)["id"].(string), big).problem(t, 413, "too-large")
	c.do("PATCH", "/api/v1/sites/site_x", big).problem(t, 413, "too-large")

	// Without Content-Length (chunked), the limit holds while reading.
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/tariffs", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 || !strings.Contains(string(b), api.ProblemBase+"too-large") {
		t.Fatalf("chunked: %d %s", res.StatusCode, b)
	}
}

func TestUnknownFieldsAndTypes(t *testing.T) {
	e := newEnv(t)
	c := e.newTenant().operator
	f := c.fixture(t)
	for _, tc := range []struct {
		method, path, body, loc string
	}{
		{"POST", "/api/v1/sites", `{"name":"x","country":"NL","time_zone":"UTC","colour":"red"}`, "body.colour"},
		{"PATCH", "/api/v1/sites/" + f.site, `{"nmae":"x"}`, "body.nmae"},
		{"POST", "/api/v1/stations", `{"site_id":"` + f.site + `","charge_point_id":"U1","has_password":true}`, "body.has_password"},
		{"PATCH", "/api/v1/stations/" + f.station, `{"id":"sta_other"}`, "body.id"},
		{"POST", "/api/v1/stations/" + f.station + "/connectors", `{"connector_number":"1","standard":"IEC_62196_T2","power_type":"DC","max_power_kw":50}`, "body.connector_number"},
		{"POST", "/api/v1/stations/" + f.station + "/connectors", `{"connector_number":1.5,"standard":"IEC_62196_T2","power_type":"DC","max_power_kw":50}`, "body.connector_number"},
		{"POST", "/api/v1/tariff-assignments", `{"tariff_id":"` + f.tariff + `","site_id":"` + f.site + `","priority":"high"}`, "body.priority"},
		{"POST", "/api/v1/tariff-assignments", `{"tariff_id":"` + f.tariff + `","site_id":"` + f.site + `","tenant_id":"x"}`, "body.tenant_id"},
		{"POST", "/api/v1/driver-groups", `{"name":["x"]}`, "body.name"},
		{"POST", "/api/v1/drivers", `{"name":"x","phone":"123"}`, "body.phone"},
		{"POST", "/api/v1/tokens", `{"uid":"X","type":"RFID","expires_at":12}`, "body.expires_at"},
		{"PATCH", "/api/v1/tokens/" + f.token, `{"valid":true}`, "body.valid"},
		{"POST", "/api/v1/quotes", `{"station_id":"` + f.station + `","energy_kwh":1,"charging_minutes":1,"price":0}`, "body.price"},
		{"PUT", "/api/v1/stations/" + f.station + "/password", `{"password":"0123456789abcdef","hash":"x"}`, "body.hash"},
		{"POST", "/api/v1/api-keys", `{"name":"x","role":"readonly","tenant_id":"ten_x"}`, "body.tenant_id"},
	} {
		r := e.newTenant().admin
		if strings.Contains(tc.path, f.site) || strings.Contains(tc.path, f.station) || strings.Contains(tc.path, f.token) || strings.Contains(tc.body, f.site) {
			r = c
		}
		r.do(tc.method, tc.path, tc.body).problem(t, 422, "invalid", tc.loc)
	}
	// Malformed JSON is 400, naming the body.
	c.do("POST", "/api/v1/sites", `{"name": "x",}`).problem(t, 400, "malformed", "body")
	// A body that is not JSON at all is refused by media type.
	r := c.do("POST", "/api/v1/sites", "name=x", "Content-Type", "application/x-www-form-urlencoded")
	if r.status != 415 && r.status != 400 {
		t.Fatalf("form body: %s", r)
	}
	r.problem(t, r.status, map[int]string{415: "unsupported-media-type", 400: "malformed"}[r.status])
	// The unknown OCPI fields of a tariff are not unknown fields of the API.
	tr := c.do("POST", "/api/v1/tariffs", tariffDoc("X", "0.1")).must(t, 201)
	if !strings.Contains(fmt.Sprint(tr["tariff"]), "x_partner_note") {
		t.Fatalf("the unknown OCPI field was dropped: %v", tr)
	}
}

func TestRoutingProblems(t *testing.T) {
	e := newEnv(t)
	c := e.newTenant().admin
	c.do("GET", "/api/v1/nothing-here", nil).problem(t, 404, "not-found")
	c.do("GET", "/nothing", nil).problem(t, 404, "not-found")
	r := c.do("DELETE", "/api/v1/sites", nil)
	r.problem(t, 405, "method-not-allowed")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Fatalf("Allow %q", allow)
	}
}

func TestOpenAPI(t *testing.T) {
	e := newEnv(t)
	r := e.anon().do("GET", "/api/v1/openapi.json", nil)
	if r.status != 200 {
		t.Fatalf("openapi.json: %s", r)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
		Comps   struct {
			Schemas         map[string]any `json:"schemas"`
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Comps.SecuritySchemes["bearer"] == nil {
		t.Fatalf("openapi %q, security %v", doc.OpenAPI, doc.Comps.SecuritySchemes)
	}
	want := map[string][]string{
		"/api/v1/sites": {"get", "post"}, "/api/v1/sites/{id}": {"get", "patch"},
		"/api/v1/stations": {"get", "post"}, "/api/v1/stations/{id}": {"get", "patch"}, "/api/v1/stations/{id}/password": {"put"},
		"/api/v1/stations/{id}/connectors": {"get", "post"}, "/api/v1/connectors/{id}": {"get", "patch"},
		"/api/v1/stations/{id}/tariff": {"get"},
		"/api/v1/tariffs":              {"get", "post"}, "/api/v1/tariffs/{id}": {"get", "put"}, "/api/v1/tariffs/{id}/versions": {"get"},
		"/api/v1/tariff-assignments": {"get", "post"}, "/api/v1/tariff-assignments/{id}": {"get", "delete"},
		"/api/v1/driver-groups": {"get", "post"}, "/api/v1/driver-groups/{id}": {"get", "patch"},
		"/api/v1/drivers": {"get", "post"}, "/api/v1/drivers/{id}": {"get", "patch"},
		"/api/v1/tokens": {"get", "post"}, "/api/v1/tokens/{id}": {"get", "patch"},
		"/api/v1/quotes": {"post"}, "/api/v1/api-keys": {"get", "post"}, "/api/v1/tenant": {"get", "patch"},
		"/api/v1/ledger/accounts": {"get"}, "/api/v1/ledger/entries": {"get"}, "/api/v1/ledger/trial-balance": {"get"},
		"/api/v1/payments/{id}": {"get"}, "/api/v1/sessions/{id}/payment": {"get"},
		"/api/v1/drivers/{id}/payment-method": {"get", "put"},
		"/api/v1/cdrs/{id}/refunds":           {"post"}, "/api/v1/refunds/{id}": {"get"},
		"/api/v1/cdrs/{id}/receipt":   {"get"},
		"/api/v1/drivers/{id}/wallet": {"get"}, "/api/v1/drivers/{id}/wallet/top-ups": {"post"},
		"/api/v1/webhook-endpoints": {"get", "post"}, "/api/v1/webhook-endpoints/{id}": {"get", "patch", "delete"},
		"/api/v1/webhook-endpoints/{id}/rotate-secret": {"post"}, "/api/v1/webhook-endpoints/{id}/deliveries": {"get"},
		"/api/v1/webhook-deliveries/{id}": {"get"}, "/api/v1/webhook-deliveries/{id}/replay": {"post"},
		"/api/v1/reports/revenue": {"get"}, "/api/v1/reports/utilization": {"get"}, "/api/v1/reports/saturation": {"get"},
		"/api/v1/whatif": {"post"},
	}
	for path, methods := range want {
		for _, m := range methods {
			op, ok := doc.Paths[path][m]
			if !ok {
				t.Errorf("the document lacks %s %s", m, path)
				continue
			}
			if op["security"] == nil || op["operationId"] == nil {
				t.Errorf("%s %s has no security or operationId", m, path)
			}
		}
	}
	if len(doc.Paths) != len(want) {
		t.Errorf("%d paths documented, want %d", len(doc.Paths), len(want))
	}
	// Errors are documented as problems.
	if _, ok := doc.Comps.Schemas["Problem"]; !ok {
		t.Errorf("no Problem schema among %d schemas", len(doc.Comps.Schemas))
	}
	if !strings.Contains(string(r.body), "application/problem+json") {
		t.Error("no application/problem+json responses documented")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	c := e.newTenant().admin
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.anon().do("GET", p, nil); r.status != 200 || r.obj(t)["status"] != "ok" {
			t.Fatalf("%s: %s", p, r)
		}
	}
	site := c.do("POST", "/api/v1/sites", map[string]any{"name": "m", "country": "NL", "time_zone": "UTC"}).must(t, 201)["id"].(string)
	c.do("GET", "/api/v1/sites/"+site, nil).must(t, 200)
	c.do("GET", "/api/v1/sites/site_missing", nil).problem(t, 404, "not-found")
	e.anon().do("GET", "/api/v1/sites", nil).problem(t, 401, "unauthorized")
	c.do("GET", "/no/such/"+site, nil).problem(t, 404, "not-found")

	r := e.anon().do("GET", "/metrics", nil)
	if r.status != 200 {
		t.Fatalf("/metrics: %s", r)
	}
	m := string(r.body)
	for _, want := range []string{
		`evbill_http_requests_total{method="POST",route="/api/v1/sites",status="201"} 1`,
		`evbill_http_requests_total{method="GET",route="/api/v1/sites/{id}",status="200"} 1`,
		`evbill_http_requests_total{method="GET",route="/api/v1/sites/{id}",status="404"} 1`,
		`evbill_http_requests_total{method="GET",route="/api/v1/sites",status="401"} 1`,
		`evbill_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`evbill_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`evbill_http_request_duration_seconds_bucket{method="GET",route="/api/v1/sites/{id}",le="0.01"}`,
		`evbill_http_request_duration_seconds_count{method="GET",route="/api/v1/sites/{id}"} 2`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(m, site) {
		t.Error("a record ID is a metric label")
	}

	// A registry given twice is a configuration error, not a panic.
	if _, err := api.New(api.Config{Store: e.store, Registry: e.registry}); err == nil {
		t.Error("registering the metrics twice in one registry succeeded")
	}
	// Without a registry the API brings its own, with the Go runtime's
	// series.
	h, err := api.New(api.Config{Store: e.store})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Error("the default registry lacks the Go collector")
	}
	if _, err := api.New(api.Config{}); err == nil {
		t.Error("New without a store succeeded")
	}

	// Not ready once the database is gone; still alive.
	e.store.Close()
	e.anon().do("GET", "/readyz", nil).problem(t, 503, "unavailable")
	e.anon().do("GET", "/healthz", nil).must(t, 200)
}

// TestTextBothEnginesAccept: NUL and invalid UTF-8, which PostgreSQL's text
// cannot hold and SQLite would take, are refused at the door on both
// engines alike, never a 500.
func TestTextBothEnginesAccept(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		c := e.newTenant().operator
		c.do("POST", "/api/v1/sites", `{"name":"a\u0000b","country":"NL","time_zone":"UTC"}`).problem(t, 422, "invalid", "body")
		c.do("POST", "/api/v1/sites", "{\"name\":\"a\xffb\",\"country\":\"NL\",\"time_zone\":\"UTC\"}").problem(t, 422, "invalid", "body")
		c.do("POST", "/api/v1/sites", `{"name":"a\\u0000 is just text","country":"NL","time_zone":"UTC"}`).must(t, 201)
		c.do("GET", "/api/v1/sites/%FF", nil).problem(t, 404, "not-found")
		c.do("GET", "/api/v1/sites?cursor=%00", nil).problem(t, 422, "invalid", "query.cursor")
	})
}

// TestConcurrentPatchesKeepBothChanges: two PATCHes of different fields of
// one record, at once, both stick: blocking a lost card is never undone by
// a concurrent change of its group.
func TestConcurrentPatchesKeepBothChanges(t *testing.T) {
	e := newEnv(t)
	c := e.newTenant().operator
	group := c.do("POST", "/api/v1/driver-groups", map[string]any{"name": "fleet"}).must(t, 201)["id"]
	for i := 0; i < 40; i++ {
		tok := c.do("POST", "/api/v1/tokens", map[string]any{"uid": fmt.Sprintf("CARD%03d", i), "type": "RFID", "status": "ACCEPTED"}).must(t, 201)["id"].(string)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); c.do("PATCH", "/api/v1/tokens/"+tok, map[string]any{"status": "BLOCKED"}) }()
		go func() { defer wg.Done(); c.do("PATCH", "/api/v1/tokens/"+tok, map[string]any{"group_id": group}) }()
		wg.Wait()
		got := c.do("GET", "/api/v1/tokens/"+tok, nil).must(t, 200)
		if got["status"] != "BLOCKED" || got["group_id"] != group {
			t.Fatalf("token %d after two concurrent PATCHes: status %v, group %v", i, got["status"], got["group_id"])
		}
	}
}
