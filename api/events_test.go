package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/api"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/pricing"
)

// newLiveEnv is the API with the charging service behind its session
// routes and the OCPP central system on the same server, as `evbill
// serve` mounts them.
func newLiveEnv(t *testing.T, st evbill.Store) (*env, *charging.Service) {
	t.Helper()
	stores, ok := st.(charging.Stores)
	if !ok {
		t.Fatal("the store keeps no sessions")
	}
	e := &env{t: t, store: st, resolver: pricing.NewResolver(st), registry: prometheus.NewRegistry()}
	svc := charging.NewService(charging.Config{Store: stores, Resolver: e.resolver})
	central := &ocpp.Server{Authenticate: svc.Authenticate, Handler: svc}
	h, err := api.New(api.Config{Store: st, Charging: svc, Chargers: central, Resolver: e.resolver, Registry: e.registry,
		LivePath: func(tenantID, sessionID string) string { return "/s/" + sessionID + ".test" }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ocpp/", central)
	mux.Handle("/", h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		e.srv.Close()
		_ = central.Shutdown(context.Background())
		svc.Close()
	})
	return e, svc
}

// ocppClient is a charger that sends CALLs one at a time over a real
// WebSocket and answers the central system's CALLs with Accepted.
type ocppClient struct {
	t    *testing.T
	c    *websocket.Conn
	next int
	res  chan []json.RawMessage
}

func dialCharger(t *testing.T, base, chargePointID, password string) *ocppClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(chargePointID+":"+password)))
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ocpp/"+chargePointID,
		&websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	oc := &ocppClient{t: t, c: c, res: make(chan []json.RawMessage, 8)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var f []json.RawMessage
			if json.Unmarshal(b, &f) != nil || len(f) < 3 {
				continue
			}
			if string(f[0]) == "2" {
				_ = c.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `[3,%s,{"status":"Accepted"}]`, f[1]))
				continue
			}
			oc.res <- f
		}
	}()
	t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return oc
}

func (oc *ocppClient) call(action, payload string) map[string]any {
	oc.t.Helper()
	oc.next++
	if err := oc.c.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `[2,"m%d",%q,%s]`, oc.next, action, payload)); err != nil {
		oc.t.Fatal(err)
	}
	select {
	case f := <-oc.res:
		if string(f[0]) != "3" {
			oc.t.Fatalf("%s: CALLERROR %s", action, f)
		}
		var out map[string]any
		_ = json.Unmarshal(f[2], &out)
		return out
	case <-time.After(60 * time.Second):
		oc.t.Fatalf("%s: no answer", action)
	}
	return nil
}

// sseEvent is one Server-Sent Event as a client parses it.
type sseEvent struct {
	name string
	data []byte
}

// stream is an open event stream that a goroutine parses.
type stream struct {
	t      *testing.T
	res    *http.Response
	events chan sseEvent
}

// openStream opens GET path with the key and parses its events.
func openStream(t *testing.T, c *client, path string) *stream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "text/event-stream")
	res, err := c.e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	s := &stream{t: t, res: res, events: make(chan sseEvent, 64)}
	go func() {
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if ev.name != "" || ev.data != nil {
					s.events <- ev
				}
				ev = sseEvent{}
				continue
			}
			if strings.HasPrefix(line, ":") {
				continue // a heartbeat
			}
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				ev.name = value
			case "data":
				if ev.data != nil {
					ev.data = append(ev.data, '\n')
				}
				ev.data = append(ev.data, value...)
			}
		}
	}()
	return s
}

// next returns the next event, decoding its data with exact numbers.
func (s *stream) next(want string) map[string]any {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatalf("the stream ended before a %q event", want)
		}
		if ev.name != want {
			s.t.Fatalf("event %q, want %q: %s", ev.name, want, ev.data)
		}
		d := json.NewDecoder(bytes.NewReader(ev.data))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			s.t.Fatalf("%s: %v", ev.data, err)
		}
		return m
	case <-time.After(20 * time.Second):
		s.t.Fatalf("no %q event within 20 s", want)
	}
	return nil
}

