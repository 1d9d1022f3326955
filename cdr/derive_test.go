package cdr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/evbill/evbill/tariff"
)

// cdrJSON builds a compact CDR from its periods, each given as
// start and dimensions JSON.
func cdrJSON(start, end string, extra string, periods ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"start_date_time":%q,"end_date_time":%q,"currency":"EUR","charging_periods":[`, start, end)
	for i := 0; i+1 < len(periods); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"start_date_time":%q,"dimensions":[%s]}`, periods[i], periods[i+1])
	}
	b.WriteString(`],"total_energy":0,"total_time":0`)
	b.WriteString(extra)
	b.WriteByte('}')
	return b.String()
}

func TestDerive(t *testing.T) {
	const (
		hE, hT, hP, hR = tariff.HasEnergy, tariff.HasTime, tariff.HasParkingTime, tariff.HasReservationTime
		hMaxI          = tariff.HasMaxCurrent
	)
	type want struct {
		start        string
		has          tariff.Has
		energy, time string // time: seconds of TIME, PARKING_TIME or RESERVATION_TIME per has
	}
	tests := []struct {
		name    string
		in      string
		derived bool
		want    []want
	}{
		{
			name: "energy only, no parking: all TIME",
			in: cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z", "",
				"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":5}`,
				"2024-03-01T11:15:00Z", `{"type":"ENERGY","volume":3}`),
			derived: true,
			want: []want{
				{"2024-03-01T10:00:00Z", hE | hT, "5", "4500"},
				{"2024-03-01T11:15:00Z", hE | hT, "3", "2700"},
			},
		},
		{
			name: "parking starts inside a period: split",
			in: cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T12:30:00Z", `,"total_parking_time":0.75`,
				"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":5}`,
				"2024-03-01T11:00:00Z", `{"type":"ENERGY","volume":3},{"type":"MAX_CURRENT","volume":16}`),
			derived: true,
			want: []want{
				{"2024-03-01T10:00:00Z", hE | hT, "5", "3600"},
				{"2024-03-01T11:00:00Z", hE | hT | hMaxI, "3", "2700"},
				{"2024-03-01T11:45:00Z", hP | hMaxI, "0", "2700"},
			},
		},
		{
			name: "parking starts at a period boundary: no split",
			in: cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z", `,"total_parking_time":1`,
				"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":5}`,
				"2024-03-01T11:00:00Z", `{"type":"ENERGY","volume":0}`),
			derived: true,
			want: []want{
				{"2024-03-01T10:00:00Z", hE | hT, "5", "3600"},
				{"2024-03-01T11:00:00Z", hE | hP, "0", "3600"},
			},
		},
		{
			name: "zero parking time: all TIME",
			in: cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T10:30:00.25Z", `,"total_parking_time":0`,
				"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":1}`),
			derived: true,
			want:    []want{{"2024-03-01T10:00:00Z", hE | hT, "1", "1800.25"}},
		},
		{
			name: "whole session parking",
			in: cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T10:30:00Z", `,"total_parking_time":0.5`,
				"2024-03-01T10:00:00Z", `{"type":"MAX_POWER","volume":11}`),
			derived: true,
			want:    []want{{"2024-03-01T10:00:00Z", hP | tariff.HasMaxPower, "0", "1800"}},
		},
		{
			name: "reservation period is left alone",
			in: cdrJSON("2024-03-01T09:00:00Z", "2024-03-01T11:00:00Z", `,"total_parking_time":0.5`,
				"2024-03-01T09:00:00Z", `{"type":"RESERVATION_TIME","volume":1}`,
				"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":7}`),
			derived: true,
			want: []want{
				{"2024-03-01T09:00:00Z", hR, "0", "3600"},
				{"2024-03-01T10:00:00Z", hE | hT, "7", "1800"},
				{"2024-03-01T10:30:00Z", hP, "0", "1800"},
			},
		},
		{
			name: "reservation only: nothing to derive",
			in: cdrJSON("2024-03-01T09:00:00Z", "2024-03-01T10:00:00Z", "",
				"2024-03-01T09:00:00Z", `{"type":"RESERVATION_TIME","volume":1}`),
			want: []want{{"2024-03-01T09:00:00Z", hR, "0", "3600"}},
		},
		{
			name: "one period with TIME: no derivation",
			in: cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z", `,"total_parking_time":1`,
				"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":5}`,
				"2024-03-01T11:00:00Z", `{"type":"TIME","volume":0.5}`),
			want: []want{
				{"2024-03-01T10:00:00Z", hE, "5", "0"},
				{"2024-03-01T11:00:00Z", hT, "0", "1800"},
			},
		},
		{
			name: "one period with PARKING_TIME: no derivation",
			in: cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z", "",
				"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":5}`,
				"2024-03-01T11:00:00Z", `{"type":"PARKING_TIME","volume":1}`),
			want: []want{
				{"2024-03-01T10:00:00Z", hE, "5", "0"},
				{"2024-03-01T11:00:00Z", hP, "0", "3600"},
			},
		},
		{
			name: "zero-length last period",
			in: cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", `,"total_parking_time":0.25`,
				"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":5}`,
				"2024-03-01T11:00:00Z", `{"type":"ENERGY","volume":0}`),
			derived: true,
			want: []want{
				{"2024-03-01T10:00:00Z", hE | hT, "5", "2700"},
				{"2024-03-01T10:45:00Z", hP, "0", "900"},
				{"2024-03-01T11:00:00Z", hE | hP, "0", "0"},
			},
		},
		{
			name: "sub-nanosecond parking time is rounded",
			in: cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T10:00:01Z", `,"total_parking_time":0.0000000000002`,
				"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":1}`),
			derived: true,
			want: []want{
				{"2024-03-01T10:00:00Z", hE | hT, "1", "0.999999999"},
				{"2024-03-01T10:00:00.999999999Z", hP, "0", "0.000000001"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if c.Derived() != tt.derived {
				t.Errorf("Derived() = %v", c.Derived())
			}
			ps := c.Session.Periods
			if len(ps) != len(tt.want) {
				t.Fatalf("%d periods, want %d: %+v", len(ps), len(tt.want), ps)
			}
			for i, w := range tt.want {
				p := ps[i]
				sec := p.Time
				switch {
				case w.has&hP != 0:
					sec = p.ParkingTime
				case w.has&hR != 0:
					sec = p.ReservationTime
				}
				if !p.Start.Equal(ts(t, w.start)) || p.Has != w.has || p.Energy.Cmp(dec(w.energy)) != 0 || sec.Cmp(dec(w.time)) != 0 {
					t.Errorf("period %d = start %v has %b energy %s time %s park %s, want %+v",
						i, p.Start, p.Has, p.Energy, p.Time, p.ParkingTime, w)
				}
			}
		})
	}
}

func TestDeriveErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"parking overlaps a reservation", cdrJSON("2024-03-01T09:00:00Z", "2024-03-01T11:00:00Z", `,"total_parking_time":1.5`,
			"2024-03-01T09:00:00Z", `{"type":"RESERVATION_TIME","volume":1}`,
			"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":7}`),
			`total_parking_time: the parking time at the end of the session overlaps the RESERVATION_TIME period charging_periods[0]`},
		{"parking longer than the session", cdrJSON("2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", `,"total_parking_time":1.0000001`,
			"2024-03-01T10:00:00Z", `{"type":"ENERGY","volume":7}`),
			`total_parking_time: must not exceed the session's duration (end_date_time - start_date_time)`},
		{"session too long", cdrJSON("1700-01-01T00:00:00Z", "2024-03-01T11:00:00Z", ``,
			"1700-01-01T00:00:00Z", `{"type":"ENERGY","volume":7}`),
			`end_date_time: the session is too long (over 292 years) to derive its charging time from the clock`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}
}
