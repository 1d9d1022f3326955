package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/payment"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/sandbox"
	"github.com/evbill/evbill/storetest"
	"github.com/evbill/evbill/web"
)

// world is what `evbill serve` runs, on a store of its own: the central
// system at /ocpp/, the pay pages at /pay/, the payment worker over the
// sandbox, and a tenant with a site under the example tariff, a station
// CP-1 with a 22 kW connector 1.
type world struct {
	t       *testing.T
	store   storetest.PaymentFullStore
	sbx     *sandbox.Gateway
	tenant  evbill.Tenant
	station evbill.Station
	base    string // http://host:port
	client  *http.Client
	pages   *web.Handler
	// ahead moves the payment worker's clock forward, as time passing.
	ahead atomic.Int64
}

const password = "correct horse battery"

func forEachEngine(t *testing.T, test func(t *testing.T, w *world), options ...func(*web.Config)) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			s, ok := e.Open(t).(storetest.PaymentFullStore)
			if !ok {
				t.Fatalf("the %s store keeps no payments", e.Name)
			}
			test(t, newWorld(t, s, options...))
		})
	}
}

func newWorld(t *testing.T, st storetest.PaymentFullStore, options ...func(*web.Config)) *world {
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
	w.station = evbill.Station{TenantID: w.tenant.ID, SiteID: site.ID, ChargePointID: "CP-1"}
	must(st.CreateStation(ctx, &w.station))
	hash, err := auth.HashPassword(password)
	must(err)
	must(st.SetStationPassword(ctx, w.tenant.ID, w.station.ID, hash))
	must(st.CreateConnector(ctx, &evbill.Connector{TenantID: w.tenant.ID, StationID: w.station.ID, ConnectorNumber: 1,
		Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE", MaxPowerKW: "22"}))
	doc, err := os.ReadFile("../examples/tariff.json")
	must(err)
	tv := evbill.TariffVersion{TenantID: w.tenant.ID, Currency: "EUR", Document: doc}
	must(st.CreateTariff(ctx, &tv))
	must(st.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: w.tenant.ID, TariffID: tv.TariffID, SiteID: site.ID}))

	log := slog.New(slog.DiscardHandler)
	resolver := pricing.NewResolver(st)
	svc := charging.NewService(charging.Config{Store: st, Resolver: resolver, Payments: st, Logger: log})
	central := &ocpp.Server{Authenticate: svc.Authenticate, Handler: svc, Logger: log}
	if w.sbx, err = sandbox.New(sandbox.Config{}); err != nil {
		t.Fatal(err)
	}
	cfg := web.Config{Store: st, Charging: svc, Chargers: central, Resolver: resolver, Gateway: web.GatewaySandbox,
		StartTimeout: 5 * time.Second, Logger: log}
	for _, o := range options {
		o(&cfg)
	}
	pages, err := web.New(cfg)
	must(err)
	w.pages = pages
	mux := http.NewServeMux()
	mux.Handle("/ocpp/", central)
	mux.Handle("/pay/", pages)
	mux.Handle("/s/", pages)
	mux.Handle("/r/", pages)
	hs := httptest.NewServer(mux)
	worker := &payment.Worker{Store: st, Gateways: map[string]evbill.Gateway{"sandbox": w.sbx}, Log: log,
		Now: func() time.Time { return time.Now().Add(time.Duration(w.ahead.Load())) }}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		worker.Run(runCtx, 20*time.Millisecond)
	}()
	t.Cleanup(func() {
		stop()
		<-done
		hs.Close()
		_ = central.Shutdown(context.Background())
		svc.Close()
	})
	w.base = hs.URL
	// The guest's browser, as a test sees it: redirects are looked at,
	// not followed.
	w.client = &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return w
}

