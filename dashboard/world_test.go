package dashboard_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/dashboard"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/storetest"
	"github.com/evbill/evbill/web"
)

// world is the dashboard as `evbill serve` mounts it, on a store of its
// own: the central system at /ocpp/, the public pages at /pay/, /s/ and
// /r/, the dashboard's patterns, and a stand-in for the API at "/". A
// tenant acme has a site in Amsterdam under the example tariff, a
// station CP-1 with a 22 kW connector 1, an RFID token TAG1, and users of
// every role; another tenant has a user and a session of its own.
type world struct {
	t       *testing.T
	store   dashboard.Stores
	tenant  evbill.Tenant
	station evbill.Station
	other   evbill.Tenant
	base    string
	dash    *dashboard.Handler
	pages   *web.Handler
	// ahead moves the dashboard's clock forward, as time passing.
	ahead atomic.Int64
}

const (
	stationPassword = "correct horse battery"
	userPassword    = "a long and winding road"
)

// emails of acme's users, by role, and of the other tenant's admin.
var emails = map[evbill.Role]string{
	evbill.RoleAdmin:    "admin@acme.example",
	evbill.RoleOperator: "operator@acme.example",
	evbill.RoleFinance:  "finance@acme.example",
	evbill.RoleReadonly: "readonly@acme.example",
}

const otherEmail = "admin@other.example"

func forEachEngine(t *testing.T, test func(t *testing.T, w *world), options ...func(*dashboard.Config)) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			s, ok := e.Open(t).(dashboard.Stores)
			if !ok {
				t.Fatalf("the %s store has no dashboard", e.Name)
			}
			test(t, newWorld(t, s, options...))
		})
	}
}

// hashes are the users' password hashes, made once: argon2id takes its
// time by design.
var hashes = sync.OnceValue(func() []byte {
	h, err := dashboard.HashPassword(userPassword)
	if err != nil {
		panic(err)
	}
	return h
})

func newWorld(t *testing.T, st dashboard.Stores, options ...func(*dashboard.Config)) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, store: st}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w.tenant = evbill.Tenant{Name: "acme"}
	must(st.CreateTenant(ctx, &w.tenant))
	site := evbill.Site{TenantID: w.tenant.ID, Name: "Centraal", Address: "Stationsplein 1", City: "Amsterdam", Country: "NL", TimeZone: "Europe/Amsterdam"}
	must(st.CreateSite(ctx, &site))
	w.station = evbill.Station{TenantID: w.tenant.ID, SiteID: site.ID, ChargePointID: "CP-1", Vendor: "Alfen", Model: "Eve"}
	must(st.CreateStation(ctx, &w.station))
	hash, err := auth.HashPassword(stationPassword)
	must(err)
	must(st.SetStationPassword(ctx, w.tenant.ID, w.station.ID, hash))
	must(st.CreateConnector(ctx, &evbill.Connector{TenantID: w.tenant.ID, StationID: w.station.ID, ConnectorNumber: 1,
		Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE", MaxPowerKW: "22"}))
	doc, err := os.ReadFile("../examples/tariff.json")
	must(err)
	tv := evbill.TariffVersion{TenantID: w.tenant.ID, Currency: "EUR", Document: doc}
	must(st.CreateTariff(ctx, &tv))
	must(st.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: w.tenant.ID, TariffID: tv.TariffID, SiteID: site.ID}))
	must(st.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: "TAG1", Type: "RFID", Status: evbill.TokenAccepted}))
	for role, email := range emails {
		must(st.CreateUser(ctx, &evbill.User{TenantID: w.tenant.ID, Email: email, Role: role}, hashes()))
	}
	w.other = evbill.Tenant{Name: "other"}
	must(st.CreateTenant(ctx, &w.other))
	must(st.CreateUser(ctx, &evbill.User{TenantID: w.other.ID, Email: otherEmail, Role: evbill.RoleAdmin}, hashes()))

	log := slog.New(slog.DiscardHandler)
	resolver := pricing.NewResolver(st)
	svc := charging.NewService(charging.Config{Store: st, Resolver: resolver, Logger: log})
	central := &ocpp.Server{Authenticate: svc.Authenticate, Handler: svc, Logger: log}
	ws, ok := st.(web.Stores)
	if !ok {
		t.Fatal("the store keeps no payments")
	}
	w.pages, err = web.New(web.Config{Store: ws, Charging: svc, Chargers: central, Resolver: resolver, Logger: log})
	must(err)
	cfg := dashboard.Config{Store: st, Charging: svc, Chargers: central, Resolver: resolver, LivePath: w.pages.LivePath,
		ReceiptPath: func(tenantID, sessionID string) string {
			return "/r/" + strings.TrimPrefix(w.pages.LivePath(tenantID, sessionID), "/s/")
		},
		Refresh: 200 * time.Millisecond, Logger: log,
		Now: func() time.Time { return time.Now().Add(time.Duration(w.ahead.Load())) }}
	for _, o := range options {
		o(&cfg)
	}
	w.dash, err = dashboard.New(cfg)
	must(err)
	mux := http.NewServeMux()
	mux.Handle("/ocpp/", central)
	mux.Handle("/pay/", w.pages)
	mux.Handle("/s/", w.pages)
	mux.Handle("/r/", w.pages)
	w.dash.Mount(mux)
	// The API's place: whatever the dashboard does not take.
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/problem+json")
		rw.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(rw, `{"api":%q}`, r.URL.Path)
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		_ = central.Shutdown(context.Background())
		svc.Close()
	})
	w.base = hs.URL
	return w
}

