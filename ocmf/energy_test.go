package ocmf

import (
	"os"
	"strings"
	"testing"
)

// rdg formats one reading; fields left empty are left out.
func rdg(tm, tx, rv, ri, ru, ef, st string) string {
	var parts []string
	add := func(k, v string, quoted bool) {
		if v == "" {
			return
		}
		if quoted {
			v = `"` + v + `"`
		}
		parts = append(parts, `"`+k+`":`+v)
	}
	add("TM", "2018-07-24T13:"+tm+",000+0200 S", tm != "")
	add("TX", tx, true)
	add("RV", rv, false)
	add("RI", ri, true)
	add("RU", ru, true)
	if ef != "-" {
		parts = append(parts, `"EF":"`+ef+`"`)
	}
	add("ST", st, true)
	return "{" + strings.Join(parts, ",") + "}"
}

func parsedWith(t *testing.T, pg string, readings ...string) Record {
	t.Helper()
	return mustParse(t, record(payloadWith(pg, strings.Join(readings, ",")), `{"SD":"00"}`))
}

func TestCompareEnergy(t *testing.T) {
	const imp = "1-0:1.8.0"
	tests := []struct {
		name     string
		readings []string
		billed   string
		want     EnergyOutcome
		metered  string
		reason   string // the whole reason, or with a trailing "…" its beginning
	}{
		{"kWh match", []string{rdg("22:04", "B", "2935.600", imp, "kWh", "", "G"), rdg("26:04", "E", "2965.100", imp, "kWh", "", "G")},
			"29500", Match, "29500", ""},
		{"kWh match, billed with decimals", []string{rdg("22:04", "B", "2935.600", imp, "kWh", "", "G"), rdg("26:04", "E", "2965.100", imp, "kWh", "", "G")},
			"29500.000", Match, "29500", ""},
		{"Wh match", []string{rdg("22:04", "B", "2935600", imp, "Wh", "", "G"), rdg("26:04", "E", "2965100.5", imp, "Wh", "", "G")},
			"29500.5", Match, "29500.5", ""},
		{"begin in kWh, end in Wh", []string{rdg("22:04", "B", "2935.6", imp, "kWh", "", "G"), rdg("26:04", "E", "2965100", imp, "Wh", "", "G")},
			"29500", Match, "29500", ""},
		{"fractional Wh exact", []string{rdg("22:04", "B", "0.2596", "1-b:1.8.0", "kWh", "", "G"), rdg("26:04", "E", "0.2597", "1-b:1.8.0", "kWh", "", "G")},
			"0.1", Match, "0.1", ""},
		{"exponent in RV", []string{rdg("22:04", "B", "2.9356e3", imp, "kWh", "", "G"), rdg("26:04", "E", "29651E-1", imp, "kWh", "", "G")},
			"29500", Match, "29500", ""},
		{"mismatch", []string{rdg("22:04", "B", "2935.600", imp, "kWh", "", "G"), rdg("26:04", "E", "2965.100", imp, "kWh", "", "G")},
			"29510", Mismatch, "29500", "billed 29510 Wh, metered 29500 Wh (register 1-0:1.8.0, 2935600 to 2965100): difference 10 Wh"},
		{"billed in kWh by mistake", []string{rdg("22:04", "B", "2935.600", imp, "kWh", "", "G"), rdg("26:04", "E", "2965.100", imp, "kWh", "", "G")},
			"29.5", Mismatch, "29500", "billed 29.5 Wh, metered 29500 Wh (register 1-0:1.8.0, 2935600 to 2965100): difference -29470.5 Wh"},
		{"meter went backwards", []string{rdg("22:04", "B", "10", imp, "kWh", "", "G"), rdg("26:04", "E", "9.5", imp, "kWh", "", "G")},
			"500", Mismatch, "-500", "billed 500 Wh, metered -500 Wh (register 1-0:1.8.0, 10000 to 9500): difference 1000 Wh; the end reading is below the begin reading"},
		{"ended locally (L)", []string{rdg("22:04", "B", "1", imp, "kWh", "", "G"), rdg("26:04", "L", "2", imp, "kWh", "", "G")},
			"1000", Match, "1000", ""},
		{"aborted by error (A), energy still valid", []string{rdg("22:04", "B", "1", imp, "kWh", "", "G"), rdg("26:04", "A", "2", imp, "kWh", "", "G")},
			"1000", Match, "1000", ""},
		{"readings in between, fields inherited", []string{rdg("22:04", "B", "1", imp, "kWh", "", "G"), rdg("23:04", "C", "1.5", "", "", "-", ""), rdg("24:04", "", "1.7", "", "", "-", ""), rdg("26:04", "E", "2", "", "", "-", "")},
			"1000", Match, "1000", ""},
		{"time error only (EF=t) is fine", []string{rdg("22:04", "B", "1", imp, "kWh", "t", "G"), rdg("23:04", "X", "", "", "", "t", ""), rdg("26:04", "E", "2", imp, "kWh", "t", "G")},
			"1000", Match, "1000", ""},
		{"tariff registers are not the total", []string{rdg("22:04", "B", "1", "1-0:1.8.1", "kWh", "", "G"), rdg("26:04", "E", "2", "1-0:1.8.1", "kWh", "", "G")},
			"1000", NotComparable, "", "no begin (TX=B) and end (TX=E) readings of an energy import register…"},
		{"no RI, unit kWh", []string{rdg("22:04", "B", "1", "", "kWh", "", "G"), rdg("26:04", "E", "2", "", "kWh", "", "G")},
			"1000", Match, "1000", ""},
		{"no end reading", []string{rdg("22:04", "B", "1", imp, "kWh", "", "G"), rdg("26:04", "C", "2", imp, "kWh", "", "G")},
			"1000", NotComparable, "", "register 1-0:1.8.0 has a begin reading (record 0 RD[0]) but no end reading (TX=E, L, R, A or P)"},
		{"no begin reading", []string{rdg("22:04", "C", "1", imp, "kWh", "", "G"), rdg("26:04", "E", "2", imp, "kWh", "", "G")},
			"1000", NotComparable, "", "register 1-0:1.8.0 has an end reading (record 0 RD[1]) but no begin reading (TX=B)"},
		{"fiscal readings, no transaction", []string{rdg("22:04", "", "1", imp, "kWh", "", "G"), rdg("26:04", "", "2", imp, "kWh", "", "G")},
			"1000", NotComparable, "", "no begin (TX=B) and end (TX=E) readings…"},
		{"other unit", []string{rdg("22:04", "B", "1", imp, "MWh", "", "G"), rdg("26:04", "E", "2", imp, "MWh", "", "G")},
			"1000", NotComparable, "", `the begin reading (record 0 RD[0]) is in "MWh": only Wh and kWh are compared`},
		{"reactive energy only", []string{rdg("22:04", "B", "1", "1-0:3.8.0", "kvarh", "", "G"), rdg("26:04", "E", "2", "1-0:3.8.0", "kvarh", "", "G")},
			"1000", NotComparable, "", "no begin (TX=B) and end (TX=E) readings…"},
		{"meter state not OK", []string{rdg("22:04", "B", "1", imp, "kWh", "", "G"), rdg("26:04", "E", "2", imp, "kWh", "", "S")},
			"1000", NotComparable, "", "the meter's state at the end reading (record 0 RD[1]) is S, not G (OK)"},
		{"energy error flag", []string{rdg("22:04", "B", "1", imp, "kWh", "", "G"), rdg("26:04", "E", "2", imp, "kWh", "E", "G")},
			"1000", NotComparable, "", `record 0 RD[1] (TX=E, EF="E") marks energy as no longer usable for billing`},
		{"exception without flags", []string{rdg("22:04", "B", "1", imp, "kWh", "", "G"), rdg("24:04", "X", "1.5", imp, "kWh", "", "G"), rdg("26:04", "E", "2", imp, "kWh", "", "G")},
			"1000", NotComparable, "", `record 0 RD[1] (TX=X, EF="") marks energy as no longer usable for billing`},
		{"end before begin", []string{rdg("26:04", "B", "1", imp, "kWh", "", "G"), rdg("22:04", "E", "2", imp, "kWh", "", "G")},
			"1000", NotComparable, "", "the end reading (record 0 RD[1], 2018-07-24T13:22:04,000+0200 S) is earlier than the begin reading (record 0 RD[0], 2018-07-24T13:26:04,000+0200 S)"},
		{"two begins", []string{rdg("22:04", "B", "1", imp, "kWh", "", "G"), rdg("23:04", "B", "1.5", imp, "kWh", "", "G"), rdg("26:04", "E", "2", imp, "kWh", "", "G")},
			"1000", NotComparable, "", "register 1-0:1.8.0 has 2 begin readings (record 0 RD[0], record 0 RD[1]): a session has one"},
		{"billed not a number", []string{rdg("22:04", "B", "1", imp, "kWh", "", "G"), rdg("26:04", "E", "2", imp, "kWh", "", "G")},
			"1,000", NotComparable, "", `billed energy: "1,000" is not a decimal number`},
		{"RV out of range", []string{rdg("22:04", "B", "1e999999999", imp, "kWh", "", "G"), rdg("26:04", "E", "2", imp, "kWh", "", "G")},
			"1000", NotComparable, "", `begin reading (record 0 RD[0]) RV: "1e999999999": exponent out of range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parsedWith(t, "T1", tt.readings...)
			got := CompareEnergy(r, tt.billed)
			if got.Outcome != tt.want || got.MeteredWh != tt.metered || !reasonMatches(got.Reason, tt.reason) || got.BilledWh != tt.billed {
				t.Errorf("CompareEnergy(%s) =\n %+v\nwant %s, metered %q, reason %q", tt.billed, got, tt.want, tt.metered, tt.reason)
			}
		})
	}
}

// The spec's example carries the mains register (1.8.0, with the cable
// loss CL), the device register B1 and the transaction device register B3.
// The device register is what the vehicle received, so it is compared.
func TestCompareEnergySpecExample(t *testing.T) {
	b, err := os.ReadFile("testdata/spec-example.ocmf")
	if err != nil {
		t.Fatal(err)
	}
	r := mustParse(t, b)
	got := CompareEnergy(r, "29000")
	if got.Outcome != Match || got.Register != "01-0B:B1.08.00*FF" || got.BeginWh != "2905600" || got.EndWh != "2934600" || got.MeteredWh != "29000" {
		t.Errorf("CompareEnergy = %+v", got)
	}
	got = CompareEnergy(r, "29500") // the mains energy, before the cable's loss
	if got.Outcome != Mismatch || got.DifferenceWh != "500" {
		t.Errorf("CompareEnergy(29500) = %+v", got)
	}
	if got.String() != "mismatch: billed 29500 Wh, metered 29000 Wh (register 01-0B:B1.08.00*FF, 2905600 to 2934600): difference 500 Wh" {
		t.Errorf("String() = %s", got)
	}
}

// With only the mains register, CL is reported, not subtracted.
func TestCompareEnergyReportsCableLoss(t *testing.T) {
	r := parsedWith(t, "T1", `{"TM":"2018-07-24T13:22:04,000+0200 S","TX":"B","RV":2935.600,"RI":"01-0B:01.08.00*FF","RU":"kWh","ST":"G"}`,
		`{"TM":"2018-07-24T13:26:04,000+0200 S","TX":"E","RV":2965.100,"CL":0.5,"ST":"G"}`)
	got := CompareEnergy(r, "29000")
	if got.Outcome != Mismatch || got.MeteredWh != "29500" || got.LossWh != "500" ||
		got.Reason != "billed 29000 Wh, metered 29500 Wh (register 01-0B:01.08.00*FF, 2935600 to 2965100): difference -500 Wh; the meter reports a cable loss of 500 Wh" {
		t.Errorf("CompareEnergy = %+v", got)
	}
}

// Chargers in the spec's "SR" mode sign the begin and the end in separate
// records.
func TestCompareSessionEnergy(t *testing.T) {
	const imp = "1-0:1.8.0"
	begin := parsedWith(t, "T7", rdg("22:04", "B", "2935.600", imp, "kWh", "", "G"))
	end := parsedWith(t, "T9", rdg("26:04", "E", "2965.100", imp, "kWh", "", "G"))
	between := parsedWith(t, "T8", rdg("24:04", "C", "2950", imp, "kWh", "", "G"))
	otherMeter := end
	otherMeter.Payload.MeterSerial = "OTHER"
	otherUser := end
	otherUser.Payload.IdentificationData = "04AABBCCDDEEFF"
	fiscal := end
	fiscal.Payload.Pagination = Pagination{Context: "F", Number: 9}
	earlier := end
	earlier.Payload.Pagination = Pagination{Context: "T", Number: 6}

	tests := []struct {
		name    string
		records []Record
		want    EnergyOutcome
		reason  string
	}{
		{"begin and end records", []Record{begin, end}, Match, ""},
		{"given end first", []Record{end, begin}, Match, ""},
		{"with a MeterValues record between", []Record{begin, between, end}, Match, ""},
		{"begin only", []Record{begin}, NotComparable, "register 1-0:1.8.0 has a begin reading (record 0 RD[0]) but no end reading (TX=E, L, R, A or P)"},
		{"end twice", []Record{begin, end, end}, NotComparable, "register 1-0:1.8.0 has 2 end readings (record 1 RD[0], record 2 RD[0]): a session has one"},
		{"another meter", []Record{begin, otherMeter}, NotComparable, `records 0 and 1 come from different meters (MS "BQ27400330016"/"OTHER", GS "808829900001"/"808829900001")`},
		{"another user", []Record{begin, otherUser}, NotComparable, `begin and end records identify different users (ID "1F2D3A4F5506C7", "04AABBCCDDEEFF")`},
		{"fiscal context", []Record{begin, fiscal}, NotComparable, "begin and end are in different records whose pagination is not both in the transaction context (PG T7, F9)"},
		{"pagination backwards", []Record{begin, earlier}, NotComparable, "the end's record (PG T6) does not come after the begin's (PG T7)"},
		{"no records", nil, NotComparable, "no records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CompareSessionEnergy(tt.records, "29500")
			if got.Outcome != tt.want || got.Reason != tt.reason {
				t.Errorf("CompareSessionEnergy = %+v\nwant %s, reason %q", got, tt.want, tt.reason)
			}
			if tt.want == Match && (got.MeteredWh != "29500" || got.String() != "match: 29500 Wh (register 1-0:1.8.0)") {
				t.Errorf("match = %+v", got)
			}
		})
	}
}

func TestClassifyRegister(t *testing.T) {
	tests := map[string]registerKind{
		"1-0:1.8.0": kindMainsTotal, "1-b:1.8.0": kindMainsTotal, "1-0:1.8.0*255": kindMainsTotal, "01-00:01.08.00*FF": kindMainsTotal,
		"01-0B:01.08.00*FF": kindMainsTotal, "1.8.0": kindMainsTotal, "01-00:B0.08.00*FF": kindMainsTotal,
		"01-00:B1.08.00*FF": kindDeviceTotal, "01-00:b1.08.00*ff": kindDeviceTotal, "01-00:B2.08.00*FF": kindMainsTransaction,
		"01-00:B3.08.00*FF": kindDeviceTransaction, "": kindUnnamed,
		"1-0:1.8.1": kindOther, "1-0:2.8.0": kindOther, "01-00:C0.08.00*FF": kindOther, "1-0:1.7.0": kindOther, "1-0:1.8": kindOther, "x": kindOther,
	}
	for ri, want := range tests {
		if got := classifyRegister(ri); got != want {
			t.Errorf("classifyRegister(%q) = %d, want %d", ri, got, want)
		}
	}
}

func TestDecimal(t *testing.T) {
	tests := []struct{ in, out string }{
		{"0", "0"}, {"-0", "0"}, {"0.000", "0"}, {"2935.600", "2935.6"}, {"+12", "12"}, {"-12.50", "-12.5"},
		{"1e3", "1000"}, {"1.5E-3", "0.0015"}, {"29651E-1", "2965.1"}, {"0.0001", "0.0001"}, {"100", "100"},
		{"123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"}, {"1e+0002", "100"},
	}
	for _, tt := range tests {
		d, err := parseDecimal(tt.in)
		if err != nil {
			t.Errorf("parseDecimal(%q): %v", tt.in, err)
			continue
		}
		if got := d.String(); got != tt.out {
			t.Errorf("parseDecimal(%q).String() = %q, want %q", tt.in, got, tt.out)
		}
	}
	for _, in := range []string{"", "-", ".5", "5.", "1e", "1e+", "1,5", "0x10", "1 ", " 1", "NaN", "1e99999", "1e61", strings.Repeat("9", 61)} {
		if d, err := parseDecimal(in); err == nil {
			t.Errorf("parseDecimal(%q) = %s, want an error", in, d)
		}
	}
	a, _ := parseDecimal("2965.100")
	b, _ := parseDecimal("2935.600")
	if got := a.sub(b).shift(3).String(); got != "29500" {
		t.Errorf("2965.100 − 2935.600 in Wh = %s", got)
	}
}