// get fetches a page and returns its status and body.
func (w *world) get(path string) (int, string) {
	w.t.Helper()
	res, err := w.client.Get(w.base + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var formToken = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

// form shows the pay page and returns its form token.
func (w *world) form(path string) string {
	w.t.Helper()
	status, body := w.get(path)
	m := formToken.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		w.t.Fatalf("GET %s: %d without a form:\n%s", path, status, body)
	}
	return m[1]
}

// post sends the pay form; it returns the status, the Location and the body.
func (w *world) post(path string, fields url.Values) (int, string, string) {
	w.t.Helper()
	res, err := w.client.PostForm(w.base+path, fields)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

// pay pays for connector 1 of CP-1 with a sandbox card and returns the
// session page it is sent to and the payment behind it.
func (w *world) pay(card string) (string, evbill.Payment) {
	w.t.Helper()
	token := w.form("/pay/CP-1/1")
	status, loc, body := w.post("/pay/CP-1/1", url.Values{"form_token": {token}, "card": {card}})
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/pay/sessions/pay_") {
		w.t.Fatalf("POST the pay form: %d to %q:\n%s", status, loc, body)
	}
	p, err := w.store.AdHocPayment(context.Background(), strings.TrimPrefix(loc, "/pay/sessions/"))
	if err != nil {
		w.t.Fatal(err)
	}
	return loc, p
}

// payment reads a payment again.
func (w *world) payment(id string) evbill.Payment {
	w.t.Helper()
	p, err := w.store.Payment(context.Background(), w.tenant.ID, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// await reads the payment until ok says yes, or fails after 20 s.
func (w *world) await(id string, what string, ok func(evbill.Payment) bool) evbill.Payment {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p := w.payment(id)
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("payment %s never %s: %+v", id, what, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
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

// charger is a charge point for tests, over a real WebSocket: it answers
// RemoteStartTransaction with the status it is told and hands the request
// to the test, which then starts the transaction as a charger would.
type charger struct {
	t      *testing.T
	c      *websocket.Conn
	mu     sync.Mutex
	next   int
	res    chan []json.RawMessage
	remote chan ocpp.RemoteStartTransactionReq
	answer atomic.Value // ocpp.RemoteStartStopStatus
}

func (w *world) dial(answer ocpp.RemoteStartStopStatus) *charger {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("CP-1:"+password)))
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(w.base, "http")+"/ocpp/CP-1", &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		w.t.Fatal(err)
	}
	ch := &charger{t: w.t, c: c, res: make(chan []json.RawMessage, 8), remote: make(chan ocpp.RemoteStartTransactionReq, 8)}
	ch.answer.Store(answer)
	go ch.read()
	w.t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	// The central system knows the connection once the upgrade is done;
	// a Heartbeat's answer proves it.
	ch.call("Heartbeat", `{}`)
	return ch
}

func (ch *charger) read() {
	for {
		_, b, err := ch.c.Read(context.Background())
		if err != nil {
			return
		}
		var f []json.RawMessage
		if json.Unmarshal(b, &f) != nil || len(f) < 3 {
			continue
		}
		if string(f[0]) != "2" {
			ch.res <- f
			continue
		}
		var action string
		_ = json.Unmarshal(f[2], &action)
		status := ocpp.RemoteAccepted
		if action == ocpp.ActionRemoteStartTransaction {
			var req ocpp.RemoteStartTransactionReq
			_ = json.Unmarshal(f[3], &req)
			status = ch.answer.Load().(ocpp.RemoteStartStopStatus)
			ch.remote <- req
		}
		ans := fmt.Sprintf(`[3,%s,{"status":%q}]`, f[1], status)
		_ = ch.c.Write(context.Background(), websocket.MessageText, []byte(ans))
	}
}

// call sends a CALL and returns the CALLRESULT payload.
func (ch *charger) call(action, payload string) map[string]any {
	ch.t.Helper()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.next++
	msg := fmt.Sprintf(`[2,"m%d",%q,%s]`, ch.next, action, payload)
	if err := ch.c.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		ch.t.Fatal(err)
	}
	select {
	case f := <-ch.res:
		if string(f[0]) != "3" {
			ch.t.Fatalf("%s: CALLERROR %s", action, f)
		}
		var out map[string]any
		_ = json.Unmarshal(f[2], &out)
		return out
	case <-time.After(60 * time.Second):
		ch.t.Fatalf("%s: no answer", action)
	}
	return nil
}

// remoteStart returns the RemoteStartTransaction the charger was sent.
func (ch *charger) remoteStart() ocpp.RemoteStartTransactionReq {
	ch.t.Helper()
	select {
	case req := <-ch.remote:
		return req
	case <-time.After(20 * time.Second):
		ch.t.Fatal("the charger was not asked to start")
	}
	return ocpp.RemoteStartTransactionReq{}
}

// noRemoteStart fails the test if the charger was asked to start.
func (ch *charger) noRemoteStart() {
	ch.t.Helper()
	select {
	case req := <-ch.remote:
		ch.t.Fatalf("the charger was asked to start: %+v", req)
	case <-time.After(200 * time.Millisecond):
	}
}

// start sends the StartTransaction a charger sends once started for
// idTag, and returns its transaction ID and the idTag status.
func (ch *charger) start(idTag string, at time.Time) (int, string) {
	ch.t.Helper()
	got := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":%q,"meterStart":0,"timestamp":%q}`, idTag, at.Format(time.RFC3339)))
	return int(got["transactionId"].(float64)), got["idTagInfo"].(map[string]any)["status"].(string)
}

// TestPayPage: a guest opens the pay page of a connected charger, sees the
// tariff and the hold in test mode, pays with the sandbox card that
// succeeds; the charger is sent RemoteStartTransaction with the guest's
// idTag, starts, charges and stops; the session page follows it live, and
// exactly the CDR's total is captured. Sending the form again shows the
// same payment and starts nothing.
func TestPayPage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ch := w.dial(ocpp.RemoteAccepted)
		status, body := w.get("/pay/CP-1/1")
		if status != http.StatusOK {
			t.Fatalf("GET the pay page: %d\n%s", status, body)
		}
		contains(t, "the pay page", body, "TEST MODE — sandbox gateway, no real money", "Charge at CP-1", "Connector 1", "up to 22 kW",
			"Centraal", "EUR 50.00", "EUR 0.45 per kWh plus 21 % VAT", "per minute begun", "07:00–19:00", "EUR 0.35 per session", "Europe/Amsterdam",
			"€0.35 start fee", "For example: Charging 20 kWh in one hour", `name="card"`)
		if strings.Contains(body, "<script") || strings.Contains(body, "https://") {
			t.Errorf("the pay page loads a script or something from elsewhere:\n%s", body)
		}

		token := w.form("/pay/CP-1/1")
		fields := url.Values{"form_token": {token}, "card": {"4242 4242 4242 4242"}}
		status, loc, body := w.post("/pay/CP-1/1", fields)
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/pay/sessions/pay_") {
			t.Fatalf("POST the pay form: %d to %q\n%s", status, loc, body)
		}
		p, err := w.store.AdHocPayment(ctx, strings.TrimPrefix(loc, "/pay/sessions/"))
		if err != nil {
			t.Fatal(err)
		}
		req := ch.remoteStart()
		if req.IdTag != p.IDTag || req.ConnectorId == nil || *req.ConnectorId != 1 || len(req.IdTag) > evbill.MaxIDTag || !strings.HasPrefix(req.IdTag, "ADHOC") {
			t.Fatalf("RemoteStartTransaction %+v for the payment of idTag %q", req, p.IDTag)
		}
		if p.State != evbill.PaymentHeld || p.HoldAmount != charging.DefaultCardHold || p.Currency != "EUR" || p.SessionID != "" || p.Gateway != "sandbox" {
			t.Fatalf("the guest's payment before the start: %+v", p)
		}
		tok, err := w.store.TokenByUID(ctx, w.tenant.ID, p.IDTag)
		if err != nil || tok.Type != evbill.TokenTypeAdHoc || tok.Status != evbill.TokenAccepted || tok.DriverID != "" ||
			tok.ExpiresAt == nil || tok.ExpiresAt.Sub(time.Now()) > evbill.AdHocWindow {
			t.Fatalf("the guest's token: %+v, %v", tok, err)
		}
		_, body = w.get(loc)
		contains(t, "the session page before the start", body, "Card accepted — starting the charger", "EUR 50.00", `http-equiv="refresh"`)

		// The same form again (a double tap): the same payment, no second start.
		status, again, _ := w.post("/pay/CP-1/1", fields)
		if status != http.StatusSeeOther || again != loc {
			t.Errorf("the form sent again: %d to %q, want %q", status, again, loc)
		}
		ch.noRemoteStart()

		start := time.Now().Add(2 * time.Second) // after the tariff version was made, to the second
		tx, st := ch.start(req.IdTag, start)
		if st != "Accepted" {
			t.Fatalf("the guest's start: %s", st)
		}
		sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if err != nil {
			t.Fatal(err)
		}
		if p = w.payment(p.ID); p.SessionID != sess.ID || p.State != evbill.PaymentHeld {
			t.Fatalf("the payment after the start: session %q, %s; want %s, held", p.SessionID, p.State, sess.ID)
		}
		ch.call("MeterValues", fmt.Sprintf(`{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":%q,"sampledValue":[`+
			`{"value":"7000","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"11000","measurand":"Power.Active.Import","unit":"W"}]}]}`,
			tx, start.Add(30*time.Minute).Format(time.RFC3339)))
		_, body = w.get(loc)
		contains(t, "the session page while charging", body, "<h1>Charging</h1>", "CP-1, connector 1", "7.00 kWh", "11.0 kW", "30 min", "Cost so far", "EUR ", "Rate now",
			`<a href="`+w.pages.LivePath(w.tenant.ID, sess.ID)+`">Follow this session live</a>`)

		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":7000,"timestamp":%q,"reason":"EVDisconnected","idTag":%q}`,
			tx, start.Add(40*time.Minute).Format(time.RFC3339), req.IdTag))
		record, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if record.AmountMinor <= 0 || record.AmountMinor >= p.HoldAmount {
			t.Fatalf("CDR of %d: the test wants a charge within the hold", record.AmountMinor)
		}
		p = w.await(p.ID, "captured", func(p evbill.Payment) bool { return p.State == evbill.PaymentCaptured })
		if p.Captured != record.AmountMinor {
			t.Errorf("captured %d, the CDR charges %d", p.Captured, record.AmountMinor)
		}
		if gp, _ := w.sbx.Payment(p.Reference); gp.CapturedAmount != record.AmountMinor || gp.Status != evbill.GatewayCaptured {
			t.Errorf("the sandbox took %+v, the CDR charges %d", gp, record.AmountMinor)
		}
		paid := fmt.Sprintf("Paid EUR %d.%02d", record.AmountMinor/100, record.AmountMinor%100)
		status, body = w.get(loc)
		contains(t, "the session page at the end", body, paid, "Price", "40 min")
		if status != http.StatusOK || strings.Contains(body, `http-equiv="refresh"`) {
			t.Errorf("the final session page (%d) still reloads itself:\n%s", status, body)
		}
	})
}

