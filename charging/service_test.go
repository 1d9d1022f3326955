package charging_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/cdr"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/storetest"
	"github.com/evbill/evbill/tariff"
)

// world is a tenant with a site, a station CP-1 (password "correct horse
// battery"), a 22 kW connector, the example time-of-use tariff assigned to
// the site and an accepted token TAG1, served by a real central system.
type world struct {
	store   charging.Stores
	svc     *charging.Service
	tenant  evbill.Tenant
	station evbill.Station
	tariff  evbill.TariffVersion
	url     string
	clock   atomic.Pointer[time.Time] // the service's clock when set; else time.Now
}

// setClock sets the service's clock.
func (w *world) setClock(t time.Time) { w.clock.Store(&t) }

const password = "correct horse battery"

// forEachEngine runs the test once per store engine, each in a world of
// its own.
func forEachEngine(t *testing.T, test func(t *testing.T, w *world)) {
	forEachEngineWith(t, nil, test)
}

// forEachEngineWith is forEachEngine with options for the service.
func forEachEngineWith(t *testing.T, options []func(*charging.Config), test func(t *testing.T, w *world)) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) { test(t, newWorld(t, e.Open(t), options...)) })
	}
}

func newWorld(t *testing.T, st charging.Stores, options ...func(*charging.Config)) *world {
	t.Helper()
	doc, err := os.ReadFile("../examples/tariff.json")
	if err != nil {
		t.Fatal(err)
	}
	return newWorldWithTariff(t, st, doc, options...)
}

// newWorldWithTariff is newWorld with the tariff doc in place of the
// example.
func newWorldWithTariff(t *testing.T, st charging.Stores, doc []byte, options ...func(*charging.Config)) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{store: st}
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
	conn := evbill.Connector{TenantID: w.tenant.ID, StationID: w.station.ID, ConnectorNumber: 1, Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE", MaxPowerKW: "22"}
	must(st.CreateConnector(ctx, &conn))
	w.tariff = evbill.TariffVersion{TenantID: w.tenant.ID, Currency: "EUR", Document: doc}
	must(st.CreateTariff(ctx, &w.tariff))
	must(st.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: w.tenant.ID, TariffID: w.tariff.TariffID, SiteID: site.ID}))
	must(st.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: "TAG1", Type: "RFID", Status: evbill.TokenAccepted}))

	payments, _ := st.(evbill.PaymentStore)
	cfg := charging.Config{Store: st, Payments: payments, Now: func() time.Time {
		if t := w.clock.Load(); t != nil {
			return *t
		}
		return time.Now()
	}}
	for _, o := range options {
		o(&cfg)
	}
	svc := charging.NewService(cfg)
	w.svc = svc
	srv := &ocpp.Server{Authenticate: svc.Authenticate, Handler: svc}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Shutdown(context.Background())
		svc.Close()
	})
	w.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ocpp/"
	return w
}

// charger is a minimal OCPP 1.6J charge point for tests: it sends CALLs one
// at a time and answers the central system's CALLs with Accepted.
type charger struct {
	t    *testing.T
	c    *websocket.Conn
	mu   sync.Mutex
	next int
	res  chan []json.RawMessage
	// got receives the action and payload of each CALL of the central
	// system (dropped when nobody reads).
	got chan [2]string
}

func dial(t *testing.T, url, cp, pw string) (*charger, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cp+":"+pw)))
	c, _, err := websocket.Dial(ctx, url+cp, &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		return nil, err
	}
	ch := &charger{t: t, c: c, res: make(chan []json.RawMessage, 8), got: make(chan [2]string, 16)}
	go ch.read()
	t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return ch, nil
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
		if string(f[0]) == "2" { // the central system's CALL: accept it
			var action string
			_ = json.Unmarshal(f[2], &action)
			if len(f) > 3 {
				select {
				case ch.got <- [2]string{action, string(f[3])}:
				default:
				}
			}
			ans := fmt.Sprintf(`[3,%s,{"status":"Accepted"}]`, f[1])
			_ = ch.c.Write(context.Background(), websocket.MessageText, []byte(ans))
			continue
		}
		ch.res <- f
	}
}

// call sends a CALL and returns the CALLRESULT payload, or fails the test
// on a CALLERROR.
func (ch *charger) call(action string, payload string) map[string]any {
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
	case <-time.After(60 * time.Second): // generous: CI runs every package at once under -race
		ch.t.Fatalf("%s: no answer", action)
	}
	return nil
}

