package charging_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/storetest"
)

// displayMode is how a test charger answers the central system's
// DataTransfers.
type displayMode int

const (
	displayAccepts  displayMode = iota // Accepted
	displayRefuses                     // a CALLERROR: the charger knows no such thing
	displayIgnores                     // never answers
	displayDisabled                    // the station is not flagged; answered Accepted
)

func (m displayMode) String() string {
	return [...]string{"accepts", "refuses", "ignores", "disabled"}[m]
}

// shownMsg is one California Pricing message a charger received: its
// messageId and its data's fields, each as the JSON it was sent as.
type shownMsg struct {
	id   string
	data map[string]json.RawMessage
	err  string // what is wrong with it, if anything
}

// dialDisplay connects a test charger whose display answers as mode says
// and reports every DataTransfer on the returned channel, after checking
// it against the OCPP 1.6 DataTransfer schema. Other CALLs of the central
// system are answered Accepted.
func dialDisplay(t *testing.T, url string, mode displayMode) (*charger, <-chan shownMsg) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("CP-1:"+password)))
	c, _, err := websocket.Dial(ctx, url+"CP-1", &websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	ch := &charger{t: t, c: c, res: make(chan []json.RawMessage, 8)}
	shown := make(chan shownMsg, 64)
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
			if string(f[0]) != "2" {
				ch.res <- f
				continue
			}
			var action string
			_ = json.Unmarshal(f[2], &action)
			answer := fmt.Sprintf(`[3,%s,{"status":"Accepted"}]`, f[1])
			if action == ocpp.ActionDataTransfer && len(f) > 3 {
				shown <- checkCostMessage(f[3])
				switch mode {
				case displayRefuses:
					answer = fmt.Sprintf(`[4,%s,"NotSupported","no display here",{}]`, f[1])
				case displayIgnores:
					continue
				}
			}
			_ = c.Write(context.Background(), websocket.MessageText, []byte(answer))
		}
	}()
	return ch, shown
}

// checkCostMessage checks a DataTransfer the central system sent: valid
// under the OCPP 1.6 schema, of the California Pricing vendor, with data a
// JSON object. What is wrong is kept in the message, for the test's own
// goroutine to report.
func checkCostMessage(payload json.RawMessage) shownMsg {
	var m shownMsg
	if cerr := ocpp.ValidateRequest(ocpp.ActionDataTransfer, payload); cerr != nil {
		m.err = fmt.Sprintf("the DataTransfer breaks the OCPP 1.6 schema: %v: %s", cerr, payload)
		return m
	}
	var req ocpp.DataTransferReq
	if err := json.Unmarshal(payload, &req); err != nil || req.VendorId != ocpp.CostMsgVendorID {
		m.err = fmt.Sprintf("DataTransfer %s: %v", payload, err)
		return m
	}
	m.id = req.MessageId
	if err := json.Unmarshal([]byte(req.Data), &m.data); err != nil {
		m.err = fmt.Sprintf("%s: data is not a JSON object: %v: %s", req.MessageId, err, req.Data)
	}
	return m
}

// String writes the message as it was sent, for failures.
func (m shownMsg) String() string {
	b, _ := json.Marshal(m.data)
	return m.id + " " + string(b)
}

// next returns the next message the charger's display received.
func next(t *testing.T, shown <-chan shownMsg) shownMsg {
	t.Helper()
	select {
	case m := <-shown:
		if m.err != "" {
			t.Fatal(m.err)
		}
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("the charger's display received nothing")
	}
	return shownMsg{}
}

// none checks that the display receives nothing more for a while.
func none(t *testing.T, shown <-chan shownMsg) {
	t.Helper()
	select {
	case m := <-shown:
		t.Errorf("the display received %s", m)
	case <-time.After(300 * time.Millisecond):
	}
}

// fields checks that m is a messageId message with exactly the keys
// required and some of optional, and returns its data.
func (m shownMsg) fields(t *testing.T, id string, required []string, optional ...string) map[string]json.RawMessage {
	t.Helper()
	if m.id != id {
		t.Fatalf("got %s, want %s", m, id)
	}
	for _, k := range required {
		if _, ok := m.data[k]; !ok {
			t.Errorf("%s lacks %s", m, k)
		}
	}
	for k := range m.data {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			t.Errorf("%s has an unexpected field %s", id, k)
		}
	}
	return m.data
}

// num returns a JSON number's text, failing on anything else (a string
// holding a number included).
func num(t *testing.T, what string, raw json.RawMessage) string {
	t.Helper()
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%s = %s, want a JSON number", what, raw)
	}
	return n.String()
}

func str(t *testing.T, what string, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s = %s, want a string", what, raw)
	}
	return s
}

// The example tariff's English text, which SetUserPrice shows.
const exampleText = "€0.35 start fee. Energy €0.45/kWh and €0.60/h from 07:00 to 19:00, €0.32/kWh and €0.30/h otherwise. " +
	"Idle fee €6/h per 5 minutes from 08:00 to 20:00 once charging has finished. Prices excl. 21% VAT."

