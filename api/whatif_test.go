package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/storetest"
	"github.com/evbill/evbill/tariff"
)

// chargeOCPP drives one session through the central system as a charger
// does: start, a reading every 20 minutes at the power given, then, for
// parking minutes, a reading without power, and the stop.
func chargeOCPP(t *testing.T, ch *ocppClient, uid string, start time.Time, watts []int, parking time.Duration) {
	t.Helper()
	got := ch.call("StartTransaction", fmt.Sprintf(`{"connectorId":1,"idTag":%q,"meterStart":1000,"timestamp":%q}`, uid, start.Format(time.RFC3339)))
	tx := int(got["transactionId"].(float64))
	wh, at := 1000, start
	reading := func(at time.Time, wh, w int) {
		ch.call("MeterValues", fmt.Sprintf(`{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":%q,"sampledValue":[`+
			`{"value":"%d","measurand":"Energy.Active.Import.Register","unit":"Wh"},{"value":"%d","measurand":"Power.Active.Import","unit":"W"}]}]}`,
			tx, at.Format(time.RFC3339), wh, w))
	}
	for _, w := range watts {
		at = at.Add(20 * time.Minute)
		wh += w / 3
		reading(at, wh, w)
	}
	if parking > 0 {
		at = at.Add(time.Minute)
		reading(at, wh, 0)
		at = at.Add(parking)
	}
	ch.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":%d,"timestamp":%q,"reason":"EVDisconnected","idTag":%q}`,
		tx, wh, at.Add(7*time.Second).Format(time.RFC3339), uid))
}

