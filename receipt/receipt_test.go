package receipt_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/cdr"
	"github.com/evbill/evbill/internal/meter"
	"github.com/evbill/evbill/receipt"
	"github.com/evbill/evbill/tariff"
)

var amsterdam = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

// t0 is 09:00 in Amsterdam (08:00 UTC), a weekday in winter time.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, amsterdam)

func mustTariff(t *testing.T, doc string) *tariff.Tariff {
	t.Helper()
	tf, err := tariff.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("tariff: %v\n%s", err, doc)
	}
	return tf
}

// tariffDoc is a tariff of the given elements (a JSON array's inside) and
// extra top-level members (min_price, max_price).
func tariffDoc(extra, elements string) string {
	return `{"country_code":"NL","party_id":"EVB","id":"T1","currency":"EUR",` + extra +
		`"tariff_alt_text":[{"language":"en","text":"Test tariff"}],"elements":[` + elements + `],"last_updated":"2025-01-01T00:00:00Z"}`
}

func period(start time.Time, kwh string, chargingSec, parkingSec int) tariff.Period {
	p := tariff.Period{Start: start.UTC(), Energy: decimal.MustParse(kwh), Time: decimal.MustNew(int64(chargingSec), 0),
		ParkingTime: decimal.MustNew(int64(parkingSec), 0)}
	if chargingSec > 0 {
		p.Has |= tariff.HasEnergy | tariff.HasTime
	}
	if parkingSec > 0 {
		p.Has |= tariff.HasParkingTime
	}
	return p
}

// priced is a session priced as charging prices it: the result, its
// itemization, and the CDR made from the same result.
type priced struct {
	tf     *tariff.Tariff
	result tariff.Result
	items  receipt.Itemization
	cdr    evbill.CDR
}

func price(t *testing.T, tf *tariff.Tariff, s *tariff.Session) priced {
	t.Helper()
	r, err := tf.Price(s)
	if err != nil {
		t.Fatal(err)
	}
	items, err := receipt.Itemize(tf, s, &r)
	if err != nil {
		t.Fatal(err)
	}
	h := &cdr.Header{CountryCode: "NL", PartyID: "EVB", ID: "cdr_1", Start: s.Start, End: s.End, SessionID: "ses_1",
		Token: cdr.Token{CountryCode: "NL", PartyID: "EVB", UID: "TAG1", Type: "RFID", ContractID: "TAG1"}, AuthMethod: "WHITELIST",
		Currency: "EUR", LastUpdated: s.End,
		Location: cdr.Location{ID: "site_1", Address: "Stationsplein 1", City: "Amsterdam", Country: "NLD", EVSEUID: "sta_1",
			EVSEID: "CP-1", ConnectorID: "1", ConnectorStandard: "IEC_62196_T2", ConnectorFormat: "SOCKET", ConnectorPowerType: "AC_3_PHASE"}}
	doc, err := cdr.AppendNew(nil, h, s, &r)
	if err != nil {
		t.Fatal(err)
	}
	excl, incl, err := r.Total.Round(4)
	if err != nil {
		t.Fatal(err)
	}
	return priced{tf: tf, result: r, items: items, cdr: evbill.CDR{ID: "cdr_1", SessionID: "ses_1", Currency: "EUR",
		TotalExclVAT: excl.String(), TotalInclVAT: incl.String(), AmountMinor: r.Charge.Minor, Document: doc}}
}

func dec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.Parse(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return d
}

func sum(t *testing.T, xs ...string) decimal.Decimal {
	t.Helper()
	total := decimal.Zero
	for _, x := range xs {
		var err error
		if total, err = total.Add(dec(t, x)); err != nil {
			t.Fatal(err)
		}
	}
	return total
}

// cdrCost reads one of the CDR document's cost members (total_cost,
// total_energy_cost, …); zero when the document leaves it out.
func cdrCost(t *testing.T, doc []byte, name string) (excl, incl decimal.Decimal) {
	t.Helper()
	var m map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	raw, ok := m[name]
	if !ok {
		return decimal.Zero, decimal.Zero
	}
	var p struct{ ExclVAT, InclVAT json.Number }
	d = json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&struct {
		ExclVAT *json.Number `json:"excl_vat"`
		InclVAT *json.Number `json:"incl_vat"`
	}{&p.ExclVAT, &p.InclVAT}); err != nil {
		t.Fatal(err)
	}
	excl = dec(t, p.ExclVAT.String())
	incl = excl
	if p.InclVAT != "" {
		incl = dec(t, p.InclVAT.String())
	}
	return excl, incl
}

