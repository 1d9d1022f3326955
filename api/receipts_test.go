package api_test

import (
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/api"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/internal/meter"
	"github.com/evbill/evbill/ocpp"
	"github.com/evbill/evbill/pricing"
	"github.com/evbill/evbill/sandbox"
	"github.com/evbill/evbill/storetest"
)

// receiptWorld is the operator API and the OCPP central system on one
// server over a store of its own, with a tenant whose site (Amsterdam)
// has a station CP-R (connector 1, the example tariff) and a driver who
// pays by card with token CARD1.
type receiptWorld struct {
	e       *env
	st      storetest.FullStore
	svc     *charging.Service
	tn      *tenant
	station string
}

const receiptPassword = "receipt-test-password"

func newReceiptWorld(t *testing.T, st storetest.FullStore) *receiptWorld {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, store: st, resolver: pricing.NewResolver(st), registry: prometheus.NewRegistry()}
	svc := charging.NewService(charging.Config{Store: st, Resolver: e.resolver, Payments: st.(evbill.PaymentStore)})
	central := &ocpp.Server{Authenticate: svc.Authenticate, Handler: svc}
	h, err := api.New(api.Config{Store: st, Charging: svc, Chargers: central, Resolver: e.resolver, Registry: e.registry})
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
	w := &receiptWorld{e: e, st: st, svc: svc, tn: e.newTenant()}
	admin := w.tn.admin
	site := admin.do("POST", "/api/v1/sites", map[string]any{"name": "Centraal", "address": "Stationsplein 1", "city": "Amsterdam",
		"postal_code": "1012 AB", "country": "NL", "time_zone": "Europe/Amsterdam"}).must(t, 201)
	sta := admin.do("POST", "/api/v1/stations", map[string]any{"site_id": site["id"], "charge_point_id": "CP-R",
		"vendor": "ABL", "model": "eMH3"}).must(t, 201)
	w.station = sta["id"].(string)
	admin.do("PUT", "/api/v1/stations/"+w.station+"/password", map[string]any{"password": receiptPassword}).must(t, 204)
	admin.do("POST", "/api/v1/stations/"+w.station+"/connectors", map[string]any{"connector_number": 1,
		"standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 22}).must(t, 201)
	doc, err := os.ReadFile("../examples/tariff.json")
	if err != nil {
		t.Fatal(err)
	}
	tf := evbill.TariffVersion{TenantID: w.tn.id, Currency: "EUR", Document: doc}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateTariff(ctx, &tf))
	must(st.CreateAssignment(ctx, &evbill.TariffAssignment{TenantID: w.tn.id, TariffID: tf.TariffID, SiteID: site["id"].(string)}))
	d := evbill.Driver{TenantID: w.tn.id, Name: "Card Driver"}
	must(st.CreateDriver(ctx, &d))
	must(st.(evbill.PaymentStore).SetPaymentMethod(ctx, &evbill.PaymentMethod{TenantID: w.tn.id, DriverID: d.ID, PayBy: evbill.PayByCard,
		Gateway: "sandbox", Card: sandbox.CardSucceeds}))
	must(st.CreateToken(ctx, &evbill.Token{TenantID: w.tn.id, UID: "CARD1", Type: "RFID", DriverID: d.ID, Status: evbill.TokenAccepted}))
	return w
}

// setKey sets the station's meter key through the API.
func (w *receiptWorld) setKey(t *testing.T, key string) map[string]any {
	t.Helper()
	return w.tn.admin.do("PATCH", "/api/v1/stations/"+w.station, map[string]any{"meter_public_key": key}).must(t, 200)
}

// receiptCharger is a charger that sends CALLs one at a time over a real
// WebSocket and answers the central system's CALLs with Accepted.
type receiptCharger struct {
	t    *testing.T
	c    *websocket.Conn
	next int
	res  chan []json.RawMessage
}

func dialReceiptCharger(t *testing.T, base string) *receiptCharger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("CP-R:"+receiptPassword)))
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ocpp/CP-R",
		&websocket.DialOptions{Subprotocols: []string{"ocpp1.6"}, HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	ch := &receiptCharger{t: t, c: c, res: make(chan []json.RawMessage, 8)}
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
	t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	return ch
}