// raw sends bytes as they are and returns the answer's elements.
func (ch *charger) raw(frame string) []json.RawMessage {
	ch.t.Helper()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if err := ch.c.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
		ch.t.Fatal(err)
	}
	select {
	case f := <-ch.res:
		return f
	case <-time.After(60 * time.Second):
		ch.t.Fatalf("%s: no answer", frame)
	}
	return nil
}

func meterValues(tx int, at time.Time, wh, w int) string {
	return fmt.Sprintf(`{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":%q,"sampledValue":[`+
		`{"value":"%d","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"%d","measurand":"Power.Active.Import","unit":"W"}]}]}`,
		tx, at.Format(time.RFC3339), wh, w)
}

// TestFullSession drives a session over a real WebSocket: boot, start, a
// retransmitted start, meter values out of order, stop; the CDR is stored
// with the price the engine gives for the same readings.
func TestFullSession(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		if got := ch.call("BootNotification", `{"chargePointVendor":"Alfen","chargePointModel":"Eve"}`); got["status"] != "Accepted" {
			t.Fatalf("boot: %v", got)
		}
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC) // Friday 18:15 in Amsterdam
		startReq := fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`, start.Format(time.RFC3339))
		first := ch.call("StartTransaction", startReq)
		if info, _ := first["idTagInfo"].(map[string]any); info["status"] != "Accepted" {
			t.Fatalf("start: %v", first)
		}
		tx := int(first["transactionId"].(float64))
		if again := ch.call("StartTransaction", startReq); int(again["transactionId"].(float64)) != tx {
			t.Fatalf("a retransmitted start got transaction %v, want %d", again["transactionId"], tx)
		}
		// Readings arrive out of order, as after an offline stretch.
		ch.call("MeterValues", meterValues(tx, start.Add(90*time.Minute), 17050, 10400))
		ch.call("MeterValues", meterValues(tx, start.Add(45*time.Minute), 9250, 11000))
		ch.call("MeterValues", meterValues(tx, start.Add(95*time.Minute), 17050, 0))
		ch.call("MeterValues", meterValues(tx, start.Add(45*time.Minute), 9250, 11000)) // a duplicate
		ctx := context.Background()
		sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if err != nil {
			t.Fatal(err)
		}
		running, err := w.svc.Live(ctx, w.tenant.ID, sess.ID)
		if err != nil || running.Result == nil || !running.AsOf.Equal(start.Add(95*time.Minute)) {
			t.Fatalf("live view while charging: %+v, %v", running, err)
		}
		if running.EnergyKWh.String() != "16.05" {
			t.Errorf("live energy %s kWh, want 16.05", running.EnergyKWh)
		}
		stop := start.Add(135 * time.Minute)
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":17050,"timestamp":%q,"reason":"EVDisconnected","idTag":"TAG1"}`, tx, stop.Format(time.RFC3339)))

		sess, err = w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if err != nil || sess.State != evbill.SessionEnded {
			t.Fatalf("session: %+v, %v", sess, err)
		}
		samples, _ := w.store.Samples(ctx, w.tenant.ID, sess.ID)
		if len(samples) != 3 || !samples[0].Time.Before(samples[1].Time) {
			t.Fatalf("samples not kept one per instant, in order: %+v", samples)
		}
		record, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil {
			t.Fatalf("no CDR: %v", err)
		}
		// The same readings priced directly by the engine.
		tf, _ := tariff.Parse(w.tariff.Document)
		ams, _ := time.LoadLocation("Europe/Amsterdam")
		m := &tariff.Metered{Start: start, MeterStartWh: decimal.MustNew(1000, 0), Location: ams, End: stop,
			MeterStopWh: decimal.MustNew(17050, 0), HasMeterStop: true, ParkingStart: start.Add(95 * time.Minute),
			Samples: []tariff.Sample{
				{Time: start.Add(45 * time.Minute), EnergyWh: decimal.MustNew(9250, 0), PowerW: decimal.MustNew(11000, 0), HasPower: true},
				{Time: start.Add(90 * time.Minute), EnergyWh: decimal.MustNew(17050, 0), PowerW: decimal.MustNew(10400, 0), HasPower: true},
				{Time: start.Add(95 * time.Minute), EnergyWh: decimal.MustNew(17050, 0), PowerW: decimal.Zero, HasPower: true},
			}}
		want, _, err := tf.PriceMetered(m, false)
		if err != nil {
			t.Fatal(err)
		}
		if record.AmountMinor != want.Charge.Minor || record.Currency != "EUR" {
			t.Errorf("CDR charges %d %s, the engine %s", record.AmountMinor, record.Currency, want.Charge)
		}
		// The cost shown for the ended session is the CDR's; the last running
		// cost shown before the stop was not more.
		final, err := w.svc.Live(ctx, w.tenant.ID, sess.ID)
		if err != nil || final.Result == nil || final.Result.Charge.Minor != record.AmountMinor {
			t.Errorf("live view after the stop: %v, %v; want the CDR's %d", final.Result, err, record.AmountMinor)
		}
		if running.Result.Charge.Minor > record.AmountMinor {
			t.Errorf("the running cost %s exceeded the final %d", running.Result.Charge, record.AmountMinor)
		}
		parsed, err := cdr.Parse(record.Document)
		if err != nil {
			t.Fatalf("the stored CDR is not OCPI: %v\n%s", err, record.Document)
		}
		if !strings.Contains(string(record.Document), `"country":"NLD"`) || !strings.Contains(string(record.Document), `"connector_format":"SOCKET"`) {
			t.Errorf("the CDR's location wants an alpha-3 country and the connector's format:\n%s", record.Document)
		}
		if parsed.Session.Start != start || len(parsed.Session.Periods) == 0 {
			t.Errorf("stored CDR: %+v", parsed.Session)
		}
		events, err := w.store.PendingEvents(ctx, "", 10)
		types := make([]string, len(events))
		for i, e := range events {
			types[i] = e.Type
		}
		// The late and the repeated reading announce nothing.
		if err != nil || !slices.Equal(types, []string{"session.started", "session.updated", "session.updated", "session.ended", "cdr.created"}) {
			t.Errorf("outbox: %v, %v", types, err)
		}
		// A repeated stop is answered again and changes nothing.
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":17050,"timestamp":%q}`, tx, stop.Format(time.RFC3339)))
		if again, _ := w.store.PendingEvents(ctx, "", 10); len(again) != len(events) {
			t.Errorf("a repeated stop wrote %d events more", len(again)-len(events))
		}
	})
}