// TestWhatIf re-prices sessions that went through the OCPP path: under the
// tariff that priced them the answer is their CDRs', session by session;
// under a cheaper one every session costs less; range and scope narrow
// it.
func TestWhatIf(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			e, _ := newLiveEnv(t, open(t))
			tn, other := e.newTenant(), e.newTenant()
			f := tn.admin.fixture(t)
			cp := tn.admin.do("GET", "/api/v1/stations/"+f.station, nil).must(t, 200)["charge_point_id"].(string)
			uid := tn.admin.do("GET", "/api/v1/tokens/"+f.token, nil).must(t, 200)["uid"].(string)
			tn.admin.do("PUT", "/api/v1/stations/"+f.station+"/password", map[string]any{"password": "correct horse battery"}).must(t, 204)
			ch := dialCharger(t, e.srv.URL, cp, "correct horse battery")

			// Starts across the example tariff's 07:00, 08:00, 19:00 and
			// 20:00 boundaries and midnight, in Amsterdam (UTC+1, then
			// UTC+2 from 28 March).
			day := time.Date(2027, 3, 25, 0, 0, 0, 0, time.UTC)
			starts := []time.Time{day.Add(5*time.Hour + 30*time.Minute), day.Add(17*time.Hour + 15*time.Minute), day.Add(22*time.Hour + 50*time.Minute),
				day.AddDate(0, 0, 1).Add(6*time.Hour + 40*time.Minute), day.AddDate(0, 0, 3).Add(time.Hour + 5*time.Minute), day.AddDate(0, 0, 4).Add(18 * time.Hour)}
			for i, at := range starts {
				chargeOCPP(t, ch, uid, at, []int{11000, 10500, 7400 + 1000*i}[:1+i%3], time.Duration(i*13)*time.Minute)
			}
			var actual int64
			perSession := map[string]int64{}
			cdrs, err := e.store.(evbill.SessionStore).ListCDRs(context.Background(), tn.id, evbill.Page{Limit: 100})
			if err != nil || len(cdrs) != len(starts) {
				t.Fatalf("%d CDRs (%v), want %d", len(cdrs), err, len(starts))
			}
			for _, c := range cdrs {
				actual += c.AmountMinor
				perSession[c.SessionID] = c.AmountMinor
			}
			from, to := day.Format(time.RFC3339), day.AddDate(0, 0, 7).Format(time.RFC3339)

			// The tariff in force, by reference and as a document.
			for _, cand := range []map[string]any{{"tariff_id": f.tariff}, {"tariff_id": f.tariff, "version": 1},
				{"tariff": json.RawMessage(readFile(t, "../examples/tariff.json"))}} {
				m := tn.readonly.do("POST", "/api/v1/whatif", map[string]any{"candidate": cand, "from": from, "to": to}).must(t, 200)
				a, c := m["actual"].(map[string]any), m["candidate"].(map[string]any)
				if m["sessions"] != float64(len(starts)) || a["minor_units"] != float64(actual) || c["minor_units"] != float64(actual) ||
					m["change"].(map[string]any)["amount"] != "0.00" || m["change_percent"] != float64(0) {
					t.Fatalf("the tariff in force (%v): %v; the CDRs charged %d", cand, m, actual)
				}
				cps := m["change_per_session"].(map[string]any)
				if cps["unchanged"] != float64(len(starts)) || cps["min"].(map[string]any)["minor_units"] != float64(0) || cps["max"].(map[string]any)["minor_units"] != float64(0) {
					t.Errorf("change per session %v, want none", cps)
				}
				if m["currency"] != "EUR" || m["assumption"] == "" || m["sessions_from_document"] != float64(0) || m["approximate_sessions"] != float64(0) {
					t.Errorf("currency %v, assumption %v, from documents %v", m["currency"], m["assumption"], m["sessions_from_document"])
				}
				sites := m["sites"].([]any)
				if len(sites) != 1 || sites[0].(map[string]any)["site_id"] != f.site || sites[0].(map[string]any)["time_zone"] != "Europe/Amsterdam" {
					t.Errorf("sites %v", sites)
				}
			}
			// Session by session: each session alone (a range of one
			// microsecond around its start) re-prices to its CDR.
			for _, at := range starts {
				one := tn.readonly.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff_id": f.tariff},
					"from": at.Format(time.RFC3339Nano), "to": at.Add(time.Microsecond).Format(time.RFC3339Nano)}).must(t, 200)
				if one["sessions"] != float64(1) || one["actual"].(map[string]any)["minor_units"] != one["candidate"].(map[string]any)["minor_units"] {
					t.Errorf("the session of %v: %v", at, one)
				}
			}

			// Every price lower: every session costs less.
			m := tn.readonly.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff": json.RawMessage(storetest.CheaperTariff)},
				"from": from, "to": to}).must(t, 200)
			cps := m["change_per_session"].(map[string]any)
			if cps["lower"] != float64(len(starts)) || cps["max"].(map[string]any)["minor_units"].(float64) >= 0 ||
				m["candidate"].(map[string]any)["minor_units"].(float64) >= float64(actual) {
				t.Errorf("cheaper: %v", m)
			}
			for _, d := range m["days"].([]any) {
				dm := d.(map[string]any)
				if dm["change"].(map[string]any)["minor_units"].(float64) >= 0 {
					t.Errorf("cheaper on %v: %v", dm["date"], dm)
				}
			}

			// The range: from the third start on; the scope: the station,
			// a station without sessions, the tariff.
			late := tn.readonly.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff_id": f.tariff},
				"from": starts[2].Format(time.RFC3339), "to": to}).must(t, 200)
			if late["sessions"] != float64(len(starts)-2) {
				t.Errorf("from the third start: %v sessions", late["sessions"])
			}
			idle := tn.admin.do("POST", "/api/v1/stations", map[string]any{"site_id": f.site, "charge_point_id": "CP-" + evbill.NewID("x")}).must(t, 201)["id"].(string)
			for _, sc := range []struct {
				scope map[string]any
				n     int
			}{{map[string]any{"station_id": f.station}, len(starts)}, {map[string]any{"station_id": idle}, 0},
				{map[string]any{"site_id": f.site, "tariff_id": f.tariff}, len(starts)}} {
				m := tn.readonly.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff_id": f.tariff},
					"from": from, "to": to, "scope": sc.scope}).must(t, 200)
				if m["sessions"] != float64(sc.n) {
					t.Errorf("scope %v: %v sessions, want %d", sc.scope, m["sessions"], sc.n)
				}
				if sc.n == 0 && (m["change_per_session"] != nil || len(m["sites"].([]any)) != 0) {
					t.Errorf("an empty what-if: %v", m)
				}
			}

			// Another tenant sees none of it, and may not name its records.
			tariffDoc := json.RawMessage(readFile(t, "../examples/tariff.json"))
			if m := other.readonly.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff": tariffDoc},
				"from": from, "to": to}).must(t, 200); m["sessions"] != float64(0) {
				t.Errorf("another tenant re-priced %v sessions", m["sessions"])
			}
			other.readonly.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff_id": f.tariff},
				"from": from, "to": to, "scope": map[string]any{"site_id": f.site}}).problem(t, 422, "invalid", "body.candidate.tariff_id", "body.scope.site_id")
			e.anon().do("POST", "/api/v1/whatif", map[string]any{}).problem(t, 401, "unauthorized")
		})
	}
}