// TestPayPageDeclined: a declined card starts nothing and holds nothing;
// the guest is told, and the token can start nothing.
func TestPayPageDeclined(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch := w.dial(ocpp.RemoteAccepted)
		loc, p := w.pay(sandbox.CardDeclined)
		ch.noRemoteStart()
		if p.State != evbill.PaymentFailed || p.FailureCode != sandbox.CodeCardDeclined || p.Reference != "" {
			t.Fatalf("the declined payment: %+v", p)
		}
		_, body := w.get(loc)
		contains(t, "the session page", body, "Card declined", "Nothing was charged")
		if _, st := ch.start(p.IDTag, time.Now().Add(2*time.Second)); st != "Blocked" {
			t.Errorf("a start with the declined guest's idTag: %s, want Blocked", st)
		}
	})
}

// TestPayPageRemoteStartRejected: a charger that refuses to start gets no
// session, and the hold placed for it is released through the gateway.
func TestPayPageRemoteStartRejected(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch := w.dial(ocpp.RemoteRejected)
		loc, p := w.pay(sandbox.CardSucceeds)
		if req := ch.remoteStart(); req.IdTag != p.IDTag {
			t.Fatalf("RemoteStartTransaction for %q, the payment is %q's", req.IdTag, p.IDTag)
		}
		p = w.await(p.ID, "released", func(p evbill.Payment) bool { return p.State == evbill.PaymentReleased })
		if p.FailureCode != "remote_start_rejected" || p.SessionID != "" || p.Captured != 0 {
			t.Errorf("the released payment: %+v", p)
		}
		if gp, ok := w.sbx.Payment(p.Reference); !ok || gp.Status != evbill.GatewayReleased || gp.CapturedAmount != 0 {
			t.Errorf("the sandbox's hold: %+v, %v; want released", gp, ok)
		}
		_, body := w.get(loc)
		contains(t, "the session page", body, "Charging did not start", "The charger refused to start", "is released", "Nothing was charged")
		if _, st := ch.start(p.IDTag, time.Now().Add(2*time.Second)); st != "Blocked" {
			t.Errorf("a late start with the refused guest's idTag: %s, want Blocked", st)
		}
	})
}

