package cdr

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill/tariff"
)

// TestAppendNewRoundTrips: a CDR evbill writes for a metered session parses
// back, and pricing the parsed CDR gives the same charge as pricing the
// session directly.
func TestAppendNewRoundTrips(t *testing.T) {
	doc, err := os.ReadFile("../examples/tariff.json")
	if err != nil {
		t.Fatal(err)
	}
	tf, err := tariff.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	start := time.Date(2025, 3, 14, 17, 15, 0, 0, time.UTC)
	m := &tariff.Metered{
		Start: start, MeterStartWh: decimal.MustNew(1000, 0), Location: ams,
		Samples: []tariff.Sample{
			{Time: start.Add(45 * time.Minute), EnergyWh: decimal.MustNew(9250, 0), PowerW: decimal.MustNew(11000, 0), HasPower: true},
			{Time: start.Add(90 * time.Minute), EnergyWh: decimal.MustNew(17050, 0), PowerW: decimal.MustNew(10400, 0), HasPower: true},
		},
		ParkingStart: start.Add(90 * time.Minute),
		End:          start.Add(135 * time.Minute), MeterStopWh: decimal.MustNew(17050, 0), HasMeterStop: true,
	}
	r, periods, err := tf.PriceMetered(m, false)
	if err != nil {
		t.Fatal(err)
	}
	s := &tariff.Session{Start: m.Start, End: m.End, Periods: periods, Location: ams}
	h := &Header{CountryCode: "NL", PartyID: "EVB", ID: "CDR-1", Start: m.Start, End: m.End, SessionID: "ses_1",
		Token:      Token{CountryCode: "NL", PartyID: "EVB", UID: "04A1B2", Type: "RFID", ContractID: "NL-EVB-1"},
		AuthMethod: "WHITELIST", Currency: "EUR", Tariffs: []json.RawMessage{doc}, LastUpdated: m.End,
		Location: Location{ID: "site_1", Address: "Stationsplein 1", City: "Amsterdam", Country: "NLD",
			Coordinates: Coordinates{"52.378901", "4.900272"}, EVSEUID: "sta_1", EVSEID: "NL*EVB*E1*1", ConnectorID: "1",
			ConnectorStandard: "IEC_62196_T2", ConnectorFormat: "SOCKET", ConnectorPowerType: "AC_3_PHASE"}}
	out, err := AppendNew(nil, h, s, &r)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	c, err := Parse(out)
	if err != nil {
		t.Fatalf("evbill's own CDR does not parse: %v\n%s", err, out)
	}
	c.Session.Location = ams
	again, err := tf.Price(&c.Session)
	if err != nil {
		t.Fatal(err)
	}
	if again.Charge != r.Charge {
		t.Errorf("the written CDR prices to %s, the session to %s\n%s", again.Charge, r.Charge, out)
	}
	var doc2 map[string]json.Number
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	var all map[string]any
	if err := d.Decode(&all); err != nil {
		t.Fatal(err)
	}
	doc2 = map[string]json.Number{}
	for _, k := range []string{"total_energy", "total_time", "total_parking_time"} {
		doc2[k], _ = all[k].(json.Number)
	}
	if doc2["total_energy"] != "16.05" || doc2["total_time"] != "2.25" || doc2["total_parking_time"] != "0.75" {
		t.Errorf("totals: %v %v %v", doc2["total_energy"], doc2["total_time"], doc2["total_parking_time"])
	}
}
