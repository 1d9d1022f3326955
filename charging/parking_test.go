package charging

import (
	"testing"
	"time"

	"github.com/evbill/evbill"
)

func TestParkingStart(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 17, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	s := func(min int, wh, w string) evbill.MeterSample {
		return evbill.MeterSample{Time: at(min), EnergyWh: wh, PowerW: w}
	}
	charging := []evbill.MeterSample{s(0, "0", "11000"), s(1, "183", "11000"), s(2, "366", "11000")}
	tests := []struct {
		name    string
		samples []evbill.MeterSample
		status  time.Time
		want    time.Time
		ok      bool
	}{
		{"still charging", charging, time.Time{}, time.Time{}, false},
		{"the meter shows it", append(append([]evbill.MeterSample{}, charging...), s(3, "366", "5"), s(4, "366", "0")), time.Time{}, at(3), true},
		{"standby draw above the threshold is charging", append(append([]evbill.MeterSample{}, charging...), s(3, "366", "150")), time.Time{}, time.Time{}, false},
		{"the charger says so between samples", append(append([]evbill.MeterSample{}, charging...), s(3, "366", "0")), at(2).Add(30 * time.Second), at(2).Add(30 * time.Second), true},
		{"a status before the last rise is an earlier pause", append(append([]evbill.MeterSample{}, charging...), s(3, "400", "11000")), at(1), time.Time{}, false},
		{"charging resumed after a pause: the last idle stretch counts", []evbill.MeterSample{
			s(0, "0", "11000"), s(1, "183", "0"), s(2, "183", "0"), s(3, "300", "7000"), s(4, "400", "7000"), s(5, "400", "0")}, time.Time{}, at(5), true},
	}
	for _, tc := range tests {
		got, ok := ParkingStart(tc.samples, tc.status)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
