package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/storetest"
	"github.com/evbill/evbill/webhook"
)

// keysFor makes an operator and a readonly client for a tenant made
// elsewhere (by the outbox's event source).
func (e *env) keysFor(tenantID string) (operator, readonly *client) {
	e.t.Helper()
	for _, r := range []struct {
		role evbill.Role
		c    **client
	}{{evbill.RoleOperator, &operator}, {evbill.RoleReadonly, &readonly}} {
		secret, prefix, hash := auth.NewAPIKey()
		k := evbill.APIKey{TenantID: tenantID, Name: string(r.role), Role: r.role, Prefix: prefix}
		if err := e.store.CreateAPIKey(context.Background(), &k, hash); err != nil {
			e.t.Fatal(err)
		}
		*r.c = &client{e: e, key: secret}
	}
	return operator, readonly
}

func TestWebhookEndpointsAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		tn := e.newTenant()
		const path = "/api/v1/webhook-endpoints"
		created := tn.operator.do("POST", path, map[string]any{"url": "https://example.com/hooks", "description": "ERP",
			"event_types": []string{"cdr.created"}}).must(t, 201)
		id, _ := created["id"].(string)
		secret, _ := created["secret"].(string)
		if !strings.HasPrefix(id, "whe_") || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("created %v", created)
		}
		if _, err := webhook.ParseSecret(secret); err != nil {
			t.Fatalf("the secret given is not one receivers read: %v", err)
		}
		got := tn.readonly.do("GET", path+"/"+id, nil).must(t, 200)
		if _, ok := got["secret"]; ok || got["url"] != "https://example.com/hooks" || got["disabled"] != false {
			t.Fatalf("read %v", got)
		}
		if strings.Contains(string(tn.readonly.do("GET", path, nil).body), secret) {
			t.Fatal("the list shows the secret")
		}
		// An endpoint with a secret of one's own, and every event type.
		own, _ := webhook.NewSecret()
		all := tn.admin.do("POST", path, map[string]any{"url": "http://127.0.0.1:8080/x", "secret": own}).must(t, 201)
		if all["secret"] != own || len(all["event_types"].([]any)) != 0 {
			t.Fatalf("created %v", all)
		}
		ids, _ := tn.readonly.listAll(t, path, 1)
		if len(ids) != 2 {
			t.Fatalf("listed %v", ids)
		}

		// Refusals name their fields.
		tn.operator.do("POST", path, map[string]any{"url": "ftp://example.com"}).problem(t, 422, "invalid", "body.url")
		tn.operator.do("POST", path, map[string]any{"url": "https://u:p@example.com"}).problem(t, 422, "invalid", "body.url")
		tn.operator.do("POST", path, map[string]any{"url": "https://example.com", "event_types": []string{"ok.type", "bad type!", "ok.type"}}).
			problem(t, 422, "invalid", "body.event_types[1]", "body.event_types[2]")
		tn.operator.do("POST", path, map[string]any{"url": "https://example.com", "secret": "whsec_short"}).problem(t, 422, "invalid", "body.secret")
		tn.operator.do("POST", path, map[string]any{"url": "https://example.com"}, "Idempotency-Key", "k1").problem(t, 422, "invalid", "header.Idempotency-Key")
		tn.readonly.do("POST", path, map[string]any{"url": "https://example.com"}).problem(t, 403, "forbidden")
		tn.finance.do("POST", path, map[string]any{"url": "https://example.com"}).problem(t, 403, "forbidden")

		patched := tn.operator.do("PATCH", path+"/"+id, map[string]any{"disabled": true, "event_types": []string{}}).must(t, 200)
		if patched["disabled"] != true || len(patched["event_types"].([]any)) != 0 || patched["description"] != "ERP" {
			t.Fatalf("patched %v", patched)
		}
		tn.operator.do("PATCH", path+"/"+id, map[string]any{"url": "javascript:alert(1)"}).problem(t, 422, "invalid", "body.url")

		rotated := tn.operator.do("POST", path+"/"+id+"/rotate-secret", nil).must(t, 200)
		newSecret, _ := rotated["secret"].(string)
		exp, err := time.Parse(time.RFC3339, rotated["previous_secret_expires_at"].(string))
		if err != nil || newSecret == secret || !strings.HasPrefix(newSecret, "whsec_") {
			t.Fatalf("rotated %v", rotated)
		}
		if d := time.Until(exp); d < 23*time.Hour || d > 25*time.Hour {
			t.Fatalf("the old secret stays valid for %s, want 24 h", d)
		}
		ep, err := e.store.(evbill.WebhookStore).WebhookEndpoint(t.Context(), tn.id, id)
		if err != nil || ep.Secret != newSecret || ep.PreviousSecret != secret || len(ep.SigningSecrets(time.Now())) != 2 {
			t.Fatalf("stored after the rotation: %v, %v", ep, err)
		}
		tn.readonly.do("POST", path+"/"+id+"/rotate-secret", nil).problem(t, 403, "forbidden")

		other := e.newTenant()
		other.admin.do("GET", path+"/"+id, nil).problem(t, 404, "not-found")
		other.admin.do("PATCH", path+"/"+id, map[string]any{"disabled": false}).problem(t, 404, "not-found")
		other.admin.do("POST", path+"/"+id+"/rotate-secret", nil).problem(t, 404, "not-found")
		other.admin.do("GET", path+"/"+id+"/deliveries", nil).problem(t, 404, "not-found")
		other.admin.do("DELETE", path+"/"+id, nil).problem(t, 404, "not-found")

		tn.operator.do("DELETE", path+"/"+id, nil).must(t, 204)
		tn.operator.do("GET", path+"/"+id, nil).problem(t, 404, "not-found")
	})
}

func TestWebhookDeliveriesAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		store := e.store.(storetest.WebhookFullStore)
		src := storetest.NewEventSource(t, store)
		operator, readonly := e.keysFor(src.TenantID())
		var calls atomic.Int64
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				http.Error(w, "try later", http.StatusBadGateway)
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
		defer rcv.Close()
		// The CDR events only: the source's session adds its own two.
		ep := operator.do("POST", "/api/v1/webhook-endpoints", map[string]any{"url": rcv.URL, "event_types": []string{"cdr.created"}}).must(t, 201)
		epID := ep["id"].(string)
		src.Emit(t, 1, "cdr.created")

		now := time.Now()
		clock := func() time.Time { return now }
		// The outbox is the whole store's: read it to its end.
		made := 0
		for d := (&webhook.Dispatcher{Store: store, Now: clock}); ; {
			n, m, err := d.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if made += m; n == 0 {
				break
			}
		}
		if made < 1 { // other tests' endpoints may get their events too
			t.Fatalf("fan-out: %d deliveries, want this endpoint's", made)
		}
		w := &webhook.Worker{Store: store, Now: clock}
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		list := readonly.do("GET", "/api/v1/webhook-endpoints/"+epID+"/deliveries?state=pending", nil).must(t, 200)
		ds := list["items"].([]any)
		if len(ds) != 1 {
			t.Fatalf("pending deliveries %v", list)
		}
		d := ds[0].(map[string]any)
		if d["attempts"] != float64(1) || d["last_status"] != float64(502) || d["next_attempt_at"] == nil {
			t.Fatalf("after a failed attempt: %v", d)
		}
		id := d["id"].(string)
		operator.do("POST", "/api/v1/webhook-deliveries/"+id+"/replay", nil).problem(t, 409, "conflict")

		now = now.Add(time.Minute) // past the 5 s (±10 %) wait
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		got := readonly.do("GET", "/api/v1/webhook-deliveries/"+id, nil).must(t, 200)
		log := got["attempt_log"].([]any)
		if got["state"] != "succeeded" || len(log) != 2 || got["payload"].(map[string]any)["n"] != float64(0) {
			t.Fatalf("delivery %v", got)
		}
		first := log[0].(map[string]any)
		if first["status_code"] != float64(502) || first["error"] != "status 502" || !strings.HasPrefix(first["response"].(string), "try later") {
			t.Fatalf("first attempt %v", first)
		}
		if _, ok := got["next_attempt_at"]; ok {
			t.Fatalf("a succeeded delivery shows a next attempt: %v", got)
		}
		if n := len(readonly.do("GET", "/api/v1/webhook-endpoints/"+epID+"/deliveries?state=pending", nil).must(t, 200)["items"].([]any)); n != 0 {
			t.Fatalf("%d pending after success", n)
		}
		readonly.do("GET", "/api/v1/webhook-endpoints/"+epID+"/deliveries?state=lost", nil).problem(t, 422, "invalid", "query.state")

		readonly.do("POST", "/api/v1/webhook-deliveries/"+id+"/replay", nil).problem(t, 403, "forbidden")
		replayed := operator.do("POST", "/api/v1/webhook-deliveries/"+id+"/replay", nil).must(t, 202)
		if replayed["state"] != "pending" {
			t.Fatalf("replayed %v", replayed)
		}
		other := e.newTenant()
		other.admin.do("GET", "/api/v1/webhook-deliveries/"+id, nil).problem(t, 404, "not-found")
		other.admin.do("POST", "/api/v1/webhook-deliveries/"+id+"/replay", nil).problem(t, 404, "not-found")
		operator.do("GET", "/api/v1/webhook-deliveries/whd_missing", nil).problem(t, 404, "not-found")
		// Deleting the endpoint takes its deliveries: the replayed one is
		// left to no worker of a later run sharing the database.
		operator.do("DELETE", "/api/v1/webhook-endpoints/"+epID, nil).must(t, 204)
		operator.do("GET", "/api/v1/webhook-deliveries/"+id, nil).problem(t, 404, "not-found")
	})
}
