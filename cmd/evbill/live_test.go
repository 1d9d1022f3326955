package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/sqlite"
)

// node is `evbill serve` running in the test's process (serve, as the
// command wires it) on a SQLite store of its own, with a tenant, an
// admin key, a site under the example tariff, stations LIVE-001… with
// one password, and an accepted token TAG1.
type node struct {
	t        testing.TB
	store    migrator
	tenant   evbill.Tenant
	key      string
	base     string
	stations []evbill.Station
	stop     context.CancelFunc
	done     chan error
}

const livePassword = "correct horse battery staple"

func startNode(t testing.TB, stations int) *node {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "evbill.db"))
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, store: st, tenant: evbill.Tenant{Name: "live"}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateTenant(ctx, &n.tenant))
	n.key, err = createKey(ctx, st, n.tenant.ID, "live", evbill.RoleAdmin)
	must(err)
	site := evbill.Site{TenantID: n.tenant.ID, Name: "Depot", Country: "NL", TimeZone: "Europe/Amsterdam"}
	must(st.CreateSite(ctx, &site))
	doc, err := os.ReadFile("../../examples/tariff.json")
	must(err)
	tv := evbill.TariffVersion{TenantID: n.tenant.ID, Currency: "EUR", Document: doc}
	must(st.CreateTariff(ctx, &tv))
	must(st.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: n.tenant.ID, TariffID: tv.TariffID, SiteID: site.ID}))
	must(st.CreateToken(ctx, &evbill.Token{TenantID: n.tenant.ID, UID: "TAG1", Type: "RFID", Status: evbill.TokenAccepted}))
	hash, err := auth.HashPassword(livePassword)
	must(err)
	for i := range stations {
		s := evbill.Station{TenantID: n.tenant.ID, SiteID: site.ID, ChargePointID: fmt.Sprintf("LIVE-%03d", i+1)}
		must(st.CreateStation(ctx, &s))
		must(st.SetStationPassword(ctx, n.tenant.ID, s.ID, hash))
		n.stations = append(n.stations, s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	n.base = "http://" + ln.Addr().String()
	runCtx, stop := context.WithCancel(ctx)
	n.stop, n.done = stop, make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		n.done <- serve(runCtx, st, "test", ln, slog.New(slog.DiscardHandler), map[string]evbill.Gateway{}, serveOptions{ready: func() { close(ready) }})
	}()
	<-ready
	t.Cleanup(func() {
		stop()
		<-n.done
		st.Close()
	})
	return n
}

// chargePoint is one charger's OCPP connection: CALLs one at a time, the
// central system's CALLs answered Accepted.
type chargePoint struct {
	t   testing.TB
	c   *websocket.Conn
	n   int
	res chan []json.RawMessage
}

func (n *node) connect(s evbill.Station) *chargePoint {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.ChargePointID+":"+livePassword)))
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.base, "http")+"/ocpp/"+s.ChargePointID,
		&websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		n.t.Fatal(err)
	}
	cp := &chargePoint{t: n.t, c: c, res: make(chan []json.RawMessage, 4)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				close(cp.res)
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
			cp.res <- f
		}
	}()
	n.t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return cp
}

// call sends a CALL and returns its CALLRESULT's payload.
func (cp *chargePoint) call(action, payload string) map[string]any {
	cp.n++
	if err := cp.c.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `[2,"m%d",%q,%s]`, cp.n, action, payload)); err != nil {
		cp.t.Error(err)
		return nil
	}
	select {
	case f, ok := <-cp.res:
		if !ok || string(f[0]) != "3" {
			cp.t.Errorf("%s: %s", action, f)
			return nil
		}
		var out map[string]any
		_ = json.Unmarshal(f[2], &out)
		return out
	case <-time.After(2 * time.Minute):
		cp.t.Errorf("%s: no answer", action)
	}
	return nil
}

// begin starts a transaction on the connector and returns its ID.
func (cp *chargePoint) begin(connector int, at time.Time) int {
	got := cp.call("StartTransaction", fmt.Sprintf(`{"connectorId":%d,"idTag":"TAG1","meterStart":0,"timestamp":%q}`, connector, at.Format(time.RFC3339)))
	tx, _ := got["transactionId"].(float64)
	return int(tx)
}

// meter sends one reading of the transaction.
func (cp *chargePoint) meter(connector, tx int, at time.Time, wh int) {
	cp.call("MeterValues", fmt.Sprintf(`{"connectorId":%d,"transactionId":%d,"meterValue":[{"timestamp":%q,"sampledValue":[`+
		`{"value":"%d","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"11000","measurand":"Power.Active.Import","unit":"W"}]}]}`,
		connector, tx, at.Format(time.RFC3339), wh))
}

// session is the ID of the station's session of transaction tx.
func (n *node) session(s evbill.Station, tx int) string {
	n.t.Helper()
	sess, err := n.store.SessionByTransaction(context.Background(), n.tenant.ID, s.ID, int64(tx))
	if err != nil {
		n.t.Fatal(err)
	}
	return sess.ID
}

// livePath is the session's live_path, as the API shows it.
func (n *node) livePath(id string) string {
	n.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.base+"/api/v1/sessions/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+n.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	var live struct {
		LivePath string `json:"live_path"`
	}
	if err := json.NewDecoder(res.Body).Decode(&live); err != nil || res.StatusCode != 200 || !strings.HasPrefix(live.LivePath, "/s/"+id+".") {
		n.t.Fatalf("GET the session: %d, live_path %q, %v", res.StatusCode, live.LivePath, err)
	}
	return live.LivePath
}

// TestServeLiveStreams runs the command's wiring: a session's live_path
// serves its live page, the API's and the page's event streams follow
// it, and a shutdown ends the open streams at once rather than waiting
// for them (they would hold the shutdown for its whole timeout).
func TestServeLiveStreams(t *testing.T) {
	n := startNode(t, 1)
	cp := n.connect(n.stations[0])
	start := time.Now().UTC().Truncate(time.Second)
	tx := cp.begin(1, start)
	id := n.session(n.stations[0], tx)

	livePath := n.livePath(id)
	page, err := http.Get(n.base + livePath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(body), `data-live="energy"`) {
		t.Fatalf("the live page: %d\n%s", page.StatusCode, body)
	}

	open := func(url, key string) *bufio.Reader {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", url, res.StatusCode)
		}
		r := bufio.NewReader(res.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("%s: %v", url, err)
			}
			if line == "event: snapshot\n" {
				return r
			}
		}
	}
	streams := []*bufio.Reader{open(n.base+"/api/v1/sessions/"+id+"/events", n.key), open(n.base+livePath+"/events", "")}
	cp.meter(1, tx, start.Add(time.Minute), 1000)
	for i, r := range streams {
		for line := ""; line != "event: update\n"; {
			if line, err = r.ReadString('\n'); err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
		}
	}

	began := time.Now()
	n.stop()
	select {
	case err := <-n.done:
		n.done <- err // for the cleanup
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10 s with streams open")
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the shutdown took %v with streams open", d)
	}
	for i, r := range streams {
		if _, err := io.ReadAll(r); err != nil && !strings.Contains(err.Error(), "EOF") {
			t.Errorf("stream %d after the shutdown: %v", i, err)
		}
	}
}

// percentile returns the p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)-1))
	return sorted[i]
}

// envInt reads a positive integer from the environment, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