// TestStopForUnknownTransaction: always answered, kept as an orphan.
func TestStopForUnknownTransaction(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		ch.call("StopTransaction", `{"transactionId":4242,"meterStop":500,"timestamp":"2027-03-12T18:00:00Z"}`)
		sessions, err := w.store.ListSessions(context.Background(), w.tenant.ID, evbill.Page{})
		if err != nil || len(sessions) != 1 || sessions[0].State != evbill.SessionEnded || len(sessions[0].Flags) != 1 || sessions[0].Flags[0] != evbill.FlagOrphanStop {
			t.Fatalf("orphan: %+v, %v", sessions, err)
		}
	})
}

// TestImplausibleMeterIsNotBilled: energy beyond what 22 kW can deliver is
// flagged and ends without a CDR.
func TestImplausibleMeterIsNotBilled(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		res := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":0,"timestamp":%q}`, start.Format(time.RFC3339)))
		tx := int(res["transactionId"].(float64))
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":500000,"timestamp":%q}`, tx, start.Add(time.Hour).Format(time.RFC3339)))
		sess, _ := w.store.SessionByTransaction(context.Background(), w.tenant.ID, w.station.ID, int64(tx))
		if len(sess.Flags) == 0 || sess.Flags[0] != evbill.FlagImplausibleEnergy {
			t.Errorf("flags %v, want implausible_energy", sess.Flags)
		}
		if _, err := w.store.CDRBySession(context.Background(), w.tenant.ID, sess.ID); evbill.ErrorCode(err) != evbill.ENOTFOUND {
			t.Errorf("an implausible session was billed: %v", err)
		}
	})
}

func TestAuthRefusals(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		for _, tc := range []struct{ cp, pw string }{{"CP-1", "wrong password here"}, {"CP-404", password}} {
			if _, err := dial(t, w.url, tc.cp, tc.pw); err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("%s/%s: %v, want a 401 refusal", tc.cp, tc.pw, err)
			}
		}
	})
}

