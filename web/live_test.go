package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/money"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/web"
)

// liveSession is a session a driver's RFID card started on CP-1's
// connector 1, and the charger that runs it.
type liveSession struct {
	ch    *charger
	tx    int
	start time.Time
	sess  evbill.Session
	path  string // its live page
}

// startLive starts a session with an accepted RFID token of the tenant.
func (w *world) startLive() *liveSession {
	w.t.Helper()
	ctx := context.Background()
	if err := w.store.CreateToken(ctx, &evbill.Token{TenantID: w.tenant.ID, UID: "TAG1", Type: "RFID", Status: evbill.TokenAccepted}); err != nil {
		w.t.Fatal(err)
	}
	ls := &liveSession{ch: w.dial(ocpp.RemoteAccepted), start: time.Now().Add(2 * time.Second).Truncate(time.Second)}
	tx, status := ls.ch.start("TAG1", ls.start)
	if status != "Accepted" {
		w.t.Fatalf("start: %s", status)
	}
	ls.tx = tx
	sess, err := w.store.SessionByTransaction(ctx, w.tenant.ID, w.station.ID, int64(tx))
	if err != nil {
		w.t.Fatal(err)
	}
	ls.sess, ls.path = sess, w.pages.LivePath(w.tenant.ID, sess.ID)
	return ls
}

// meter reports the register and the power at start+after.
func (ls *liveSession) meter(after time.Duration, wh, watts int) {
	ls.ch.call("MeterValues", fmt.Sprintf(`{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":%q,"sampledValue":[`+
		`{"value":"%d","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"%d","measurand":"Power.Active.Import","unit":"W"}]}]}`,
		ls.tx, ls.start.Add(after).Format(time.RFC3339), wh, watts))
}

// stop ends the session at start+after with the register at wh.
func (ls *liveSession) stop(after time.Duration, wh int) {
	ls.ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":%d,"timestamp":%q,"reason":"EVDisconnected","idTag":"TAG1"}`,
		ls.tx, wh, ls.start.Add(after).Format(time.RFC3339)))
}

// total is what the session's CDR charges, as the receipt writes it.
func (w *world) total(sessionID string) (evbill.CDR, string) {
	w.t.Helper()
	record, err := w.store.CDRBySession(context.Background(), w.tenant.ID, sessionID)
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := money.ParseCurrency(record.Currency)
	if err != nil {
		w.t.Fatal(err)
	}
	return record, money.Amount{Minor: record.AmountMinor, Currency: c}.String()
}

// liveEvent is one event of the live page's stream, its data decoded.
type liveEvent struct {
	name string
	data map[string]string
}

// follow opens a live page's event stream and parses it.
func (w *world) follow(path string) (*http.Response, <-chan liveEvent) {
	w.t.Helper()
	res, err := w.client.Get(w.base + path + "/events")
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { res.Body.Close() })
	events := make(chan liveEvent, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		var name, data string
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "" && name != "":
				ev := liveEvent{name: name}
				if err := json.Unmarshal([]byte(data), &ev.data); err != nil {
					ev.data = map[string]string{"error": err.Error()}
				}
				events <- ev
				name, data = "", ""
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return res, events
}

// nextEvent returns the next event, which must be named want.
func nextEvent(t *testing.T, events <-chan liveEvent, want string) map[string]string {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatalf("the stream ended before a %q event", want)
		}
		if ev.name != want {
			t.Fatalf("event %q, want %q: %v", ev.name, want, ev.data)
		}
		return ev.data
	case <-time.After(20 * time.Second):
		t.Fatalf("no %q event within 20 s", want)
	}
	return nil
}