var runningCostFields = []string{"transactionId", "timestamp", "meterValue", "cost", "state", "chargingPrice"}

// TestChargerDisplay drives a session at a flagged station over a real
// WebSocket: the driver's price after Authorize, the running cost after
// readings (equal to the live cost, throttled: a small move within a
// minute is not sent, a move of 0.10 or a minute later is), idle once
// parking, and the CDR's total after the stop; nothing after it.
func TestChargerDisplay(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		w.station.CostDisplay = true
		if err := w.store.UpdateStation(ctx, &w.station); err != nil {
			t.Fatal(err)
		}
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC) // Friday 18:15 in Amsterdam: day rates, idle fee
		clock := start
		w.setClock(clock)
		ch, shown := dialDisplay(t, w.url, displayAccepts)

		if got := ch.call("Authorize", `{"idTag":"TAG1"}`); got["idTagInfo"].(map[string]any)["status"] != "Accepted" {
			t.Fatalf("authorize: %v", got)
		}
		up := next(t, shown).fields(t, ocpp.CostMsgSetUserPrice, []string{"idToken", "priceText"})
		if str(t, "idToken", up["idToken"]) != "TAG1" || str(t, "priceText", up["priceText"]) != exampleText {
			t.Errorf("SetUserPrice %v", up)
		}
		tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`,
			start.Format(time.RFC3339)))["transactionId"].(float64))
		sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
		if err != nil {
			t.Fatal(err)
		}
		// running checks a RunningCost against the session's live view
		// at that moment, the figures the API shows.
		running := func(wantMeter string, wantState string) map[string]json.RawMessage {
			t.Helper()
			rc := next(t, shown).fields(t, ocpp.CostMsgRunningCost, runningCostFields, "idlePrice")
			live, err := w.svc.Live(ctx, w.tenant.ID, sess.ID)
			if err != nil || live.Result == nil {
				t.Fatalf("live: %+v, %v", live, err)
			}
			if got, want := num(t, "cost", rc["cost"]), live.Result.Charge.Decimal().String(); got != want {
				t.Errorf("RunningCost cost %s, the live cost %s", got, want)
			}
			if num(t, "transactionId", rc["transactionId"]) != fmt.Sprint(tx) || num(t, "meterValue", rc["meterValue"]) != wantMeter ||
				str(t, "state", rc["state"]) != wantState {
				t.Errorf("RunningCost %v, want transaction %d, meter %s, state %s", rc, tx, wantMeter, wantState)
			}
			if at, err := time.Parse(time.RFC3339, str(t, "timestamp", rc["timestamp"])); err != nil || !at.Equal(live.AsOf) {
				t.Errorf("RunningCost timestamp %s, the last reading %s", rc["timestamp"], live.AsOf)
			}
			return rc
		}

		ch.call("MeterValues", meterValues(tx, start.Add(45*time.Minute), 9250, 11000))
		rc := running("9250", "Charging")
		// Day rates with 21 % VAT: 0.45/kWh, 0.60/h, 0.35 per session.
		if got := string(rc["chargingPrice"]); got != `{"kWhPrice":0.5445,"hourPrice":0.726,"flatFee":0.4235}` {
			t.Errorf("chargingPrice %s", got)
		}
		// A minute later by the charger's clock, not by the central
		// system's, and the cost moved by less than 0.10: not sent. The
		// next message is the one after it.
		ch.call("MeterValues", meterValues(tx, start.Add(46*time.Minute), 9300, 11000))
		// 0.25 kWh more moves the cost by 0.13: sent at once.
		ch.call("MeterValues", meterValues(tx, start.Add(47*time.Minute), 9550, 11000))
		running("9550", "Charging")
		// A minute later by the central system's clock: sent, whatever
		// the move.
		clock = clock.Add(61 * time.Second)
		w.setClock(clock)
		ch.call("MeterValues", meterValues(tx, start.Add(48*time.Minute), 9560, 11000))
		running("9560", "Charging")

		// The car is full and stays: idle, at the idle fee.
		ch.call("StatusNotification", fmt.Sprintf(`{"connectorId":1,"errorCode":"NoError","status":"SuspendedEV","timestamp":%q}`,
			start.Add(50*time.Minute).Format(time.RFC3339)))
		clock = clock.Add(61 * time.Second)
		w.setClock(clock)
		ch.call("MeterValues", meterValues(tx, start.Add(55*time.Minute), 9560, 0))
		rc = running("9560", "Idle")
		if got := string(rc["idlePrice"]); got != `{"hourPrice":7.26}` {
			t.Errorf("idlePrice %s", got)
		}

		stop := start.Add(time.Hour)
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":9560,"timestamp":%q,"reason":"EVDisconnected"}`,
			tx, stop.Format(time.RFC3339)))
		record, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		amount := money.Amount{Minor: record.AmountMinor, Currency: money.MustCurrency(record.Currency)}.Decimal().String()
		fc := next(t, shown).fields(t, ocpp.CostMsgFinalCost, []string{"transactionId", "cost", "priceText"})
		if got := num(t, "cost", fc["cost"]); got != amount {
			t.Errorf("FinalCost cost %s, the CDR's total %s", got, amount)
		}
		if num(t, "transactionId", fc["transactionId"]) != fmt.Sprint(tx) {
			t.Errorf("FinalCost transactionId %s, want %d", fc["transactionId"], tx)
		}
		if got, want := str(t, "priceText", fc["priceText"]), "Total EUR "+amount+" incl. VAT for 8.56 kWh in 1 h 0 min."; got != want {
			t.Errorf("FinalCost priceText %q, want %q", got, want)
		}
		none(t, shown)

		// A refused idTag is shown no price.
		if got := ch.call("Authorize", `{"idTag":"NOBODY"}`); got["idTagInfo"].(map[string]any)["status"] != "Invalid" {
			t.Fatalf("authorize an unknown tag: %v", got)
		}
		none(t, shown)
	})
}