// TestPayPageNeverStarted: the charger takes the remote start but never
// starts (nobody plugged in); the worker releases the hold once the
// guest's window has passed, and a start after that is refused. The
// tenant holds cards for less than the server does, guests' too.
func TestPayPageNeverStarted(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		if err := w.store.SetTenantPayments(context.Background(), w.tenant.ID, evbill.TenantPayments{CardHold: 2000}); err != nil {
			t.Fatal(err)
		}
		ch := w.dial(ocpp.RemoteAccepted)
		_, body := w.get("/pay/CP-1/1")
		contains(t, "the pay page", body, "Hold EUR 20.00 and start charging")
		loc, p := w.pay(sandbox.CardSucceeds)
		if p.HoldAmount != 2000 {
			t.Errorf("a guest's hold of %d under the tenant's card hold of 2000", p.HoldAmount)
		}
		ch.remoteStart()
		time.Sleep(100 * time.Millisecond) // a few worker rounds: nothing happens within the window
		if p = w.payment(p.ID); p.State != evbill.PaymentHeld {
			t.Fatalf("within the window: %s, want held", p.State)
		}
		w.ahead.Store(int64(evbill.AdHocWindow + time.Minute))
		p = w.await(p.ID, "released", func(p evbill.Payment) bool { return p.State == evbill.PaymentReleased })
		if p.FailureCode != payment.NoSession {
			t.Errorf("released with %q, want %q", p.FailureCode, payment.NoSession)
		}
		if gp, _ := w.sbx.Payment(p.Reference); gp.Status != evbill.GatewayReleased {
			t.Errorf("the sandbox's hold: %+v", gp)
		}
		_, body = w.get(loc)
		contains(t, "the session page", body, "Charging did not start", "No charging started within 15 min", "is released")
		if _, st := ch.start(p.IDTag, time.Now().Add(2*time.Second)); st != "Invalid" {
			t.Errorf("a start after the release: %s, want Invalid", st)
		}
		if got := w.payment(p.ID); got.SessionID != "" || got.State != evbill.PaymentReleased {
			t.Errorf("the released payment after a late start: %+v", got)
		}
	})
}