// browser is an HTTP client as a browser is to the dashboard: it keeps
// cookies and sends Sec-Fetch-Site: same-origin with its forms; redirects
// are looked at, not followed.
type browser struct {
	w *world
	c *http.Client
}

func (w *world) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return &browser{w: w, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the response with its body read.
func (b *browser) do(method, path string, form url.Values, header http.Header) (*http.Response, string) {
	b.w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.w.base+path, body)
	if err != nil {
		b.w.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", b.w.base)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.w.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res, string(out)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.w.t.Helper()
	return b.do(http.MethodGet, path, nil, nil)
}

// login posts the login form and returns the answer.
func (b *browser) login(email, password string) (*http.Response, string) {
	b.w.t.Helper()
	return b.do(http.MethodPost, "/login", url.Values{"email": {email}, "password": {password}}, nil)
}

// mustLogin logs in and fails the test unless it worked.
func (b *browser) mustLogin(email string) {
	b.w.t.Helper()
	res, body := b.login(email, userPassword)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		b.w.t.Fatalf("login as %s: %d to %q\n%s", email, res.StatusCode, res.Header.Get("Location"), body)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the synchronizer token of the browser's login, from a page.
func (b *browser) csrf() string {
	b.w.t.Helper()
	_, body := b.get("/")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		b.w.t.Fatalf("no csrf token on the overview:\n%s", body)
	}
	return m[1]
}

// cookie returns the login cookie the browser holds, "" for none.
func (b *browser) cookie() string {
	u, _ := url.Parse(b.w.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "evbill_session" {
			return c.Value
		}
	}
	return ""
}

// contains fails the test unless body has every one of want.
func contains(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(body, s) {
			t.Errorf("%s does not say %q:\n%s", what, s, body)
		}
	}
}

// charger is CP-1 over a real WebSocket, answering the central system's
// CALLs Accepted.
type charger struct {
	t   *testing.T
	c   *websocket.Conn
	mu  sync.Mutex
	n   int
	res chan []json.RawMessage
	tx  int
	at  time.Time // the transaction's start
}

func (w *world) dial() *charger {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("CP-1:"+stationPassword)))
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(w.base, "http")+"/ocpp/CP-1",
		&websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		w.t.Fatal(err)
	}
	ch := &charger{t: w.t, c: c, res: make(chan []json.RawMessage, 8)}
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
			ch.res <- f
		}
	}()
	w.t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	ch.call("BootNotification", `{"chargePointVendor":"Alfen","chargePointModel":"Eve"}`)
	return ch
}

// call sends a CALL and returns the CALLRESULT's payload.
func (ch *charger) call(action, payload string) map[string]any {
	ch.t.Helper()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.n++
	if err := ch.c.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `[2,"m%d",%q,%s]`, ch.n, action, payload)); err != nil {
		ch.t.Fatal(err)
	}
	select {
	case f := <-ch.res:
		if string(f[0]) != "3" {
			ch.t.Fatalf("%s: %s", action, f)
		}
		var out map[string]any
		_ = json.Unmarshal(f[2], &out)
		return out
	case <-time.After(30 * time.Second):
		ch.t.Fatalf("%s: no answer", action)
	}
	return nil
}

// start starts a transaction with TAG1 on connector 1.
func (ch *charger) start() {
	ch.t.Helper()
	// After the tariff version was made, to the second.
	ch.at = time.Now().Add(2 * time.Second).Truncate(time.Second)
	got := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":0,"timestamp":%q}`, ch.at.Format(time.RFC3339)))
	if st := got["idTagInfo"].(map[string]any)["status"]; st != "Accepted" {
		ch.t.Fatalf("StartTransaction: %v", st)
	}
	ch.tx = int(got["transactionId"].(float64))
}

// meter reports the register and the power after the start.
func (ch *charger) meter(after time.Duration, wh, watts int) {
	ch.t.Helper()
	ch.call("MeterValues", fmt.Sprintf(`{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":%q,"sampledValue":[`+
		`{"value":"%d","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"%d","measurand":"Power.Active.Import","unit":"W"}]}]}`,
		ch.tx, ch.at.Add(after).Format(time.RFC3339), wh, watts))
}

// stop ends the transaction after the start with the register at wh.
func (ch *charger) stop(after time.Duration, wh int) {
	ch.t.Helper()
	ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":%d,"timestamp":%q,"reason":"EVDisconnected","idTag":"TAG1"}`,
		ch.tx, wh, ch.at.Add(after).Format(time.RFC3339)))
}

// session returns the charger's current session.
func (w *world) session(ch *charger) evbill.Session {
	w.t.Helper()
	s, err := w.store.SessionByTransaction(context.Background(), w.tenant.ID, w.station.ID, int64(ch.tx))
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}