// TestRebootThenStopWins: a BootNotification flags the open session; the
// StopTransaction the charger then sends from its queue ends it as usual.
func TestRebootThenStopWins(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":0,"timestamp":%q}`, start.Format(time.RFC3339)))["transactionId"].(float64))
		ch.call("BootNotification", `{"chargePointVendor":"Alfen","chargePointModel":"Eve"}`)
		sess, _ := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if sess.State == evbill.SessionEnded || len(sess.Flags) != 1 || sess.Flags[0] != evbill.FlagEndedByReboot {
			t.Fatalf("after the reboot: %+v", sess)
		}
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":5000,"timestamp":%q,"reason":"PowerLoss"}`, tx, start.Add(time.Hour).Format(time.RFC3339)))
		sess, _ = w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if sess.State != evbill.SessionEnded || sess.StopReason != "PowerLoss" || sess.MeterStopWh != "5000" || len(sess.Flags) != 0 {
			t.Fatalf("the charger's stop should win: %+v", sess)
		}
		if _, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID); err != nil {
			t.Errorf("no CDR: %v", err)
		}
	})
}

// TestRebootThenNewStart: after a reboot the charger starts a new
// transaction on the connector without stopping the old one, which is
// then ended at its last reading and priced.
func TestRebootThenNewStart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`, start.Format(time.RFC3339)))["transactionId"].(float64))
		ch.call("MeterValues", meterValues(tx, start.Add(30*time.Minute), 6500, 11000))
		ch.call("BootNotification", `{"chargePointVendor":"Alfen","chargePointModel":"Eve"}`)
		next := start.Add(time.Hour)
		tx2 := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":6500,"timestamp":%q}`, next.Format(time.RFC3339)))["transactionId"].(float64))
		if tx2 == tx {
			t.Fatal("a new start got the old transaction id")
		}
		old, _ := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if old.State != evbill.SessionEnded || old.StopReason != "Reboot" || old.MeterStopWh != "6500" || !old.StoppedAt.Equal(start.Add(30*time.Minute)) {
			t.Fatalf("the interrupted session: %+v", old)
		}
		if c, err := w.store.CDRBySession(ctx, w.tenant.ID, old.ID); err != nil || c.AmountMinor <= 0 {
			t.Errorf("the interrupted session was not priced: %+v, %v", c, err)
		}
		cur, _ := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx2))
		if cur.State == evbill.SessionEnded {
			t.Errorf("the new session ended: %+v", cur)
		}
	})
}

// TestSweepEndsAbandonedRebootedSession: a charger rebooted mid-session
// and never sent the StopTransaction nor started anew; once the grace has
// passed the sweep ends the session at its last reading, priced, and a
// StopTransaction arriving later still is answered and changes nothing.
func TestSweepEndsAbandonedRebootedSession(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`, start.Format(time.RFC3339)))["transactionId"].(float64))
		ch.call("MeterValues", meterValues(tx, start.Add(30*time.Minute), 6500, 11000))
		ch.call("BootNotification", `{"chargePointVendor":"Alfen","chargePointModel":"Eve"}`)

		if n, err := w.svc.SweepRebooted(ctx, time.Hour); err != nil || n != 0 {
			t.Fatalf("a sweep within the grace ended %d sessions, %v", n, err)
		}
		// The clock a day ahead: the flag is older than the grace, and so
		// is the last reading.
		w.setClock(start.Add(24 * time.Hour))
		if n, err := w.svc.SweepRebooted(ctx, time.Hour); err != nil || n != 1 {
			t.Fatalf("the sweep after the grace ended %d sessions, %v; want 1", n, err)
		}
		sess, _ := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if sess.State != evbill.SessionEnded || sess.StopReason != "Reboot" || sess.MeterStopWh != "6500" || !sess.StoppedAt.Equal(start.Add(30*time.Minute)) {
			t.Fatalf("the abandoned session: %+v", sess)
		}
		record, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil || record.AmountMinor <= 0 {
			t.Fatalf("the abandoned session was not priced: %+v, %v", record, err)
		}
		if n, err := w.svc.SweepRebooted(ctx, time.Hour); err != nil || n != 0 {
			t.Errorf("a second sweep ended %d sessions, %v", n, err)
		}
		// The connection still knows the transaction; its late readings
		// are answered and dropped, not stored in the sealed session.
		ch.call("MeterValues", meterValues(tx, start.Add(40*time.Minute), 6600, 11000))
		if samples, _ := w.store.Samples(ctx, w.tenant.ID, sess.ID); len(samples) != 1 {
			t.Errorf("the sealed session has %d samples, want 1", len(samples))
		}
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":7000,"timestamp":%q}`, tx, start.Add(time.Hour).Format(time.RFC3339)))
		again, _ := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if again.MeterStopWh != "6500" {
			t.Errorf("a late stop changed the sealed session: %+v", again)
		}
		if c, _ := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID); c.ID != record.ID || c.AmountMinor != record.AmountMinor {
			t.Errorf("a late stop changed the CDR: %+v, was %+v", c, record)
		}
	})
}

