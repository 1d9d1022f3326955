package charging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/storetest"
)

// eventsOf returns the outbox events of type typ.
func eventsOf(t *testing.T, w *world, typ string) []evbill.Event {
	t.Helper()
	all, err := w.store.PendingEvents(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []evbill.Event
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// startAt starts a session of idTag on CP-1's connector 1 at start with
// the register at 1000 Wh and returns its transaction and session IDs.
func startAt(t *testing.T, w *world, ch *charger, idTag string, start time.Time) (int, string) {
	t.Helper()
	got := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":%q,"meterStart":1000,"timestamp":%q}`, idTag, start.Format(time.RFC3339)))
	tx := int(got["transactionId"].(float64))
	sess, err := w.store.SessionByTransaction(context.Background(), w.tenant.ID, w.station.ID, int64(tx))
	if err != nil {
		t.Fatal(err)
	}
	return tx, sess.ID
}

// TestSessionUpdated: session.updated goes out with the readings that
// change the cost by 0.10, come 30 s after the last update's or add 0.5
// kWh, in the transaction that stores them; a retransmission announces
// nothing; the throttle survives a reconnect, since the mark is stored;
// each payload is the session's live view at that reading.
func TestSessionUpdated(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ch, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC) // 18:15 in Amsterdam: the day's prices
		tx, sessionID := startAt(t, w, ch, "TAG1", start)
		steps := []struct {
			after   time.Duration
			wh      int
			updates int // session.updated events in the outbox after the reading
			why     string
		}{
			{10 * time.Second, 1010, 1, "the first priced cost carries the 0.35 start fee: more than 0.10"},
			{20 * time.Second, 1070, 1, "10 s and 60 Wh later: a few cents"},
			{20 * time.Second, 1070, 1, "a retransmission"},
			{45 * time.Second, 1150, 2, "35 s after the last update"},
			{50 * time.Second, 1700, 3, "550 Wh more than the last update"},
			{30 * time.Second, 1100, 3, "a late reading, before the last one stored"},
		}
		var live charging.Live
		for i, st := range steps {
			ch.call("MeterValues", meterValues(tx, start.Add(st.after), st.wh, 11000))
			if got := len(eventsOf(t, w, evbill.EventSessionUpdated)); got != st.updates {
				t.Fatalf("step %d (%s): %d session.updated, want %d", i, st.why, got, st.updates)
			}
			if i == 4 {
				if live, err = w.svc.Live(ctx, w.tenant.ID, sessionID); err != nil {
					t.Fatal(err)
				}
			}
		}
		updates := eventsOf(t, w, evbill.EventSessionUpdated)
		var last evbill.SessionUpdateData
		if err := json.Unmarshal(updates[2].Payload, &last); err != nil {
			t.Fatal(err)
		}
		if last.ID != sessionID || last.EnergyKWh != "0.7" || !last.AsOf.Equal(start.Add(50*time.Second)) || last.DurationSeconds != 50 ||
			last.State != evbill.SessionActive || last.PowerKW == nil || *last.PowerKW != "11" {
			t.Errorf("the third update: %s", updates[2].Payload)
		}
		if last.Cost == nil || last.Cost.Currency != "EUR" || last.Cost.Amount != live.Result.Charge.Decimal().String() || last.Cost.Final {
			t.Errorf("the third update's cost %+v; the live view's %s", last.Cost, live.Result.Charge)
		}
		mark, err := w.store.SessionMark(ctx, w.tenant.ID, sessionID)
		if err != nil || !mark.UpdatedAsOf.Equal(start.Add(50*time.Second)) || mark.EnergyWh != "1700" || mark.Charge != live.Result.Charge.Minor {
			t.Errorf("stored mark %+v, %v", mark, err)
		}

		// A new connection, as after a network drop: 5 s and 5 Wh after the
		// last update is not worth one, whatever this connection knows.
		ch2, err := dial(t, w.url, "CP-1", password)
		if err != nil {
			t.Fatal(err)
		}
		ch2.call("MeterValues", meterValues(tx, start.Add(55*time.Second), 1705, 11000))
		if got := len(eventsOf(t, w, evbill.EventSessionUpdated)); got != 3 {
			t.Errorf("after a reconnect: %d session.updated, want 3", got)
		}
		ch2.call("MeterValues", meterValues(tx, start.Add(81*time.Second), 1710, 11000))
		if got := len(eventsOf(t, w, evbill.EventSessionUpdated)); got != 4 {
			t.Errorf("31 s after the last update: %d session.updated, want 4", got)
		}
		// A meter running backwards is stored and answered (the session is
		// flagged when it ends), but no cost can be told until it ends.
		ch2.call("MeterValues", meterValues(tx, start.Add(90*time.Second), 900, 11000))
		ch2.call("MeterValues", meterValues(tx, start.Add(120*time.Second), 1720, 11000))
		updates = eventsOf(t, w, evbill.EventSessionUpdated)
		if len(updates) != 5 {
			t.Fatalf("after a meter ran backwards: %d session.updated, want 5", len(updates))
		}
		var unpriced evbill.SessionUpdateData
		if err := json.Unmarshal(updates[4].Payload, &unpriced); err != nil || unpriced.Cost != nil || unpriced.EnergyKWh != "0.72" {
			t.Errorf("the update after a backwards meter: %s, %v", updates[4].Payload, err)
		}
	})
}