// TestWhatIfValidation checks that a bad candidate is refused with the
// errors tariff creation gives, located under body.candidate.tariff, and
// the other rules of the request.
func TestWhatIfValidation(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant()
	c := tn.readonly
	bad := `{"country_code": "NLD", "party_id": "EVB", "id": "X", "currency": "EUR",
	  "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": -1}]}],
	  "last_updated": "2025-01-01T00:00:00Z"}`
	_, err := tariff.Parse([]byte(bad))
	var ve *tariff.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) < 2 {
		t.Fatalf("the fixture should break several rules: %v", err)
	}
	from, to := "2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z"
	body := fmt.Sprintf(`{"candidate": {"tariff": %s}, "from": %q, "to": %q}`, bad, from, to)
	p := c.do("POST", "/api/v1/whatif", body).problem(t, 422, "invalid", "body.candidate.tariff.elements[0].price_components[0].step_size")
	created := tn.operator.do("POST", "/api/v1/tariffs", bad).problem(t, 422, "invalid")
	errs, want := p["errors"].([]any), created["errors"].([]any)
	if len(errs) != len(want) {
		t.Fatalf("%d errors, tariff creation gives %d: %v", len(errs), len(want), p)
	}
	for i := range errs {
		got, w := errs[i].(map[string]any), want[i].(map[string]any)
		if got["location"] != "body.candidate.tariff."+w["location"].(string)[len("body."):] || got["message"] != w["message"] {
			t.Errorf("error %d: %v, tariff creation: %v", i, got, w)
		}
	}
	c.do("POST", "/api/v1/whatif", fmt.Sprintf(`{"candidate": {"tariff": [1]}, "from": %q, "to": %q}`, from, to)).problem(t, 422, "invalid", "body.candidate.tariff")
	c.do("POST", "/api/v1/whatif", fmt.Sprintf(`{"candidate": {}, "from": %q, "to": %q}`, from, to)).problem(t, 422, "invalid", "body.candidate")
	c.do("POST", "/api/v1/whatif", fmt.Sprintf(`{"candidate": {"tariff": {"id": "x"}, "tariff_id": "trf_1"}, "from": %q, "to": %q}`, from, to)).problem(t, 422, "invalid", "body.candidate")
	c.do("POST", "/api/v1/whatif", fmt.Sprintf(`{"candidate": {"tariff_id": "trf_nope"}, "from": %q, "to": %q}`, from, to)).problem(t, 422, "invalid", "body.candidate.tariff_id")
	good := json.RawMessage(readFile(t, "../examples/tariff.json"))
	c.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff": good, "version": 2}, "from": from, "to": to}).problem(t, 422, "invalid", "body.candidate.version")
	c.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff": good}, "from": to, "to": from}).problem(t, 422, "invalid", "body.to")
	c.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff": good}, "from": from}).problem(t, 422, "invalid", "body.to")
	c.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff": good}, "from": from, "to": to,
		"scope": map[string]any{"site_id": "site_nope", "station_id": "sta_nope", "tariff_id": "trf_nope"}}).problem(t, 422, "invalid",
		"body.scope.site_id", "body.scope.station_id", "body.scope.tariff_id")
	if m := c.do("POST", "/api/v1/whatif", map[string]any{"candidate": map[string]any{"tariff": good}, "from": from, "to": to}).must(t, 200); m["sessions"] != float64(0) || m["currency"] != "EUR" {
		t.Errorf("no sessions: %v", m)
	}
	// Documented, with its security, its problems and its answer.
	paths := e.anon().do("GET", "/api/v1/openapi.json", nil).must(t, 200)["paths"].(map[string]any)
	op, _ := paths["/api/v1/whatif"].(map[string]any)["post"].(map[string]any)
	opDoc, _ := json.Marshal(op)
	for _, want := range []string{`"security"`, `"422"`, `"200"`, `"create-what-if"`} {
		if !strings.Contains(string(opDoc), want) {
			t.Errorf("the OpenAPI operation does not say %s: %s", want, opDoc)
		}
	}
}
