package charging

import (
	"errors"
	"testing"
	"time"

	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
)

func TestSample(t *testing.T) {
	at := time.Date(2025, 3, 14, 17, 15, 0, 0, time.UTC)
	tests := []struct {
		name     string
		readings []Reading
		want     evbill.MeterSample
		ok       bool
		err      bool
	}{
		{"default measurand is the energy register in Wh", []Reading{{Value: "1234.5"}}, evbill.MeterSample{EnergyWh: "1234.5"}, true, false},
		{"kWh becomes Wh exactly", []Reading{{Value: "12.3456", Measurand: measurandEnergy, Unit: "kWh"}}, evbill.MeterSample{EnergyWh: "12345.6"}, true, false},
		{"power in kW, current per phase summed", []Reading{
			{Value: "11.04", Measurand: measurandPower, Unit: "kW"},
			{Value: "16", Measurand: measurandCurrent, Phase: "L1", Unit: "A"},
			{Value: "16.1", Measurand: measurandCurrent, Phase: "L2", Unit: "A"},
			{Value: "15.9", Measurand: measurandCurrent, Phase: "L3", Unit: "A"},
		}, evbill.MeterSample{PowerW: "11040", CurrentA: "48"}, true, false},
		{"a total wins over phases", []Reading{
			{Value: "3", Measurand: measurandPower, Phase: "L1"}, {Value: "10000", Measurand: measurandPower},
		}, evbill.MeterSample{PowerW: "10000"}, true, false},
		{"state of charge and context", []Reading{{Value: "80", Measurand: measurandSoC, Unit: "Percent", Context: "Sample.Periodic"}},
			evbill.MeterSample{SoC: "80", Context: "Sample.Periodic"}, true, false},
		{"signed data and voltages are skipped", []Reading{{Value: "OCMF|{}|{}", Format: "SignedData"}, {Value: "230", Measurand: "Voltage"}},
			evbill.MeterSample{}, false, false},
		{"not a number", []Reading{{Value: "12,5"}}, evbill.MeterSample{}, false, true},
		{"negative register", []Reading{{Value: "-1"}}, evbill.MeterSample{}, false, true},
		{"unknown unit", []Reading{{Value: "1", Unit: "MWh"}}, evbill.MeterSample{}, false, true},
		{"float-like huge precision refused", []Reading{{Value: "0.12345678901234567890123"}}, evbill.MeterSample{}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := Sample("ses_1", at, tc.readings)
			if tc.err {
				if !errors.Is(err, ErrBadReading) {
					t.Fatalf("got %v, want ErrBadReading", err)
				}
				return
			}
			if err != nil || ok != tc.ok {
				t.Fatalf("ok %v, err %v", ok, err)
			}
			tc.want.SessionID, tc.want.Time = "ses_1", at
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPlausibility(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 17, 0, 0, 0, time.UTC)
	s := func(min int, wh string) evbill.MeterSample {
		return evbill.MeterSample{Time: t0.Add(time.Duration(min) * time.Minute), EnergyWh: wh}
	}
	kw22 := decimal.MustNew(22, 0)
	for _, tc := range []struct {
		name       string
		prev, next evbill.MeterSample
		want       string
	}{
		{"normal", s(0, "1000"), s(60, "23000"), ""},
		{"at the limit with tolerance", s(0, "1000"), s(60, "25201"), ""},
		{"beyond the connector", s(0, "1000"), s(60, "26202"), evbill.FlagImplausibleEnergy},
		{"backwards", s(0, "1000"), s(1, "999.9"), evbill.FlagMeterBackwards},
		{"no energy reading", s(0, "1000"), evbill.MeterSample{Time: t0}, ""},
	} {
		got, err := Plausibility(tc.prev, tc.next, kw22)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