// TestHoldNearlyExhausted: once the running cost reaches eight tenths of
// the card hold, hold.nearly_exhausted goes out, once, with the readings
// that got it there; the charger is not stopped before nine tenths.
func TestHoldNearlyExhausted(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			w := newWorld(t, e.Open(t), func(c *charging.Config) { c.CardHold = 1000 }) // EUR 10.00
			ps := cardDriver(t, w, "CARD1")
			ch, err := dial(t, w.url, "CP-1", password)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Date(2027, 3, 12, 17, 15, 0, 0, time.UTC)
			tx, sessionID := startAt(t, w, ch, "CARD1", start)
			ch.call("MeterValues", meterValues(tx, start.Add(10*time.Minute), 5000, 22000))
			if got := eventsOf(t, w, evbill.EventHoldNearlyExhausted); len(got) != 0 {
				t.Fatalf("hold.nearly_exhausted at a running cost far below the hold: %s", got[0].Payload)
			}
			// 0.35 + 14 kWh × 0.45 + 0.5 h × 0.60, plus 21 % VAT: 8.41.
			ch.call("MeterValues", meterValues(tx, start.Add(30*time.Minute), 15000, 22000))
			ch.call("MeterValues", meterValues(tx, start.Add(31*time.Minute), 15100, 22000))
			got := eventsOf(t, w, evbill.EventHoldNearlyExhausted)
			if len(got) != 1 {
				t.Fatalf("%d hold.nearly_exhausted, want 1", len(got))
			}
			var data evbill.HoldEventData
			if err := json.Unmarshal(got[0].Payload, &data); err != nil {
				t.Fatal(err)
			}
			p, err := ps.PaymentBySession(context.Background(), w.tenant.ID, sessionID)
			if err != nil {
				t.Fatal(err)
			}
			if data.SessionID != sessionID || data.PaymentID != p.ID || data.HoldAmount != 1000 || data.RunningCost != 841 ||
				data.Currency != "EUR" || !data.AsOf.Equal(start.Add(30*time.Minute)) {
				t.Errorf("payload %s", got[0].Payload)
			}
			select {
			case call := <-ch.got:
				t.Errorf("the central system sent %s below nine tenths of the hold", call[0])
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

// TestUpdatesFollowTheCost drives sessions of random readings, pauses
// (a flat register at no power, and SuspendedEV statuses) and resumes
// through the central system, and checks after every reading what the
// watch's shortcuts must never break: the stored mark is within 0.10 of
// the running cost the engine gives for everything stored, and the hold
// warning went out exactly when the cost first reached eight tenths.
func TestUpdatesFollowTheCost(t *testing.T) {
	example, err := os.ReadFile("../examples/tariff.json")
	if err != nil {
		t.Fatal(err)
	}
	// Under the example, idle time costs more than charging time; under
	// this one, less: a car that draws again after a pause turns the pause
	// into dearer charging time, readings already priced included.
	timeHeavy := []byte(`{"country_code":"NL","party_id":"EVB","id":"TIME-HEAVY","currency":"EUR","elements":[` +
		`{"price_components":[{"type":"TIME","price":12.00,"vat":21.0,"step_size":60},{"type":"ENERGY","price":0.05,"step_size":1}]},` +
		`{"price_components":[{"type":"PARKING_TIME","price":0.50,"vat":21.0,"step_size":60}]}],"last_updated":"2025-01-01T00:00:00Z"}`)
	for _, doc := range [][]byte{example, timeHeavy} {
		for _, e := range storetest.Engines(t) {
			t.Run(e.Name, func(t *testing.T) {
				followTheCost(t, newWorldWithTariff(t, e.Open(t), doc, func(c *charging.Config) { c.CardHold = 3000 }))
			})
		}
	}
}

// followTheCost drives the sessions of TestUpdatesFollowTheCost in w.
func followTheCost(t *testing.T, w *world) {
	ctx := context.Background()
	cardDriver(t, w, "CARD1")
	ch, err := dial(t, w.url, "CP-1", password)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	// 06:50 in Amsterdam: the session crosses into the day's prices
	// and the idle fee's hours. Readings come every few seconds, so
	// that the ceiling spares most of them a pricing, and a status may
	// date parking back ten minutes, past readings already priced.
	start := time.Date(2027, 3, 12, 5, 50, 0, 0, time.UTC)
	for session := range 3 {
		start = start.Add(time.Duration(session) * 24 * time.Hour)
		tx, sessionID := startAt(t, w, ch, "CARD1", start)
		at, wh, drawing := start, 1000, true
		maxCharge := int64(0)
		for i := range 400 {
			gap := 1 + rng.IntN(20)
			at = at.Add(time.Duration(gap) * time.Second)
			switch r := rng.IntN(40); {
			case r == 0 && drawing:
				drawing = false
				ch.call("StatusNotification", fmt.Sprintf(`{"connectorId":1,"errorCode":"NoError","status":"SuspendedEV","timestamp":%q}`, at.Add(-time.Duration(rng.IntN(600))*time.Second).Format(time.RFC3339)))
			case r <= 3 && !drawing:
				drawing = true
				ch.call("StatusNotification", fmt.Sprintf(`{"connectorId":1,"errorCode":"NoError","status":"Charging","timestamp":%q}`, at.Format(time.RFC3339)))
			case r == 4:
				drawing = !drawing // the meter shows it, the charger says nothing
			}
			power := 0
			if drawing {
				power = 3000 + rng.IntN(20000)
				wh += power * gap / 3600
			}
			ch.call("MeterValues", meterValues(tx, at, wh, power))
			live, err := w.svc.Live(ctx, w.tenant.ID, sessionID)
			if err != nil || live.Result == nil {
				t.Fatalf("session %d reading %d: live %v, %v", session, i, live.Result, err)
			}
			mark, err := w.store.SessionMark(ctx, w.tenant.ID, sessionID)
			if err != nil {
				t.Fatal(err)
			}
			charge := live.Result.Charge.Minor
			if charge-mark.Charge >= 10 {
				t.Fatalf("session %d reading %d at %v: running cost %d, last update told %d", session, i, at, charge, mark.Charge)
			}
			maxCharge = max(maxCharge, charge)
			if mark.HoldWarned != (maxCharge*10 >= 3000*charging.HoldWarnShare) {
				t.Fatalf("session %d reading %d: hold warned %v at a running cost of at most %d", session, i, mark.HoldWarned, maxCharge)
			}
			if charge*10 >= 3000*charging.HoldStopShare {
				break // the central system stops it
			}
		}
		ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":%d,"timestamp":%q}`, tx, wh, at.Add(time.Second).Format(time.RFC3339)))
		for len(ch.got) > 0 {
			<-ch.got
		}
	}
}