// TestSessionEvents follows a session over GET /sessions/{id}/events
// while a charger drives it over a real WebSocket: a snapshot as GET
// /sessions/{id} shows it, an update after each MeterValues, and an ended
// event whose total is the CDR's; then the stream closes. Unknown and
// other tenants' sessions are 404 before any stream, keys are required,
// and the route is in the OpenAPI document as an event stream.
func TestSessionEvents(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			e, _ := newLiveEnv(t, open(t))
			tn, other := e.newTenant(), e.newTenant()
			f := tn.admin.fixture(t)
			cp := tn.admin.do("GET", "/api/v1/stations/"+f.station, nil).must(t, 200)["charge_point_id"].(string)
			uid := tn.admin.do("GET", "/api/v1/tokens/"+f.token, nil).must(t, 200)["uid"].(string)
			tn.admin.do("PUT", "/api/v1/stations/"+f.station+"/password", map[string]any{"password": "correct horse battery"}).must(t, 204)
			ch := dialCharger(t, e.srv.URL, cp, "correct horse battery")

			start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC) // Friday 18:15 in Amsterdam
			got := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":%q,"meterStart":1000,"timestamp":%q}`, uid, start.Format(time.RFC3339)))
			tx := int(got["transactionId"].(float64))
			ids, _ := items(t, tn.readonly.do("GET", "/api/v1/sessions", nil).must(t, 200))
			if len(ids) != 1 {
				t.Fatalf("sessions %v", ids)
			}
			id := ids[0]
			if live := tn.readonly.do("GET", "/api/v1/sessions/"+id, nil).must(t, 200); live["live_path"] != "/s/"+id+".test" {
				t.Errorf("live_path %v", live["live_path"])
			}

			s := openStream(t, tn.readonly, "/api/v1/sessions/"+id+"/events")
			if ct := s.res.Header.Get("Content-Type"); s.res.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
				t.Fatalf("the stream: %d %s", s.res.StatusCode, ct)
			}
			snap := s.next("snapshot")
			if snap["id"] != id || snap["state"] != "active" || snap["energy_kwh"] != json.Number("0") || snap["live_path"] != "/s/"+id+".test" {
				t.Fatalf("snapshot %v", snap)
			}
			for i, r := range []struct{ wh, w, kWh, kW string }{{"5000", "11000", "4", "11"}, {"9250", "10400", "8.25", "10.4"}} {
				at := start.Add(time.Duration(i+1) * 20 * time.Minute)
				ch.call("MeterValues", fmt.Sprintf(`{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":%q,"sampledValue":[`+
					`{"value":%q,"measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":%q,"measurand":"Power.Active.Import","unit":"W"}]}]}`,
					tx, at.Format(time.RFC3339), r.wh, r.w))
				u := s.next("update")
				cost, _ := u["cost"].(map[string]any)
				if u["energy_kwh"] != json.Number(r.kWh) || u["power_kw"] != json.Number(r.kW) || u["as_of"] != at.Format(time.RFC3339) || cost == nil || cost["final"] != false || cost["rate_dimension"] == nil {
					t.Fatalf("update %d: %v", i, u)
				}
			}
			ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":9250,"timestamp":%q,"reason":"EVDisconnected","idTag":%q}`,
				tx, start.Add(time.Hour).Format(time.RFC3339), uid))
			end := s.next("ended")
			record, err := e.store.(evbill.SessionStore).CDRBySession(context.Background(), tn.id, id)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := end["cdr"].(map[string]any)
			cost, _ := end["cost"].(map[string]any)
			if end["state"] != "ended" || c == nil || c["id"] != record.ID || c["amount_minor"] != json.Number(fmt.Sprint(record.AmountMinor)) ||
				c["total_incl_vat"] != record.TotalInclVAT || record.AmountMinor <= 0 {
				t.Fatalf("ended %v, the CDR %+v", end, record)
			}
			// The end links to the CDR's receipt where this API has one.
			paths, _ := e.anon().do("GET", "/api/v1/openapi.json", nil).must(t, 200)["paths"].(map[string]any)
			if _, ok := paths["/api/v1/cdrs/{id}/receipt"]; ok && end["receipt_path"] != "/api/v1/cdrs/"+record.ID+"/receipt" {
				t.Errorf("receipt_path %v", end["receipt_path"])
			}
			if cost == nil || cost["final"] != true || cost["amount"] != fmt.Sprintf("%d.%02d", record.AmountMinor/100, record.AmountMinor%100) {
				t.Errorf("the final cost %v, the CDR charges %d", cost, record.AmountMinor)
			}
			select {
			case ev, open := <-s.events:
				if open {
					t.Errorf("an event after the end: %q %s", ev.name, ev.data)
				}
			case <-time.After(10 * time.Second):
				t.Error("the stream stays open after the end")
			}

			// An ended session's stream: its snapshot, then its end.
			again := openStream(t, tn.readonly, "/api/v1/sessions/"+id+"/events")
			again.next("snapshot")
			if c, _ := again.next("ended")["cdr"].(map[string]any); c["id"] != record.ID {
				t.Errorf("the ended session's stream names CDR %v", c["id"])
			}

			other.readonly.do("GET", "/api/v1/sessions/"+id+"/events", nil).problem(t, 404, "not-found")
			tn.readonly.do("GET", "/api/v1/sessions/ses_01NOPE/events", nil).problem(t, 404, "not-found")
			e.anon().do("GET", "/api/v1/sessions/"+id+"/events", nil).problem(t, 401, "unauthorized")

			doc := e.anon().do("GET", "/api/v1/openapi.json", nil).must(t, 200)
			op, _ := doc["paths"].(map[string]any)["/api/v1/sessions/{id}/events"].(map[string]any)["get"].(map[string]any)
			body, _ := json.Marshal(op)
			for _, want := range []string{`"text/event-stream"`, `"snapshot"`, `"update"`, `"ended"`, `"security"`, `"404"`} {
				if !bytes.Contains(body, []byte(want)) {
					t.Errorf("the OpenAPI operation does not say %s: %s", want, body)
				}
			}
		})
	}
}