// call sends a CALL whose payload is v as JSON and returns the answer.
func (ch *receiptCharger) call(action string, v any) map[string]any {
	ch.t.Helper()
	payload, err := json.Marshal(v)
	if err != nil {
		ch.t.Fatal(err)
	}
	ch.next++
	if err := ch.c.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `[2,"m%d",%q,%s]`, ch.next, action, payload)); err != nil {
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

// reading is a MeterValue of the energy register, with the signed record
// of the same reading when raw is not "".
func reading(at time.Time, wh int64, context ocpp.ReadingContext, raw string) ocpp.MeterValue {
	mv := ocpp.MeterValue{Timestamp: at, SampledValue: []ocpp.SampledValue{
		{Value: fmt.Sprint(wh), Context: context, Measurand: ocpp.MeasurandEnergyActiveImportRegister, Unit: ocpp.UnitWh}}}
	if raw != "" {
		mv.SampledValue = append(mv.SampledValue, ocpp.SampledValue{Value: raw, Context: context, Format: ocpp.FormatSignedData,
			Measurand: ocpp.MeasurandEnergyActiveImportRegister})
	}
	return mv
}

// session is one charging session's messages: the begin record in a
// MeterValues (sent twice, as a charger resends what it got no answer
// for), a periodic reading, and the end record in the stop's
// transactionData. It returns the session's and its CDR's IDs.
func (w *receiptWorld) session(t *testing.T, ch *receiptCharger, start time.Time, begin, end string) (string, string) {
	t.Helper()
	ctx := context.Background()
	ans := ch.call("StartTransaction", ocpp.StartTransactionReq{ConnectorId: 1, IdTag: "CARD1", MeterStart: 1000, Timestamp: start})
	tx := int(ans["transactionId"].(float64))
	mv := ocpp.MeterValuesReq{ConnectorId: 1, TransactionId: &tx,
		MeterValue: []ocpp.MeterValue{reading(start, 1000, ocpp.ContextTransactionBegin, begin)}}
	ch.call("MeterValues", mv)
	ch.call("MeterValues", mv)
	ch.call("MeterValues", ocpp.MeterValuesReq{ConnectorId: 1, TransactionId: &tx,
		MeterValue: []ocpp.MeterValue{reading(start.Add(30*time.Minute), 7000, ocpp.ContextSamplePeriodic, "")}})
	stop := start.Add(time.Hour)
	ch.call("StopTransaction", ocpp.StopTransactionReq{TransactionId: tx, MeterStop: 13500, Timestamp: stop, Reason: ocpp.ReasonEVDisconnected,
		TransactionData: []ocpp.MeterValue{reading(stop, 13500, ocpp.ContextTransactionEnd, end)}})
	sess, err := w.st.SessionByTransaction(ctx, w.tn.id, w.station, int64(tx))
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.st.CDRBySession(ctx, w.tn.id, sess.ID)
	if err != nil {
		t.Fatalf("no CDR: %v", err)
	}
	return sess.ID, c.ID
}

// receiptBody is the part of a receipt these tests read.
type receiptBody struct {
	CDRID     string `json:"cdr_id"`
	SessionID string `json:"session_id"`
	Start     string `json:"start"`
	End       string `json:"end"`
	EnergyKWh string `json:"energy_kwh"`
	Station   struct {
		ChargePointID string `json:"charge_point_id"`
	} `json:"station"`
	Lines []struct {
		Kind    string `json:"kind"`
		ExclVAT string `json:"excl_vat"`
		InclVAT string `json:"incl_vat"`
	} `json:"lines"`
	Total struct {
		ExclVAT string `json:"excl_vat"`
		InclVAT string `json:"incl_vat"`
	} `json:"total"`
	VAT []struct {
		Rate, Net, VAT, Gross string
	} `json:"vat"`
	Charge struct {
		Amount      string `json:"amount"`
		AmountMinor int64  `json:"amount_minor"`
	} `json:"charge"`
	Payment *struct {
		Method, Gateway, State, Captured string
	} `json:"payment"`
	Tariff struct {
		Text []struct{ Language, Text string } `json:"text"`
	} `json:"tariff"`
	Flags []string `json:"flags"`
	OCMF  struct {
		Status      string   `json:"status"`
		Reason      string   `json:"reason"`
		PublicKey   string   `json:"public_key"`
		Records     []string `json:"records"`
		EnergyCheck *struct {
			Outcome  string `json:"outcome"`
			SignedWh string `json:"signed_wh"`
			BilledWh string `json:"billed_wh"`
		} `json:"energy_check"`
	} `json:"ocmf"`
}

func (w *receiptWorld) receipt(t *testing.T, cdrID string) receiptBody {
	t.Helper()
	res := w.tn.readonly.do("GET", "/api/v1/cdrs/"+cdrID+"/receipt", nil)
	if res.status != 200 {
		t.Fatalf("receipt: %s", res)
	}
	var r receiptBody
	if err := json.Unmarshal(res.body, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReceiptOCMF runs sessions over a real WebSocket whose charger signs
// its begin and end readings with a P-256 key made here, and reads their
// receipts: verified with the energy matching; a record changed after
// signing is signature_invalid and flags the session; without a key on
// record, and for a brainpool record, not_verifiable and why. A resent
// MeterValues stores its record once.
func TestReceiptOCMF(t *testing.T) {
	for _, eng := range storetest.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			w := newReceiptWorld(t, eng.Open(t))
			ctx := context.Background()
			m, err := meter.New(elliptic.P256(), "MTR-R1")
			if err != nil {
				t.Fatal(err)
			}
			// The key goes in as the transparency software shows it, in lower
			// case, and comes back as stored, in upper case.
			if got := w.setKey(t, strings.ToLower(m.PublicKeyHex()))["meter_public_key"]; got != m.PublicKeyHex() {
				t.Fatalf("meter_public_key %v, want %s", got, m.PublicKeyHex())
			}
			ch := dialReceiptCharger(t, w.e.srv.URL)
			ch.call("BootNotification", ocpp.BootNotificationReq{ChargePointVendor: "ABL", ChargePointModel: "eMH3"})
			start := time.Date(2027, 3, 12, 9, 15, 0, 0, time.UTC) // 10:15 in Amsterdam
			records := func(at time.Time) (string, string) {
				t.Helper()
				b, err := m.Reading(meter.Begin, at, 1000, "CARD1")
				if err != nil {
					t.Fatal(err)
				}
				e, err := m.Reading(meter.End, at.Add(time.Hour), 13500, "CARD1")
				if err != nil {
					t.Fatal(err)
				}
				return b, e
			}

			// Verified.
			begin, end := records(start)
			sessID, cdrID := w.session(t, ch, start, begin, end)
			r := w.receipt(t, cdrID)
			o := r.OCMF
			if o.Status != "verified" || o.EnergyCheck == nil || o.EnergyCheck.Outcome != "match" ||
				o.EnergyCheck.SignedWh != "12500" || o.EnergyCheck.BilledWh != "12500" {
				t.Fatalf("ocmf: %+v (energy %+v)", o, o.EnergyCheck)
			}
			if len(o.Records) != 2 || o.Records[0] != begin || o.Records[1] != end || o.PublicKey != m.PublicKeyHex() {
				t.Errorf("records %q, key %s: want the two as sent, and the station's key", o.Records, o.PublicKey)
			}
			stored, err := w.st.SignedValues(ctx, w.tn.id, sessID)
			if err != nil || len(stored) != 2 {
				t.Errorf("stored %d signed values (%v); the resent MeterValues must not add one", len(stored), err)
			}
			if r.Start != "2027-03-12T10:15:00+01:00" || r.End != "2027-03-12T11:15:00+01:00" || r.Station.ChargePointID != "CP-R" || r.EnergyKWh != "12.5" {
				t.Errorf("receipt header: start %s end %s station %s energy %s", r.Start, r.End, r.Station.ChargePointID, r.EnergyKWh)
			}
			if r.Payment == nil || r.Payment.Method != "card" || r.Payment.Gateway != "sandbox" || r.Payment.State != evbill.PaymentHoldPending || r.Payment.Captured != "0.00" {
				t.Errorf("payment %+v", r.Payment)
			}
			if len(r.Tariff.Text) != 1 || !strings.Contains(r.Tariff.Text[0].Text, "start fee") {
				t.Errorf("tariff text %+v", r.Tariff.Text)
			}
			checkReceiptIsCDR(t, w, sessID, cdrID, r)

			// A reading changed after the meter signed it.
			begin, end = records(start.Add(2 * time.Hour))
			end = strings.Replace(end, `"RV":13500`, `"RV":13600`, 1)
			sessID, cdrID = w.session(t, ch, start.Add(2*time.Hour), begin, end)
			r = w.receipt(t, cdrID)
			if r.OCMF.Status != "signature_invalid" || !strings.Contains(r.OCMF.Reason, "record 2 (Transaction.End)") || len(r.OCMF.Records) != 2 || r.OCMF.Records[1] != end {
				t.Errorf("tampered: %+v", r.OCMF)
			}
			sess, err := w.st.Session(ctx, w.tn.id, sessID)
			if err != nil || !contains(sess.Flags, evbill.FlagSignatureInvalid) || !contains(r.Flags, evbill.FlagSignatureInvalid) {
				t.Errorf("the session's flags %v (receipt %v), want %s", sess.Flags, r.Flags, evbill.FlagSignatureInvalid)
			}
			checkReceiptIsCDR(t, w, sessID, cdrID, r) // still billed, and the bill still holds together

			// No key on record.
			w.setKey(t, "")
			begin, end = records(start.Add(4 * time.Hour))
			sessID, cdrID = w.session(t, ch, start.Add(4*time.Hour), begin, end)
			r = w.receipt(t, cdrID)
			if r.OCMF.Status != "not_verifiable" || !strings.Contains(r.OCMF.Reason, "no meter public key on record") || r.OCMF.PublicKey != "" {
				t.Errorf("without a key: %+v", r.OCMF)
			}
			if sess, _ := w.st.Session(ctx, w.tn.id, sessID); contains(sess.Flags, evbill.FlagSignatureInvalid) {
				t.Errorf("a session without a key on record was flagged: %v", sess.Flags)
			}

			// A meter that signs on brainpoolP256r1, which Go cannot verify.
			w.setKey(t, m.PublicKeyHex())
			begin, end = records(start.Add(6 * time.Hour))
			begin = strings.Replace(begin, `"SA":"ECDSA-secp256r1-SHA256"`, `"SA":"ECDSA-brainpoolP256r1-SHA256"`, 1)
			end = strings.Replace(end, `"SA":"ECDSA-secp256r1-SHA256"`, `"SA":"ECDSA-brainpoolP256r1-SHA256"`, 1)
			sessID, cdrID = w.session(t, ch, start.Add(6*time.Hour), begin, end)
			r = w.receipt(t, cdrID)
			if r.OCMF.Status != "not_verifiable" || !strings.Contains(r.OCMF.Reason, "brainpool") {
				t.Errorf("brainpool: %+v", r.OCMF)
			}
			if sess, _ := w.st.Session(ctx, w.tn.id, sessID); contains(sess.Flags, evbill.FlagSignatureInvalid) {
				t.Errorf("an unverifiable record flagged the session: %v", sess.Flags)
			}

			// A session of a charger that signs nothing.
			sessID, cdrID = w.session(t, ch, start.Add(8*time.Hour), "", "")
			if r = w.receipt(t, cdrID); r.OCMF.Status != "none" || len(r.OCMF.Records) != 0 || r.OCMF.EnergyCheck != nil {
				t.Errorf("unsigned: %+v", r.OCMF)
			}
			checkReceiptIsCDR(t, w, sessID, cdrID, r)

			res := w.tn.readonly.do("GET", "/api/v1/cdrs/cdr_missing/receipt", nil)
			if res.status != 404 {
				t.Errorf("receipt of a missing CDR: %s", res)
			}
			other := w.e.newTenant()
			if res := other.readonly.do("GET", "/api/v1/cdrs/"+cdrID+"/receipt", nil); res.status != 404 {
				t.Errorf("receipt through another tenant: %s", res)
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// checkReceiptIsCDR holds a receipt to the CDR it is of: the totals and
// the amount charged are the CDR's, its lines are the engine's for the
// same session, and its VAT rows add up to the totals.
func checkReceiptIsCDR(t *testing.T, w *receiptWorld, sessID, cdrID string, r receiptBody) {
	t.Helper()
	c, err := w.st.CDR(context.Background(), w.tn.id, cdrID)
	if err != nil {
		t.Fatal(err)
	}
	if r.CDRID != cdrID || r.SessionID != sessID || r.Total.ExclVAT != c.TotalExclVAT || r.Total.InclVAT != c.TotalInclVAT || r.Charge.AmountMinor != c.AmountMinor {
		t.Errorf("receipt total %+v, charge %+v; CDR %s/%s, %d", r.Total, r.Charge, c.TotalExclVAT, c.TotalInclVAT, c.AmountMinor)
	}
	live, err := w.svc.Live(context.Background(), w.tn.id, sessID)
	if err != nil || live.Result == nil {
		t.Fatalf("the engine's price: %v", err)
	}
	if len(r.Lines) != len(live.Result.Lines) {
		t.Fatalf("%d lines, the engine %d", len(r.Lines), len(live.Result.Lines))
	}
	for i, l := range live.Result.Lines {
		excl, incl, err := l.Cost.Round(4)
		if err != nil {
			t.Fatal(err)
		}
		if r.Lines[i].ExclVAT != excl.Pad(4).String() || r.Lines[i].InclVAT != incl.Pad(4).String() {
			t.Errorf("line %d: %+v, the engine %s/%s", i, r.Lines[i], excl, incl)
		}
	}
	// The explanation the CDR was stored with shows the same rows.
	res := w.tn.readonly.do("GET", "/api/v1/cdrs/"+cdrID+"?format=explain", nil)
	for _, l := range r.Lines {
		if !strings.Contains(string(res.body), l.ExclVAT) {
			t.Errorf("the explanation lacks the line amount %s:\n%s", l.ExclVAT, res.body)
		}
	}
	if len(r.VAT) != 1 || r.VAT[0].Rate != "21" || r.VAT[0].Net != c.TotalExclVAT || r.VAT[0].Gross != c.TotalInclVAT {
		t.Errorf("VAT rows %+v, CDR %s/%s", r.VAT, c.TotalExclVAT, c.TotalInclVAT)
	}
}

// TestStationMeterKey: the stations API takes a meter key as hex or PEM,
// stores it as upper-case hex, refuses keys the OCMF check could not use
// (naming the curve), and removes it with "".
func TestStationMeterKey(t *testing.T) {
	e := newEnv(t)
	tn := e.newTenant()
	site := tn.admin.do("POST", "/api/v1/sites", map[string]any{"name": "S", "country": "NL", "time_zone": "Europe/Amsterdam"}).must(t, 201)
	m, err := meter.New(elliptic.P384(), "MTR-K")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := hex.DecodeString(m.PublicKeyHex())
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	sta := tn.admin.do("POST", "/api/v1/stations", map[string]any{"site_id": site["id"], "charge_point_id": "CP-K", "meter_public_key": pemKey}).must(t, 201)
	if sta["meter_public_key"] != m.PublicKeyHex() {
		t.Fatalf("created with a PEM key: %v, want %s", sta["meter_public_key"], m.PublicKeyHex())
	}
	id := sta["id"].(string)
	if got := tn.readonly.do("GET", "/api/v1/stations/"+id, nil).must(t, 200)["meter_public_key"]; got != m.PublicKeyHex() {
		t.Errorf("read back: %v", got)
	}
	// A brainpoolP256r1 key: a SubjectPublicKeyInfo naming the curve.
	brainpool := "305a301406072a8648ce3d020106092b2403030208010107034200" + "04" + strings.Repeat("11", 64)
	for _, tt := range []struct{ key, want string }{
		{brainpool, "brainpoolP256r1"},
		{"not a key", "not a DER SubjectPublicKeyInfo"},
		{ed25519Key(t), "Ed25519"},
	} {
		res := tn.admin.do("PATCH", "/api/v1/stations/"+id, map[string]any{"meter_public_key": tt.key})
		if res.status != 422 || !strings.Contains(string(res.body), tt.want) || !strings.Contains(string(res.body), "body.meter_public_key") {
			t.Errorf("PATCH with %.20s…: %s, want 422 naming %q", tt.key, res, tt.want)
		}
		res = tn.admin.do("POST", "/api/v1/stations", map[string]any{"site_id": site["id"], "charge_point_id": "CP-X", "meter_public_key": tt.key})
		if res.status != 422 {
			t.Errorf("POST with %.20s…: %s, want 422", tt.key, res)
		}
	}
	if got := tn.readonly.do("GET", "/api/v1/stations/"+id, nil).must(t, 200)["meter_public_key"]; got != m.PublicKeyHex() {
		t.Errorf("a refused PATCH changed the key: %v", got)
	}
	// A PATCH of another field keeps the key; "" removes it.
	if got := tn.admin.do("PATCH", "/api/v1/stations/"+id, map[string]any{"vendor": "ABL"}).must(t, 200)["meter_public_key"]; got != m.PublicKeyHex() {
		t.Errorf("a PATCH of the vendor changed the key: %v", got)
	}
	if got := tn.admin.do("PATCH", "/api/v1/stations/"+id, map[string]any{"meter_public_key": ""}).must(t, 200)["meter_public_key"]; got != "" {
		t.Errorf("meter_public_key %v after removing it", got)
	}
}

func ed25519Key(t *testing.T) string {
	t.Helper()
	// The Ed25519 public key of RFC 8410's example, as a SubjectPublicKeyInfo.
	der, err := base64.StdEncoding.DecodeString("MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParsePKIXPublicKey(der); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(der)
}