// checkItemization holds an itemization to the rules every receipt relies
// on, whatever the tariff: its totals are the CDR's, category by category;
// subtotal and adjustment make the total; the VAT rows add up to the
// total exactly, each net + VAT = gross; one line per engine line.
func checkItemization(t *testing.T, p priced) {
	t.Helper()
	it, r := p.items, p.result
	if len(it.Lines) != len(r.Lines) {
		t.Fatalf("%d lines, want the engine's %d", len(it.Lines), len(r.Lines))
	}
	for i, l := range it.Lines {
		el := r.Lines[i]
		if l.Period != int(el.Period)+1 || l.Element != el.Element()+1 || dec(t, l.UnitPrice).Cmp(el.UnitPrice()) != 0 ||
			dec(t, l.Quantity).Cmp(el.Quantity) != 0 {
			t.Errorf("line %d = %+v, engine's %+v", i, l, el)
		}
	}
	if it.Total.ExclVAT != p.cdr.TotalExclVAT || it.Total.InclVAT != p.cdr.TotalInclVAT || it.AmountMinor != p.cdr.AmountMinor {
		t.Errorf("total %+v (%d), CDR %s/%s (%d)", it.Total, it.AmountMinor, p.cdr.TotalExclVAT, p.cdr.TotalInclVAT, p.cdr.AmountMinor)
	}
	for name, a := range map[string]receipt.Amounts{"total_cost": it.Total, "total_fixed_cost": it.Categories.Fixed,
		"total_energy_cost": it.Categories.Energy, "total_time_cost": it.Categories.Time,
		"total_parking_cost": it.Categories.Parking, "total_reservation_cost": it.Categories.Reservation} {
		excl, incl := cdrCost(t, p.cdr.Document, name)
		if dec(t, a.ExclVAT).Cmp(excl) != 0 || (it.HasVAT && dec(t, a.InclVAT).Cmp(incl) != 0) {
			t.Errorf("%s: receipt %+v, CDR document %s/%s", name, a, excl, incl)
		}
	}
	adj := receipt.Amounts{ExclVAT: "0", InclVAT: "0"}
	if it.Adjustment != nil {
		adj = it.Adjustment.Amount
	}
	if sum(t, it.Subtotal.ExclVAT, adj.ExclVAT).Cmp(dec(t, it.Total.ExclVAT)) != 0 ||
		sum(t, it.Subtotal.InclVAT, adj.InclVAT).Cmp(dec(t, it.Total.InclVAT)) != 0 {
		t.Errorf("subtotal %+v + adjustment %+v is not the total %+v", it.Subtotal, adj, it.Total)
	}
	if !it.HasVAT {
		if len(it.VAT) != 0 || it.Total.ExclVAT != it.Total.InclVAT {
			t.Errorf("a tariff without VAT: VAT rows %+v, total %+v", it.VAT, it.Total)
		}
		return
	}
	var nets, grosses []string
	for _, row := range it.VAT {
		if sum(t, row.Net, row.VAT).Cmp(dec(t, row.Gross)) != 0 {
			t.Errorf("VAT row %+v: net + VAT is not gross", row)
		}
		nets, grosses = append(nets, row.Net), append(grosses, row.Gross)
	}
	if sum(t, nets...).Cmp(dec(t, it.Total.ExclVAT)) != 0 || sum(t, grosses...).Cmp(dec(t, it.Total.InclVAT)) != 0 {
		t.Errorf("VAT rows %+v do not add up to the total %+v", it.VAT, it.Total)
	}
}

// vatRow is a VAT row in short: "rate net vat", "adj net vat" for an
// adjustment row.
func vatRows(rows []receipt.VATRow) []string {
	var out []string
	for _, r := range rows {
		rate := r.Rate
		if r.Adjustment {
			rate = "adj"
		}
		if rate == "" {
			rate = "-"
		}
		out = append(out, rate+" "+r.Net+" "+r.VAT)
	}
	return out
}