// TestPayPageHoldTimeout: when the bank does not answer within the wait,
// the charger is not started, the guest is told, and the hold, placed
// later, is released.
func TestPayPageHoldTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch := w.dial(ocpp.RemoteAccepted)
		loc, p := w.pay(sandbox.CardTimeout) // its first answer is lost; the retry comes 2 s later
		ch.noRemoteStart()
		_, body := w.get(loc)
		contains(t, "the session page", body, "No answer from your card&#39;s bank", "Nothing was charged")
		p = w.await(p.ID, "released", func(p evbill.Payment) bool { return p.State == evbill.PaymentReleased })
		if p.Captured != 0 || p.SessionID != "" {
			t.Errorf("the late hold: %+v", p)
		}
	}, func(c *web.Config) { c.HoldWait = 300 * time.Millisecond })
}

// TestPayPageRefusals: what is refused before any payment exists: an
// unknown charger or connector, a charger that is offline, a form that
// is not ours or too old, a real card in test mode, a post from another
// site. None of them makes a payment.
func TestPayPageRefusals(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		for _, path := range []string{"/pay/CP-9/1", "/pay/CP-1/2", "/pay/CP-1/x", "/pay/CP-1/0"} {
			if status, body := w.get(path); status != http.StatusNotFound || !strings.Contains(body, "Unknown charger") {
				t.Errorf("GET %s: %d\n%s", path, status, body)
			}
		}
		if status, _ := w.get("/pay/sessions/pay_01NOPE"); status != http.StatusNotFound {
			t.Errorf("an unknown payment's page: %d", status)
		}

		// Offline: the page says so and takes no card, also from a form
		// shown while the charger was connected.
		ch := w.dial(ocpp.RemoteAccepted)
		token := w.form("/pay/CP-1/1")
		ch.c.Close(websocket.StatusNormalClosure, "")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			_, body := w.get("/pay/CP-1/1")
			if strings.Contains(body, "offline") && !strings.Contains(body, "form_token") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pay page of a disconnected charger:\n%s", body)
			}
		}
		status, _, body := w.post("/pay/CP-1/1", url.Values{"form_token": {token}, "card": {sandbox.CardSucceeds}})
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "offline") {
			t.Errorf("paying for an offline charger: %d\n%s", status, body)
		}

		w.dial(ocpp.RemoteAccepted)
		token = w.form("/pay/CP-1/1")
		for name, tc := range map[string]struct {
			fields url.Values
			status int
			says   string
		}{
			"no token":        {url.Values{"card": {sandbox.CardSucceeds}}, http.StatusBadRequest, "open for too long"},
			"a forged token":  {url.Values{"form_token": {token[:len(token)-2] + "AA"}, "card": {sandbox.CardSucceeds}}, http.StatusBadRequest, "open for too long"},
			"a real card":     {url.Values{"form_token": {token}, "card": {"5555 5555 5555 4444"}}, http.StatusUnprocessableEntity, "not a sandbox test card"},
			"no card":         {url.Values{"form_token": {token}}, http.StatusUnprocessableEntity, "enter a test card"},
			"not card digits": {url.Values{"form_token": {token}, "card": {"hello"}}, http.StatusUnprocessableEntity, "cannot be used"},
		} {
			status, _, body := w.post("/pay/CP-1/1", tc.fields)
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("%s: %d, want %d saying %q\n%s", name, status, tc.status, tc.says, body)
			}
			if strings.Contains(body, "5555 5555 5555 4444") || strings.Contains(body, "5555555555554444") {
				t.Errorf("%s: the page repeats the card number", name)
			}
		}
		// Another connector's form does not pay for this one.
		if status, _, _ := w.post("/pay/CP-1/2", url.Values{"form_token": {token}, "card": {sandbox.CardSucceeds}}); status != http.StatusNotFound {
			t.Errorf("a form posted to another connector: %d", status)
		}
		req, _ := http.NewRequest(http.MethodPost, w.base+"/pay/CP-1/1", strings.NewReader(url.Values{"form_token": {token}, "card": {sandbox.CardSucceeds}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		res, err := w.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("a post from another site: %d, want 403", res.StatusCode)
		}
		// Every payment is made with its guest's token, first.
		toks, err := w.store.ListTokens(ctx, w.tenant.ID, evbill.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) != 0 {
			t.Errorf("refused forms made guest tokens: %+v", toks)
		}
	})
}