// TestChargerDisplayNeverAffectsBilling: the same session at a station
// that is not flagged (the display gets nothing), at one whose charger
// accepts the messages, refuses them with a CALLERROR, or never answers
// them, is answered and billed exactly alike.
func TestChargerDisplayNeverAffectsBilling(t *testing.T) {
	type outcome struct {
		amount     int64
		excl, incl string
		state      string
		flags      []string
	}
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			var first *outcome
			for _, mode := range []displayMode{displayDisabled, displayAccepts, displayRefuses, displayIgnores} {
				t.Run(mode.String(), func(t *testing.T) {
					w := newWorld(t, e.Open(t))
					ctx := context.Background()
					if mode != displayDisabled {
						w.station.CostDisplay = true
						if err := w.store.UpdateStation(ctx, &w.station); err != nil {
							t.Fatal(err)
						}
					}
					ch, shown := dialDisplay(t, w.url, mode)
					start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
					ch.call("Authorize", `{"idTag":"TAG1"}`)
					tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`,
						start.Format(time.RFC3339)))["transactionId"].(float64))
					for i, wh := range []int{4000, 7000, 9250} {
						ch.call("MeterValues", meterValues(tx, start.Add(time.Duration(15*(i+1))*time.Minute), wh, 11000))
					}
					ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":9250,"timestamp":%q,"reason":"EVDisconnected"}`,
						tx, start.Add(time.Hour).Format(time.RFC3339)))
					sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
					if err != nil {
						t.Fatal(err)
					}
					record, err := w.store.CDRBySession(ctx, w.tenant.ID, sess.ID)
					if err != nil {
						t.Fatalf("no CDR: %v", err)
					}
					got := outcome{record.AmountMinor, record.TotalExclVAT, record.TotalInclVAT, sess.State, sess.Flags}
					if first == nil {
						first = &got
					} else if fmt.Sprint(got) != fmt.Sprint(*first) {
						t.Errorf("billed %+v, without the display %+v", got, *first)
					}

					switch mode {
					case displayDisabled:
						none(t, shown)
					case displayIgnores:
						// The price was sent and never answered; the
						// session went on regardless.
						next(t, shown).fields(t, ocpp.CostMsgSetUserPrice, []string{"idToken", "priceText"})
					default:
						// A charger that refuses the first message still
						// gets the others: the display is best effort.
						next(t, shown).fields(t, ocpp.CostMsgSetUserPrice, []string{"idToken", "priceText"})
						// RunningCost is sent after the readings' answer and
						// FinalCost after the stop's, each on its own: when
						// the stop follows at once, FinalCost may come first.
						var last shownMsg
						running := false
						for last.id != ocpp.CostMsgFinalCost || !running {
							switch m := next(t, shown); m.id {
							case ocpp.CostMsgRunningCost:
								m.fields(t, ocpp.CostMsgRunningCost, runningCostFields, "idlePrice")
								running = true
							case ocpp.CostMsgFinalCost:
								last = m
							}
						}
						fc := last.fields(t, ocpp.CostMsgFinalCost, []string{"transactionId", "cost", "priceText"})
						want := money.Amount{Minor: record.AmountMinor, Currency: money.MustCurrency(record.Currency)}.Decimal().String()
						if got := num(t, "cost", fc["cost"]); got != want {
							t.Errorf("FinalCost %s, the CDR %s", got, want)
						}
					}
				})
			}
		})
	}
}

// TestChargerDisplayUnflagged: a station that did not ask for the display
// gets none of its messages.
func TestChargerDisplayUnflagged(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ch, shown := dialDisplay(t, w.url, displayAccepts)
		ch.call("Authorize", `{"idTag":"TAG1"}`)
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
		tx := int(ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":"TAG1","meterStart":1000,"timestamp":%q}`,
			start.Format(time.RFC3339)))["transactionId"].(float64))
		ch.call("MeterValues", meterValues(tx, start.Add(30*time.Minute), 6000, 11000))
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":6000,"timestamp":%q}`, tx, start.Add(time.Hour).Format(time.RFC3339)))
		none(t, shown)
	})
}