func TestItemize(t *testing.T) {
	example, err := os.ReadFile("../examples/tariff.json")
	if err != nil {
		t.Fatal(err)
	}
	twoRates := `{"price_components":[{"type":"FLAT","price":1.00,"step_size":1}]},
		{"price_components":[{"type":"ENERGY","price":0.40,"vat":19,"step_size":1},{"type":"TIME","price":1.20,"vat":19,"step_size":1}]},
		{"price_components":[{"type":"PARKING_TIME","price":3.00,"vat":7,"step_size":1}]}`
	oneRate := `{"price_components":[{"type":"ENERGY","price":0.30,"vat":21,"step_size":1}]}`
	// Three lines of 0.00005 each at three rates: rounded one by one they
	// would show 0.0003 against a total of 0.0002.
	tiny := `{"price_components":[{"type":"ENERGY","price":0.0005,"vat":10,"step_size":1}],"restrictions":{"start_time":"09:00","end_time":"09:10"}},
		{"price_components":[{"type":"ENERGY","price":0.0005,"vat":20,"step_size":1}],"restrictions":{"start_time":"09:10","end_time":"09:20"}},
		{"price_components":[{"type":"ENERGY","price":0.0005,"vat":5,"step_size":1}]}`
	for _, tt := range []struct {
		name     string
		tariff   string
		periods  []tariff.Period
		kinds    string   // the lines' kinds, space-separated
		vat      []string // vatRows
		min, max bool
		amount   string
	}{
		{
			name:    "example: fee, day energy and time, idle fee, one rate",
			tariff:  string(example),
			periods: []tariff.Period{period(t0, "11.5", 3600, 0), period(t0.Add(time.Hour), "0", 0, 1800)},
			kinds:   "fee energy time parking",
			// 0.35 + 11.5 × 0.45 + 1 h × 0.60 + 30 min × 6.00/h = 9.1250 excl.
			vat:    []string{"21 9.1250 1.9163"},
			amount: "11.04",
		},
		{
			name:    "example at night, parking outside the idle fee's hours",
			tariff:  string(example),
			periods: []tariff.Period{period(t0.Add(12*time.Hour), "20", 7200, 0), period(t0.Add(14*time.Hour), "0", 0, 3600)},
			kinds:   "fee energy time",
			vat:     []string{"21 7.3500 1.5435"},
			amount:  "8.89",
		},
		{
			name:    "two rates and a fee without VAT",
			tariff:  tariffDoc("", twoRates),
			periods: []tariff.Period{period(t0, "7.25", 1800, 0), period(t0.Add(30*time.Minute), "0", 0, 1200)},
			kinds:   "fee energy time parking",
			vat:     []string{"- 1.0000 0.0000", "7 1.0000 0.0700", "19 3.5000 0.6650"},
			amount:  "6.24",
		},
		{
			name:    "no VAT stated",
			tariff:  tariffDoc("", `{"price_components":[{"type":"ENERGY","price":0.25,"step_size":1}]}`),
			periods: []tariff.Period{period(t0, "10", 3600, 0)},
			kinds:   "energy",
			amount:  "2.50",
		},
		{
			name:    "min_price raises one rate's total",
			tariff:  tariffDoc(`"min_price":{"excl_vat":5.00,"incl_vat":6.05},`, oneRate),
			periods: []tariff.Period{period(t0, "2", 600, 0)},
			kinds:   "energy",
			vat:     []string{"21 5.0000 1.0500"},
			min:     true,
			amount:  "6.05",
		},
		{
			name:    "min_price over two rates is a row of its own",
			tariff:  tariffDoc(`"min_price":{"excl_vat":10.00,"incl_vat":11.50},`, twoRates),
			periods: []tariff.Period{period(t0, "1", 600, 0), period(t0.Add(10*time.Minute), "0", 0, 600)},
			kinds:   "fee energy time parking",
			vat:     []string{"- 1.0000 0.0000", "7 0.5000 0.0350", "19 0.6000 0.1140", "adj 7.9000 1.3510"},
			min:     true,
			amount:  "11.50",
		},
		{
			name:    "max_price caps the total",
			tariff:  tariffDoc(`"max_price":{"excl_vat":20.00,"incl_vat":24.20},`, oneRate),
			periods: []tariff.Period{period(t0, "100", 3600, 0)},
			kinds:   "energy",
			vat:     []string{"21 20.0000 4.2000"},
			max:     true,
			amount:  "24.20",
		},
		{
			name:   "rows rounded by running total",
			tariff: tariffDoc("", tiny),
			periods: []tariff.Period{period(t0, "0.1", 600, 0), period(t0.Add(10*time.Minute), "0.1", 600, 0),
				period(t0.Add(20*time.Minute), "0.1", 600, 0)},
			kinds:  "energy energy energy",
			vat:    []string{"5 0.0001 0.0000", "10 0.0000 0.0000", "20 0.0001 0.0000"},
			amount: "0.00",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tf := mustTariff(t, tt.tariff)
			p := price(t, tf, &tariff.Session{Start: tt.periods[0].Start, End: sessionEnd(tt.periods), Periods: tt.periods, Location: amsterdam})
			checkItemization(t, p)
			var kinds []string
			for _, l := range p.items.Lines {
				kinds = append(kinds, l.Kind)
			}
			if got := strings.Join(kinds, " "); got != tt.kinds {
				t.Errorf("kinds %q, want %q", got, tt.kinds)
			}
			if got := vatRows(p.items.VAT); strings.Join(got, "|") != strings.Join(tt.vat, "|") {
				t.Errorf("VAT rows %q, want %q", got, tt.vat)
			}
			adj := p.items.Adjustment
			if (adj != nil) != (tt.min || tt.max) || (adj != nil && (adj.MinApplied != tt.min || adj.MaxApplied != tt.max)) {
				t.Errorf("adjustment %+v, want min %v max %v", adj, tt.min, tt.max)
			}
			if p.items.Amount != tt.amount {
				t.Errorf("amount %s, want %s", p.items.Amount, tt.amount)
			}
			// The itemization survives the CDR's breakdown as stored.
			b, err := json.Marshal(p.items)
			if err != nil {
				t.Fatal(err)
			}
			var back receipt.Itemization
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if b2, _ := json.Marshal(back); !bytes.Equal(b, b2) {
				t.Errorf("itemization does not survive JSON:\n%s\n%s", b, b2)
			}
		})
	}
}