// TestLivePage follows a session on its live page and its event stream:
// the page shows the figures with its script and a fallback for browsers
// without one; the stream sends a snapshot, an update after each
// MeterValues and, at the end, the receipt whose total is the CDR's; the
// page is then the receipt, without a script. Its link is signed: a
// changed or made-up token is 404, page and stream alike.
func TestLivePage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ls := w.startLive()
		res, err := w.client.Get(w.base + ls.path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		if res.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") || res.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("the live page: %d, CSP %q", res.StatusCode, csp)
		}
		status, body := w.get(ls.path)
		contains(t, "the live page", body, `<h1 data-live="headline">Charging</h1>`, "CP-1, connector 1", `data-live="energy">0.00 kWh`,
			`<script src="/pay/assets/live.js" defer></script>`, `<noscript><meta http-equiv="refresh" content="30"></noscript>`, "Centraal")
		if status != 200 || strings.Contains(body, "<script>") || strings.Contains(body, "https://") {
			t.Errorf("the live page (%d) has an inline script or loads from elsewhere:\n%s", status, body)
		}
		if status, js := w.get("/pay/assets/live.js"); status != 200 || !strings.Contains(js, "EventSource") {
			t.Errorf("the live page's script: %d\n%s", status, js)
		}

		stream, events := w.follow(ls.path)
		if ct := stream.Header.Get("Content-Type"); stream.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
			t.Fatalf("the stream: %d %s", stream.StatusCode, ct)
		}
		if snap := nextEvent(t, events, "snapshot"); snap["energy"] != "0.00 kWh" || snap["headline"] != "Charging" || snap["power"] != "—" {
			t.Fatalf("snapshot %v", snap)
		}
		ls.meter(30*time.Minute, 7000, 11000)
		u := nextEvent(t, events, "update")
		if u["energy"] != "7.00 kWh" || u["power"] != "11.0 kW" || u["duration"] != "30 min" || !strings.HasPrefix(u["cost"], "EUR ") ||
			!strings.Contains(u["rate"], "EUR ") || !strings.HasPrefix(u["as_of"], "As of ") {
			t.Fatalf("update %v", u)
		}
		_, body = w.get(ls.path)
		contains(t, "the live page while charging", body, `data-live="energy">7.00 kWh`, `data-live="power">11.0 kW`, `data-live="cost">`+u["cost"])

		ls.stop(40*time.Minute, 7000)
		end := nextEvent(t, events, "ended")
		record, total := w.total(ls.sess.ID)
		if record.AmountMinor <= 0 || end["total"] != total || end["energy"] != "7.00 kWh" || end["duration"] != "40 min" {
			t.Fatalf("ended %v, the CDR charges %s", end, total)
		}
		select {
		case ev, open := <-events:
			if open {
				t.Errorf("an event after the end: %v", ev)
			}
		case <-time.After(10 * time.Second):
			t.Error("the stream stays open after the end")
		}
		status, body = w.get(ls.path)
		contains(t, "the receipt", body, "<h1>Receipt</h1>", `id="receipt"`, `data-receipt="total">`+total, "you pay <strong>"+total+"</strong>",
			"7.00 kWh", "40 min", "Excl. VAT")
		if status != 200 || strings.Contains(body, "<script") || strings.Contains(body, "refresh") {
			t.Errorf("the receipt (%d) still follows the session:\n%s", status, body)
		}
		// The ended session's stream: its snapshot, then its end.
		_, again := w.follow(ls.path)
		nextEvent(t, again, "snapshot")
		if e := nextEvent(t, again, "ended"); e["total"] != total {
			t.Errorf("the ended session's stream: %v", e)
		}

		// Tokens: made up, changed, or naming another session.
		id, tenant, mac := parts(t, strings.TrimPrefix(ls.path, "/s/"))
		other := w.pages.LivePath(w.tenant.ID, "ses_01OTHER")
		_, _, otherMAC := parts(t, strings.TrimPrefix(other, "/s/"))
		for _, bad := range []string{"nothing", id + "." + tenant + "." + otherMAC, id + "." + tenant + "." + mac[:len(mac)-2] + "AA",
			"ses_01OTHER." + tenant + "." + mac, id + ".ten_01OTHER." + mac, id + "." + tenant, id + "." + tenant + "." + mac + "."} {
			if status, body := w.get("/s/" + bad); status != http.StatusNotFound || !strings.Contains(body, "no charging session") {
				t.Errorf("GET /s/%s: %d\n%s", bad, status, body)
			}
			if status, _ := w.get("/s/" + bad + "/events"); status != http.StatusNotFound {
				t.Errorf("GET /s/%s/events: %d", bad, status)
			}
		}
		// A well-signed link to a session that does not exist.
		if status, _ := w.get(other); status != http.StatusNotFound {
			t.Errorf("the signed link of a missing session: %d", status)
		}
		if status, _ := w.get(other + "/events"); status != http.StatusNotFound {
			t.Errorf("the stream of a missing session: %d", status)
		}
	})
}

func parts(t *testing.T, token string) (session, tenant, mac string) {
	t.Helper()
	p := strings.Split(token, ".")
	if len(p) != 3 {
		t.Fatalf("token %q", token)
	}
	return p[0], p[1], p[2]
}

// TestLivePageWithoutPayPage: a server without a payment gateway serves
// no pay page, but its sessions' live pages.
func TestLivePageWithoutPayPage(t *testing.T) {
	forEachEngine(t, func(t *testing.T, w *world) {
		ls := w.startLive()
		if status, _ := w.get("/pay/CP-1/1"); status != http.StatusNotFound {
			t.Errorf("the pay page without a gateway: %d", status)
		}
		if status, body := w.get(ls.path); status != 200 || !strings.Contains(body, "Charging") || strings.Contains(body, "TEST MODE") {
			t.Errorf("the live page without a gateway: %d\n%s", status, body)
		}
	}, func(c *web.Config) { c.Gateway = "" })
}