// TestSweepKeepsResumedSession: the charger kept the transaction through
// its reboot and still reports readings for it; the sweep clears the flag
// rather than ending a live session.
func TestSweepKeepsResumedSession(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`, start.Format(time.RFC3339)))["transactionId"].(float64))
		ch.call("BootNotification", `{"chargePointVendor":"Alfen","chargePointModel":"Eve"}`)
		ch.call("MeterValues", meterValues(tx, start.Add(3*time.Hour), 9000, 11000))
		// Two hours later still: the flag is older than the grace, the
		// reading is not.
		w.setClock(start.Add(3*time.Hour + 30*time.Minute))
		if n, err := w.svc.SweepRebooted(ctx, time.Hour); err != nil || n != 0 {
			t.Fatalf("the sweep ended %d sessions, %v; want none", n, err)
		}
		sess, _ := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if sess.State == evbill.SessionEnded || len(sess.Flags) != 0 {
			t.Fatalf("a resumed session: %+v; want open, unflagged", sess)
		}
	})
}

// TestBadFramesAreAnswered: schema violations through the real server and
// service get the right CALLERROR, and the connection goes on working.
func TestBadFramesAreAnswered(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ frame, code string }{
			{`[2,"b1","StartTransaction",{"connectorId":1,"idTag":"TAG1","timestamp":"2027-03-12T17:15:00Z"}]`, "OccurenceConstraintViolation"},
			{`[2,"b2","StartTransaction",{"connectorId":"1","idTag":"TAG1","meterStart":0,"timestamp":"2027-03-12T17:15:00Z"}]`, "TypeConstraintViolation"},
			{`[2,"b3","StartTransaction",{"connectorId":1,"idTag":"TAG1-MUCH-TOO-LONG-FOR-AN-ID-TAG","meterStart":0,"timestamp":"2027-03-12T17:15:00Z"}]`, "PropertyConstraintViolation"},
			{`[2,"b4","MeterValues",{"connectorId":1,"meterValue":[],"extra":1}]`, "FormationViolation"},
			{`[2,"b5","FlyToTheMoon",{}]`, "NotImplemented"},
			{`[2,"b6","Heartbeat"`, "FormationViolation"},
		} {
			if got := ch.raw(tc.frame); len(got) < 3 || string(got[0]) != "4" || string(got[2]) != strconv.Quote(tc.code) {
				t.Errorf("%s: answered %s, want a %s CALLERROR", tc.frame, got, tc.code)
			}
		}
		if got := ch.call("Heartbeat", `{}`); got["currentTime"] == nil {
			t.Errorf("the connection stopped working after bad frames: %v", got)
		}
		sessions, _ := w.store.ListSessions(context.Background(), w.tenant.ID, evbill.Page{})
		if len(sessions) != 0 {
			t.Errorf("bad frames stored sessions: %+v", sessions)
		}
	})
}

// TestAutoRegister: off by default; when one tenant takes unknown
// chargers, a new charger registers itself with its password into the
// tenant's site, and from then on must present that password.
func TestAutoRegister(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		const newPassword = "a new charger's password"
		if _, err := dial(t, w.url, "CP-NEW", newPassword); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("an unknown charger with auto-registration off: %v, want 401", err)
		}
		if err := w.store.SetAutoRegisterSite(ctx, w.tenant.ID, w.station.SiteID); err != nil {
			t.Fatal(err)
		}
		if _, err := dial(t, w.url, "CP-SHORT", "short"); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("an unknown charger with a short password: %v, want 401", err)
		}
		ch, err := dial(t, w.url, "CP-NEW", newPassword)
		if err != nil {
			t.Fatalf("an unknown charger with auto-registration on: %v", err)
		}
		ch.call("BootNotification", `{"chargePointVendor":"Alfen","chargePointModel":"Eve"}`)
		stations, err := w.store.StationsByChargePointID(ctx, "CP-NEW")
		if err != nil || len(stations) != 1 || stations[0].TenantID != w.tenant.ID || stations[0].SiteID != w.station.SiteID || !stations[0].HasPassword {
			t.Fatalf("registered station: %+v, %v", stations, err)
		}
		if _, err := dial(t, w.url, "CP-NEW", "somebody else's password"); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("a registered charger with another password: %v, want 401", err)
		}
		if _, err := dial(t, w.url, "CP-NEW", newPassword); err != nil {
			t.Errorf("the registered charger again: %v", err)
		}
		// A second tenant taking unknown chargers makes the owner ambiguous.
		other := evbill.Tenant{Name: "other"}
		site := evbill.Site{Name: "Depot", Country: "NL", TimeZone: "Europe/Amsterdam"}
		if err := w.store.CreateTenant(ctx, &other); err != nil {
			t.Fatal(err)
		}
		site.TenantID = other.ID
		if err := w.store.CreateSite(ctx, &site); err != nil {
			t.Fatal(err)
		}
		if err := w.store.SetAutoRegisterSite(ctx, other.ID, site.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := dial(t, w.url, "CP-NEWER", newPassword); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("an unknown charger with two tenants taking them: %v, want 401", err)
		}
		if st, _ := w.store.StationsByChargePointID(ctx, "CP-NEWER"); len(st) != 0 {
			t.Errorf("an ambiguous charger was registered: %+v", st)
		}
	})
}

// TestPasswordChangeBeatsRememberedLogin: a charger's successful login is
// remembered to spare the slow hash on reconnects, but a new password
// takes effect at once.
func TestPasswordChangeBeatsRememberedLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		if _, err := dial(t, w.url, "CP-1", password); err != nil {
			t.Fatal(err)
		}
		if _, err := dial(t, w.url, "CP-1", password); err != nil {
			t.Fatalf("a remembered login: %v", err)
		}
		hash, err := auth.HashPassword("a brand new password")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.store.SetStationPassword(context.Background(), w.tenant.ID, w.station.ID, hash); err != nil {
			t.Fatal(err)
		}
		if _, err := dial(t, w.url, "CP-1", password); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("the old password after a change: %v, want 401", err)
		}
		if _, err := dial(t, w.url, "CP-1", "a brand new password"); err != nil {
			t.Errorf("the new password: %v", err)
		}
	})
}

// TestSweepSkipsWhatItCannotEnd: a flagged session whose records keep it
// from being priced (its site's time zone is not a zone) is logged and
// left; the flagged sessions behind it are still ended.
func TestSweepSkipsWhatItCannotEnd(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		bad := evbill.Site{TenantID: w.tenant.ID, Name: "Nowhere", Country: "NL", TimeZone: "Mars/Olympus"}
		must(w.store.CreateSite(ctx, &bad))
		badStation := evbill.Station{TenantID: w.tenant.ID, SiteID: bad.ID, ChargePointID: "CP-BAD"}
		must(w.store.CreateStation(ctx, &badStation))
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		flagged := func(stationID string) evbill.Session {
			sess := evbill.Session{TenantID: w.tenant.ID, StationID: stationID, ConnectorNumber: 1, IDTag: "TAG1",
				TariffID: w.tariff.TariffID, TariffVersion: w.tariff.Version, MeterStartWh: "1000", StartedAt: start, State: evbill.SessionActive}
			if _, err := w.store.StartSession(ctx, &sess); err != nil {
				t.Fatal(err)
			}
			sess.Flags = []string{evbill.FlagEndedByReboot}
			must(w.store.UpdateSession(ctx, &sess))
			return sess
		}
		stuck := flagged(badStation.ID) // older: first in the sweep's order
		time.Sleep(2 * time.Millisecond)
		good := flagged(w.station.ID)
		w.setClock(start.Add(24 * time.Hour))
		if n, err := w.svc.SweepRebooted(ctx, time.Hour); err != nil || n != 1 {
			t.Fatalf("sweep ended %d sessions, %v; want 1", n, err)
		}
		if got, _ := w.store.Session(ctx, w.tenant.ID, good.ID); got.State != evbill.SessionEnded {
			t.Errorf("the session behind the stuck one was not ended: %+v", got)
		}
		if got, _ := w.store.Session(ctx, w.tenant.ID, stuck.ID); got.State == evbill.SessionEnded {
			t.Errorf("a session that cannot be priced was ended: %+v", got)
		}
	})
}