// sessionEnd is when the last period ends: its start plus its charging
// and parking time.
func sessionEnd(ps []tariff.Period) time.Time {
	last := ps[len(ps)-1]
	d, err := last.Time.Add(last.ParkingTime)
	if err != nil {
		panic(err)
	}
	n, _, _ := d.Int64(0)
	return last.Start.Add(time.Duration(n) * time.Second)
}

// TestItemizeLine spells out one line of each kind.
func TestItemizeLine(t *testing.T) {
	example, err := os.ReadFile("../examples/tariff.json")
	if err != nil {
		t.Fatal(err)
	}
	// Charging time followed by parking: step_size rounds the parking
	// (1799 s to 1800 s, in steps of 300 s), not the charging time.
	ps := []tariff.Period{period(t0, "11.5", 3600, 0), period(t0.Add(time.Hour), "0", 0, 1799)}
	p := price(t, mustTariff(t, string(example)), &tariff.Session{Start: t0, End: sessionEnd(ps), Periods: ps, Location: amsterdam})
	want := []receipt.Line{
		{Period: 1, Start: t0.UTC(), Kind: "fee", Dimension: "FLAT", Element: 1, Quantity: "1", QuantityUnit: "fee",
			UnitPrice: "0.35", PriceUnit: "fee", VATRate: "21", ExclVAT: "0.3500", InclVAT: "0.4235"},
		{Period: 1, Start: t0.UTC(), Kind: "energy", Dimension: "ENERGY", Element: 2, Quantity: "11.5", QuantityUnit: "kWh",
			UnitPrice: "0.45", PriceUnit: "kWh", VATRate: "21", ExclVAT: "5.1750", InclVAT: "6.2618"},
		{Period: 1, Start: t0.UTC(), Kind: "time", Dimension: "TIME", Element: 2, Quantity: "3600", QuantityUnit: "s",
			UnitPrice: "0.60", PriceUnit: "h", StepSize: 60, VATRate: "21", ExclVAT: "0.6000", InclVAT: "0.7260"},
		{Period: 2, Start: t0.Add(time.Hour).UTC(), Kind: "parking", Dimension: "PARKING_TIME", Element: 4, Quantity: "1800",
			QuantityUnit: "s", StepExtra: "1", UnitPrice: "6.00", PriceUnit: "h", StepSize: 300, VATRate: "21", ExclVAT: "3.0000", InclVAT: "3.6300"},
	}
	for i := range want {
		if i >= len(p.items.Lines) {
			t.Fatalf("%d lines, want %d", len(p.items.Lines), len(want))
		}
		if got := p.items.Lines[i]; got != want[i] {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
}

// world is the records of one ended session, ready for Build.
func world(t *testing.T) receipt.Inputs {
	t.Helper()
	example, err := os.ReadFile("../examples/tariff.json")
	if err != nil {
		t.Fatal(err)
	}
	tf := mustTariff(t, string(example))
	ps := []tariff.Period{period(t0, "12.5", 3600, 0), period(t0.Add(time.Hour), "0", 0, 600)}
	end := sessionEnd(ps)
	p := price(t, tf, &tariff.Session{Start: t0, End: end, Periods: ps, Location: amsterdam})
	stop := end.UTC()
	return receipt.Inputs{
		Operator: "Acme Charging", CDR: p.cdr, Itemization: p.items, Tariff: tf,
		Session: evbill.Session{ID: "ses_1", StationID: "sta_1", ConnectorNumber: 1, TariffID: "tar_1", TariffVersion: 2,
			MeterStartWh: "1000", MeterStopWh: "13500", StartedAt: t0.UTC(), StoppedAt: &stop, State: evbill.SessionEnded},
		Station: evbill.Station{ID: "sta_1", ChargePointID: "CP-1", Vendor: "ABL", Model: "eMH3"},
		Site: evbill.Site{ID: "site_1", Name: "Centraal", Address: "Stationsplein 1", City: "Amsterdam", PostalCode: "1012 AB",
			Country: "NL", TimeZone: "Europe/Amsterdam"},
		Connector: evbill.Connector{ConnectorNumber: 1, Standard: "IEC_62196_T2", PowerType: "AC_3_PHASE", MaxPowerKW: "22"},
	}
}

// signed returns the session's begin and end records from the meter, as
// stored, for the energy between them.
func signed(t *testing.T, m *meter.Meter, beginWh, endWh int64) []evbill.SignedValue {
	t.Helper()
	b, err := m.Reading(meter.Begin, t0, beginWh, "TAG1")
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Reading(meter.End, t0.Add(70*time.Minute), endWh, "TAG1")
	if err != nil {
		t.Fatal(err)
	}
	return []evbill.SignedValue{
		{Seq: 1, Time: t0.UTC(), Context: "Transaction.Begin", Raw: b},
		{Seq: 2, Time: t0.Add(70 * time.Minute).UTC(), Context: "Transaction.End", Raw: e},
	}
}

func TestBuild(t *testing.T) {
	m256, err := meter.New(elliptic.P256(), "MTR-256")
	if err != nil {
		t.Fatal(err)
	}
	m384, err := meter.New(elliptic.P384(), "MTR-384")
	if err != nil {
		t.Fatal(err)
	}
	other, err := meter.New(elliptic.P256(), "MTR-256")
	if err != nil {
		t.Fatal(err)
	}
	good := signed(t, m256, 1000, 13500)
	tampered := signed(t, m256, 1000, 13500)
	tampered[1].Raw = strings.Replace(tampered[1].Raw, `"RV":13500`, `"RV":13600`, 1)
	brainpool := signed(t, m256, 1000, 13500)
	brainpool[0].Raw = strings.Replace(brainpool[0].Raw, receiptSA(m256), "ECDSA-brainpool256r1-SHA256", 1)

	for _, tt := range []struct {
		name    string
		edit    func(in *receipt.Inputs)
		status  string
		reason  string // contained in the OCMF reason
		energy  string // the energy check's outcome; "" for none
		signed  string // its signed_wh
		payment *receipt.Settlement
		err     string
	}{
		{name: "no signed values", status: receipt.StatusNone, reason: "no signed meter values"},
		{name: "verified, energy matches", edit: func(in *receipt.Inputs) {
			in.Station.MeterPublicKey, in.Signed = m256.PublicKeyHex(), good
		}, status: receipt.StatusVerified, energy: receipt.EnergyMatch, signed: "12500"},
		{name: "verified on P-384", edit: func(in *receipt.Inputs) {
			in.Station.MeterPublicKey, in.Signed = m384.PublicKeyHex(), signed(t, m384, 500, 13000)
		}, status: receipt.StatusVerified, energy: receipt.EnergyMatch, signed: "12500"},
		{name: "verified, energy differs", edit: func(in *receipt.Inputs) {
			in.Station.MeterPublicKey, in.Signed = m256.PublicKeyHex(), signed(t, m256, 1000, 13400)
		}, status: receipt.StatusVerified, energy: receipt.EnergyMismatch, signed: "12400"},
		{name: "a changed reading", edit: func(in *receipt.Inputs) {
			in.Station.MeterPublicKey, in.Signed = m256.PublicKeyHex(), tampered
		}, status: receipt.StatusSignatureInvalid, reason: "record 2 (Transaction.End): the signature does not match", energy: receipt.EnergyNotComparable},
		{name: "another meter's key", edit: func(in *receipt.Inputs) {
			in.Station.MeterPublicKey, in.Signed = other.PublicKeyHex(), good
		}, status: receipt.StatusSignatureInvalid, reason: "record 1 (Transaction.Begin)", energy: receipt.EnergyNotCompared},
		{name: "no key on record", edit: func(in *receipt.Inputs) { in.Signed = good },
			status: receipt.StatusNotVerifiable, reason: "no meter public key on record", energy: receipt.EnergyNotCompared},
		{name: "a P-384 key for P-256 records", edit: func(in *receipt.Inputs) {
			in.Station.MeterPublicKey, in.Signed = m384.PublicKeyHex(), good
		}, status: receipt.StatusNotVerifiable, reason: "curve mismatch", energy: receipt.EnergyNotCompared},
		{name: "a brainpool record", edit: func(in *receipt.Inputs) {
			in.Station.MeterPublicKey, in.Signed = m256.PublicKeyHex(), brainpool
		}, status: receipt.StatusNotVerifiable, reason: "ECDSA-brainpool256r1-SHA256 is not supported: Go's standard library has no brainpool curves",
			energy: receipt.EnergyNotComparable},
		{name: "a record that does not parse", edit: func(in *receipt.Inputs) {
			in.Station.MeterPublicKey = m256.PublicKeyHex()
			in.Signed = append(good[:1:1], evbill.SignedValue{Seq: 2, Context: "Transaction.End", Raw: "OCMF|{broken|{}"})
		}, status: receipt.StatusNotVerifiable, reason: "record 2 (Transaction.End): the record cannot be read", energy: receipt.EnergyNotComparable},
		{name: "paid by card", edit: func(in *receipt.Inputs) {
			in.Payment = &evbill.Payment{ID: "pay_1", Gateway: "sandbox", State: evbill.PaymentCaptured, Currency: "EUR", Captured: in.CDR.AmountMinor}
		}, status: receipt.StatusNone, payment: &receipt.Settlement{ID: "pay_1", Method: "card", Gateway: "sandbox", State: "captured",
			Currency: "EUR", Captured: "9.17", CapturedMinor: 917}},
		{name: "from a wallet, partly refunded", edit: func(in *receipt.Inputs) {
			in.Payment = &evbill.Payment{ID: "pay_2", Gateway: evbill.PayByWallet, State: evbill.PaymentCaptured, Currency: "EUR", Captured: 1335, Refunded: 5}
		}, status: receipt.StatusNone, payment: &receipt.Settlement{ID: "pay_2", Method: "wallet", State: "captured",
			Currency: "EUR", Captured: "13.35", CapturedMinor: 1335, Refunded: "0.05", RefundedMinor: 5}},
		{name: "on account, not yet captured", edit: func(in *receipt.Inputs) {
			in.Payment = &evbill.Payment{ID: "pay_3", Gateway: evbill.PayByAccount, State: evbill.PaymentHeld, Currency: "EUR"}
		}, status: receipt.StatusNone, payment: &receipt.Settlement{ID: "pay_3", Method: "account", State: "held", Currency: "EUR", Captured: "0.00"}},
		{name: "an itemization that is not the CDR's", edit: func(in *receipt.Inputs) { in.Itemization.Total.InclVAT = "0.0000" },
			err: "itemization totals"},
		{name: "a CDR in another currency than its itemization", edit: func(in *receipt.Inputs) { in.Itemization.Currency = "USD" },
			err: "itemization totals"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := world(t)
			if tt.edit != nil {
				tt.edit(&in)
			}
			r, err := receipt.Build(in)
			if tt.err != "" {
				if evbill.ErrorCode(err) != evbill.EINTERNAL || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want EINTERNAL about %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o := r.Signed
			if o.Status != tt.status || !strings.Contains(o.Reason, tt.reason) {
				t.Errorf("ocmf %s (%s), want %s containing %q", o.Status, o.Reason, tt.status, tt.reason)
			}
			if len(o.Records) != len(in.Signed) || len(o.Checks) != len(in.Signed) {
				t.Fatalf("%d records, %d checks for %d signed values", len(o.Records), len(o.Checks), len(in.Signed))
			}
			for i, v := range in.Signed {
				if o.Records[i] != v.Raw {
					t.Errorf("record %d is not as stored:\n%s\n%s", i, o.Records[i], v.Raw)
				}
			}
			if o.PublicKey != in.Station.MeterPublicKey {
				t.Errorf("public key %q, want the station's", o.PublicKey)
			}
			switch {
			case tt.energy == "" && o.EnergyCheck != nil:
				t.Errorf("energy check %+v without records", o.EnergyCheck)
			case tt.energy != "" && (o.EnergyCheck == nil || o.EnergyCheck.Outcome != tt.energy || o.EnergyCheck.SignedWh != tt.signed || o.EnergyCheck.BilledWh != "12500"):
				t.Errorf("energy check %+v, want %s signed %q billed 12500", o.EnergyCheck, tt.energy, tt.signed)
			}
			if (r.Payment == nil) != (tt.payment == nil) || (r.Payment != nil && *r.Payment != *tt.payment) {
				t.Errorf("payment %+v, want %+v", r.Payment, tt.payment)
			}
		})
	}
}

// receiptSA is the SA of the meter's records.
func receiptSA(m *meter.Meter) string { return m.Algorithm() }

// TestBuildSession checks the receipt's description of the session: the
// places, the times in the site's zone, the energy and the money, each
// equal to the CDR's.
func TestBuildSession(t *testing.T) {
	in := world(t)
	r, err := receipt.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Start.Location().String() != "Europe/Amsterdam" || !r.Start.Equal(t0) || r.Start.Hour() != 9 || r.TimeZone != "Europe/Amsterdam" {
		t.Errorf("start %v in %s, want 09:00 in Amsterdam", r.Start, r.TimeZone)
	}
	if !r.End.Equal(t0.Add(70*time.Minute)) || r.DurationSeconds != 4200 {
		t.Errorf("end %v, duration %d", r.End, r.DurationSeconds)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"start":"2026-03-02T09:00:00+01:00"`, `"end":"2026-03-02T10:10:00+01:00"`,
		`"start":"2026-03-02T10:00:00+01:00"`, // the parking period's line
		`"operator":{"name":"Acme Charging","country_code":"NL","party_id":"EVB"}`,
		`"station":{"id":"sta_1","charge_point_id":"CP-1","vendor":"ABL","model":"eMH3"}`,
		`"connector":{"number":1,"standard":"IEC_62196_T2","power_type":"AC_3_PHASE","max_power_kw":"22"}`,
		`"energy_kwh":"12.5"`, `"tariff":{"id":"tar_1","version":2,"text":[{"language":"en","text":"€0.35 start fee.`,
		`"ocmf":{"status":"none"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("receipt lacks %s:\n%s", want, b)
		}
	}
	if r.Total.ExclVAT != in.CDR.TotalExclVAT || r.Total.InclVAT != in.CDR.TotalInclVAT {
		t.Errorf("total %+v, CDR %s/%s", r.Total, in.CDR.TotalExclVAT, in.CDR.TotalInclVAT)
	}
	// 0.35 + 12.5 × 0.45 + 0.60 + 10 min × 6/h = 7.5750 excl., 9.1658 incl.:
	// charged 9.17, of which 7.58 net and 1.59 VAT, as the ledger posts.
	want := receipt.Charge{Amount: "9.17", AmountMinor: 917, Net: "7.58", VAT: "1.59"}
	if r.Charge != want || r.Total.ExclVAT != "7.5750" {
		t.Errorf("charge %+v (total %+v), want %+v", r.Charge, r.Total, want)
	}
	if len(r.Lines) != 4 || r.Lines[3].Kind != "parking" || r.Lines[3].Start.Location().String() != "Europe/Amsterdam" {
		t.Errorf("lines %+v", r.Lines)
	}
	if fmt.Sprint(vatRows(r.VAT)) != "[21 7.5750 1.5908]" {
		t.Errorf("VAT %v", vatRows(r.VAT))
	}
}
