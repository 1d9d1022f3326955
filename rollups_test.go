package evbill_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ended(start, parking, stop, meterStart, meterStop string) evbill.Session {
	s := evbill.Session{StartedAt: at(start), MeterStartWh: meterStart, MeterStopWh: meterStop}
	e := at(stop)
	s.StoppedAt = &e
	if parking != "" {
		p := at(parking)
		s.ParkingStartedAt = &p
	}
	return s
}

// TestSessionRollupHours checks the attribution rule on sessions worked
// out by hand.
func TestSessionRollupHours(t *testing.T) {
	h := func(s string) int64 { return evbill.HourBucket(at(s)) }
	minute := int64(60e6)
	c := &evbill.CDR{Currency: "EUR", AmountMinor: 1210}
	tests := []struct {
		name string
		s    evbill.Session
		c    *evbill.CDR
		want []evbill.RollupHour
	}{
		{"within an hour", ended("2026-01-05T10:10:00Z", "", "2026-01-05T10:40:00Z", "100", "7100"), c,
			[]evbill.RollupHour{{Bucket: h("2026-01-05T10:00:00Z"), RollupFigures: evbill.RollupFigures{Sessions: 1,
				EnergyMWh: 7_000_000, ChargingMicros: 30 * minute, RevenueExclVAT: 1000, RevenueInclVAT: 1210}}}},
		// 20 + 60 + 10 minutes of charging share 10 Wh: 2.2222…, 6.6666…,
		// 1.1111… → 2222, 6666, 1111 and one left over, to the largest
		// remainder (6666.67 of the middle hour).
		{"energy by largest remainder", ended("2026-01-05T10:40:00Z", "2026-01-05T12:10:00Z", "2026-01-05T12:30:00Z", "0", "10"), c,
			[]evbill.RollupHour{
				{Bucket: h("2026-01-05T10:00:00Z"), RollupFigures: evbill.RollupFigures{EnergyMWh: 2222, ChargingMicros: 20 * minute}},
				{Bucket: h("2026-01-05T11:00:00Z"), RollupFigures: evbill.RollupFigures{EnergyMWh: 6667, ChargingMicros: 60 * minute}},
				{Bucket: h("2026-01-05T12:00:00Z"), RollupFigures: evbill.RollupFigures{Sessions: 1, EnergyMWh: 1111,
					ChargingMicros: 10 * minute, IdleMicros: 20 * minute, RevenueExclVAT: 1000, RevenueInclVAT: 1210}},
			}},
		// Ending on the hour: the session occupied 10:00–11:00 only, but
		// counts in the hour of its end.
		{"ends on the hour", ended("2026-01-05T10:00:00Z", "", "2026-01-05T11:00:00Z", "0", "0.0015"), nil,
			[]evbill.RollupHour{
				{Bucket: h("2026-01-05T10:00:00Z"), RollupFigures: evbill.RollupFigures{EnergyMWh: 2, ChargingMicros: 60 * minute}},
				{Bucket: h("2026-01-05T11:00:00Z"), RollupFigures: evbill.RollupFigures{Sessions: 1}},
			}},
		{"never charged", ended("2026-01-05T10:30:00Z", "2026-01-05T10:30:00Z", "2026-01-05T11:15:00Z", "5", "6"), nil,
			[]evbill.RollupHour{
				{Bucket: h("2026-01-05T10:00:00Z"), RollupFigures: evbill.RollupFigures{IdleMicros: 30 * minute}},
				{Bucket: h("2026-01-05T11:00:00Z"), RollupFigures: evbill.RollupFigures{Sessions: 1, EnergyMWh: 1000, IdleMicros: 15 * minute}},
			}},
		{"parking before the start is the start", ended("2026-01-05T10:30:00Z", "2026-01-05T09:00:00Z", "2026-01-05T10:45:00Z", "5", "4"), nil,
			[]evbill.RollupHour{{Bucket: h("2026-01-05T10:00:00Z"), RollupFigures: evbill.RollupFigures{Sessions: 1, IdleMicros: 15 * minute}}}},
		{"a clock that ran backwards", ended("2026-01-05T10:30:00Z", "", "2026-01-05T10:00:00Z", "5", "6"), nil,
			[]evbill.RollupHour{{Bucket: h("2026-01-05T10:00:00Z"), RollupFigures: evbill.RollupFigures{Sessions: 1, EnergyMWh: 1000}}}},
		{"microseconds", ended("2026-01-05T10:59:59.9999995Z", "", "2026-01-05T11:00:00.000001Z", "0", "0"), nil,
			[]evbill.RollupHour{
				{Bucket: h("2026-01-05T10:00:00Z"), RollupFigures: evbill.RollupFigures{ChargingMicros: 1}},
				{Bucket: h("2026-01-05T11:00:00Z"), RollupFigures: evbill.RollupFigures{Sessions: 1, ChargingMicros: 1}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evbill.SessionRollupHours(tt.s, tt.c, 1000)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	// Years long: only the last 31 days count, with all the energy.
	long := evbill.SessionRollupHours(ended("2020-01-01T00:00:00Z", "2026-01-05T10:00:00Z", "2026-01-05T11:30:00Z", "0", "100"), nil, 0)
	var sum evbill.RollupFigures
	for _, x := range long {
		sum.Add(x.RollupFigures)
	}
	if len(long) != evbill.MaxRollupHours || sum.EnergyMWh != 100_000 || sum.IdleMicros != 90*minute ||
		sum.ChargingMicros != (evbill.MaxRollupHours-2)*60*minute || sum.Sessions != 1 {
		t.Errorf("a session of six years: %d hours, %+v", len(long), sum)
	}
	s := ended("2026-01-05T10:00:00Z", "", "2026-01-05T11:00:00Z", "100", "50")
	if e := evbill.SessionRollupHours(s, nil, 0)[0].EnergyMWh; e != 0 {
		t.Errorf("a meter that ran backwards counted %d mWh", e)
	}
	s.MeterStopWh, s.Flags = "900", []string{evbill.FlagImplausibleEnergy}
	if e := evbill.SessionRollupHours(s, nil, 0)[0].EnergyMWh; e != 0 {
		t.Errorf("an implausible meter counted %d mWh", e)
	}
	s.StoppedAt = nil
	if got := evbill.SessionRollupHours(s, nil, 0); got != nil {
		t.Errorf("a running session has hours: %+v", got)
	}
}

// TestPropertySessionRollupHours: whatever the session, its hours add up
// to its time, energy and money exactly, each hour holds no more than an
// hour, and no hour's energy is off its share by a milliwatt-hour or more.
func TestPropertySessionRollupHours(t *testing.T) {
	base := at("2026-03-29T00:00:00Z")
	rapid.Check(t, func(rt *rapid.T) {
		start := base.Add(time.Duration(rapid.Int64Range(0, 48*3600e6).Draw(rt, "start")) * time.Microsecond)
		d := time.Duration(rapid.Int64Range(0, 72*3600e6).Draw(rt, "duration")) * time.Microsecond
		stop := start.Add(d)
		idle := start.Add(time.Duration(rapid.Int64Range(0, int64(d/time.Microsecond)).Draw(rt, "charging")) * time.Microsecond)
		wh := rapid.Int64Range(0, 500_000_000).Draw(rt, "mWh")
		s := evbill.Session{StartedAt: start, StoppedAt: &stop, ParkingStartedAt: &idle, MeterStartWh: "12.5",
			MeterStopWh: decimalMilli(12500 + wh)}
		net := rapid.Int64Range(0, 1e9).Draw(rt, "net")
		hours := evbill.SessionRollupHours(s, &evbill.CDR{AmountMinor: net * 2}, net)
		var sum evbill.RollupFigures
		for i, h := range hours {
			if i > 0 && h.Bucket != hours[i-1].Bucket+1 {
				rt.Fatalf("hours not consecutive: %+v", hours)
			}
			if h.OccupiedMicros() > 3600e6 {
				rt.Fatalf("hour %d holds %d µs", h.Bucket, h.OccupiedMicros())
			}
			sum.Add(h.RollupFigures)
		}
		charging := idle.Sub(start).Microseconds()
		want := evbill.RollupFigures{Sessions: 1, EnergyMWh: wh, ChargingMicros: charging, IdleMicros: stop.Sub(idle).Microseconds(),
			RevenueExclVAT: net, RevenueInclVAT: 2 * net}
		if sum != want {
			rt.Fatalf("sums %+v, want %+v", sum, want)
		}
		if charging > 0 {
			for _, h := range hours {
				share := float64(wh) * float64(h.ChargingMicros) / float64(charging) // a check, not money
				if diff := float64(h.EnergyMWh) - share; diff <= -1.0001 || diff >= 1.0001 {
					rt.Fatalf("hour %d: %d mWh for a share of %.3f", h.Bucket, h.EnergyMWh, share)
				}
			}
		}
	})
}

// decimalMilli writes mWh as a decimal number of Wh.
func decimalMilli(mwh int64) string {
	s := strings.Repeat("0", 4) + itoa(mwh)
	s = strings.TrimLeft(s[:len(s)-3], "0") + "." + s[len(s)-3:]
	if s[0] == '.' {
		s = "0" + s
	}
	return s
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestRollupRows: a session across local midnight in Kolkata, from Sunday
// 1 March 2026 to Monday, lands on two local days and two ISO weeks of
// one month, at every level; station levels keep no tariff or payment
// method.
func TestRollupRows(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	s := ended("2026-03-01T18:10:00Z", "", "2026-03-01T19:20:00Z", "0", "1")
	hours := evbill.SessionRollupHours(s, &evbill.CDR{AmountMinor: 5}, 4)
	rows := evbill.RollupRows(evbill.RollupPlace{TenantID: "ten_1", SiteID: "site_1", Location: kolkata, StationID: "st_1",
		ConnectorNumber: 2, Currency: "EUR", TariffID: "trf_1", PaymentMethod: "card"}, hours)
	count := map[evbill.RollupLevel]int{}
	for _, r := range rows {
		count[r.Level]++
		if r.Level == evbill.RollupStationDay && (r.TariffID != "" || r.PaymentMethod != "" || r.StationID != "st_1") {
			t.Errorf("station day row %+v", r)
		}
	}
	want := map[evbill.RollupLevel]int{evbill.RollupConnectorHour: 2, evbill.RollupSiteHour: 2, evbill.RollupSiteDay: 2,
		evbill.RollupSiteWeek: 2, evbill.RollupSiteMonth: 1, evbill.RollupStationDay: 2, evbill.RollupStationWeek: 2, evbill.RollupStationMonth: 1,
		evbill.RollupSiteWeekHours: 2, evbill.RollupSiteTotalDay: 2, evbill.RollupSiteTotalWeek: 2, evbill.RollupSiteTotalMonth: 1,
		evbill.RollupFleetPaymentDay: 2, evbill.RollupFleetPaymentWeek: 2, evbill.RollupFleetPaymentMonth: 1}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("rows per level %v, want %v", count, want)
	}
	// 18:00 UTC is 23:30 on 1 March in Kolkata: the straddling hour counts
	// for the 1st, the next (00:30) for the 2nd, with the session.
	for _, r := range rows {
		if r.Level != evbill.RollupSiteDay {
			continue
		}
		switch r.Bucket {
		case evbill.DayBucket(2026, 3, 1):
			if r.Sessions != 0 || r.ChargingMicros != 50*60e6 {
				t.Errorf("1 March %+v", r)
			}
		case evbill.DayBucket(2026, 3, 2):
			if r.Sessions != 1 || r.ChargingMicros != 20*60e6 || r.RevenueExclVAT != 4 {
				t.Errorf("2 March %+v", r)
			}
		default:
			t.Errorf("day %d", r.Bucket)
		}
	}
	// The week hours: Sunday 23:30 (hour 167) and Monday 00:30 (hour 0) of
	// March, with no money.
	march := int64(2026*12 + 2)
	var cells []int64
	for _, r := range rows {
		if r.Level == evbill.RollupSiteWeekHours {
			cells = append(cells, r.Bucket-march*168)
			if r.RevenueExclVAT != 0 || r.RevenueInclVAT != 0 || r.Currency != "" || r.TariffID != "" || r.PaymentMethod != "" {
				t.Errorf("week hour %+v", r)
			}
		}
	}
	if !reflect.DeepEqual(cells, []int64{0, 167}) {
		t.Errorf("week hours %v, want 0 and 167", cells)
	}
	for i := 1; i < len(rows); i++ {
		if evbill.CompareRollupKeys(rows[i-1].RollupKey, rows[i].RollupKey) >= 0 {
			t.Errorf("rows out of order at %d", i)
		}
	}
}

func TestBuckets(t *testing.T) {
	if d := evbill.DayBucket(1970, 1, 1); d != 0 {
		t.Errorf("epoch day %d", d)
	}
	d := evbill.DayBucket(2026, 3, 4) // a Wednesday
	if w := evbill.WeekBucket(d); w != evbill.DayBucket(2026, 3, 2) {
		t.Errorf("week of 4 March 2026 starts %v", evbill.DayDate(w))
	}
	if w := evbill.WeekBucket(evbill.DayBucket(2026, 3, 1)); w != evbill.DayBucket(2026, 2, 23) {
		t.Errorf("week of Sunday 1 March 2026 starts %v", evbill.DayDate(w))
	}
	if m := evbill.MonthBucket(d); m != 2026*12+2 || evbill.MonthStart(m) != evbill.DayBucket(2026, 3, 1) {
		t.Errorf("month %d", m)
	}
	if evbill.MonthStart(2026*12+11+1) != evbill.DayBucket(2027, 1, 1) {
		t.Errorf("December's next month")
	}
	if h := evbill.HourBucket(at("1969-12-31T23:30:00Z")); h != -1 {
		t.Errorf("hour before the epoch %d", h)
	}
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	kol, _ := time.LoadLocation("Asia/Kolkata")
	lord, _ := time.LoadLocation("Australia/Lord_Howe")
	for _, tt := range []struct {
		loc  *time.Location
		y    int
		m    time.Month
		d    int
		want int64
	}{
		{ams, 2026, 3, 29, 23}, {ams, 2026, 10, 25, 25}, {ams, 2026, 3, 28, 24}, {kol, 2026, 3, 1, 24}, {time.UTC, 2026, 6, 1, 24},
		// Lord Howe turns its clock back half an hour on 5 April 2026: the
		// day lasts 24½ hours, and 25 UTC hours start in it (the last at
		// 23:30 local time).
		{lord, 2026, 4, 5, 25}, {lord, 2026, 4, 6, 24},
	} {
		day := evbill.DayBucket(tt.y, tt.m, tt.d)
		if got := evbill.LocalDayHours(day, day+1, tt.loc); got != tt.want {
			t.Errorf("%s %d-%d-%d has %d hours, want %d", tt.loc, tt.y, tt.m, tt.d, got, tt.want)
		}
	}
	if got := evbill.LocalDayHours(evbill.DayBucket(2026, 1, 1), evbill.DayBucket(2027, 1, 1), ams); got != 8760 {
		t.Errorf("a year in Amsterdam has %d hours", got)
	}
}

func TestPlanRollupDays(t *testing.T) {
	d := evbill.DayBucket
	sp := func(l evbill.RollupLevel, from, to int64) evbill.RollupSpan {
		return evbill.RollupSpan{Level: l, From: from, To: to}
	}
	m := func(y int, mo time.Month) int64 { return int64(y)*12 + int64(mo) - 1 }
	tests := []struct {
		name     string
		from, to int64
		period   evbill.RollupPeriod
		grains   evbill.RollupGrains
		want     []evbill.RollupSpan
	}{
		{"whole months", d(2025, 1, 1), d(2026, 1, 1), evbill.PeriodMonth, evbill.SiteGrains,
			[]evbill.RollupSpan{sp(evbill.RollupSiteMonth, m(2025, 1), m(2026, 1))}},
		// The whole range: months, then weeks, then days at either end.
		{"months with ends", d(2025, 1, 15), d(2025, 4, 10), evbill.PeriodAll, evbill.StationGrains, []evbill.RollupSpan{
			sp(evbill.RollupStationDay, d(2025, 1, 15), d(2025, 1, 20)),
			sp(evbill.RollupStationWeek, d(2025, 1, 20), d(2025, 1, 27)),
			sp(evbill.RollupStationDay, d(2025, 1, 27), d(2025, 2, 1)),
			sp(evbill.RollupStationMonth, m(2025, 2), m(2025, 4)),
			sp(evbill.RollupStationDay, d(2025, 4, 1), d(2025, 4, 10))}}, // no whole week
		{"months by day", d(2025, 1, 15), d(2025, 4, 10), evbill.PeriodMonth, evbill.SiteTotalGrains, []evbill.RollupSpan{
			sp(evbill.RollupSiteTotalDay, d(2025, 1, 15), d(2025, 2, 1)),
			sp(evbill.RollupSiteTotalMonth, m(2025, 2), m(2025, 4)),
			sp(evbill.RollupSiteTotalDay, d(2025, 4, 1), d(2025, 4, 10))}},
		{"within a month", d(2025, 1, 15), d(2025, 1, 20), evbill.PeriodMonth, evbill.SiteGrains,
			[]evbill.RollupSpan{sp(evbill.RollupSiteDay, d(2025, 1, 15), d(2025, 1, 20))}},
		{"weeks", d(2026, 3, 4), d(2026, 3, 26), evbill.PeriodWeek, evbill.SiteGrains, []evbill.RollupSpan{
			sp(evbill.RollupSiteDay, d(2026, 3, 4), d(2026, 3, 9)),
			sp(evbill.RollupSiteWeek, d(2026, 3, 9), d(2026, 3, 23)),
			sp(evbill.RollupSiteDay, d(2026, 3, 23), d(2026, 3, 26))}},
		{"weeks to a Monday", d(2026, 3, 4), d(2026, 3, 30), evbill.PeriodWeek, evbill.SiteGrains, []evbill.RollupSpan{
			sp(evbill.RollupSiteDay, d(2026, 3, 4), d(2026, 3, 9)),
			sp(evbill.RollupSiteWeek, d(2026, 3, 9), d(2026, 3, 30))}},
		{"days", d(2026, 3, 4), d(2026, 5, 30), evbill.PeriodDay, evbill.SiteGrains,
			[]evbill.RollupSpan{sp(evbill.RollupSiteDay, d(2026, 3, 4), d(2026, 5, 30))}},
		{"empty", d(2026, 3, 4), d(2026, 3, 4), evbill.PeriodDay, evbill.SiteGrains, nil},
	}
	for _, tt := range tests {
		if got := evbill.PlanRollupDays(tt.from, tt.to, tt.period, tt.grains); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if p := evbill.PeriodOfBucket(evbill.RollupSiteMonth, m(2026, 2), evbill.PeriodMonth, 0, nil); p != d(2026, 2, 1) {
		t.Errorf("a month's period %v", evbill.DayDate(p))
	}
	kol, _ := time.LoadLocation("Asia/Kolkata")
	if p := evbill.PeriodOfBucket(evbill.RollupSiteHour, evbill.HourBucket(at("2026-02-28T19:00:00Z")), evbill.PeriodMonth, 0, kol); p != d(2026, 3, 1) {
		t.Errorf("an hour starting 00:30 on 1 March in Kolkata is in %v", evbill.DayDate(p))
	}
	if p := evbill.PeriodOfBucket(evbill.RollupSiteHour, evbill.HourBucket(at("2026-02-28T18:00:00Z")), evbill.PeriodMonth, 0, kol); p != d(2026, 2, 1) {
		t.Errorf("an hour starting 23:30 on 28 February in Kolkata is in %v", evbill.DayDate(p))
	}
}

// TestRefundNet: the net of a refund is what the ledger's entry gave back
// from the site's refunds account.
func TestRefundNet(t *testing.T) {
	ch := ledger.Charge{Currency: "EUR", Total: 1210, Net: 1000}
	e, err := ledger.Refunded("ten_1", "rfd_1", "site_1", ledger.GatewayClearing("sandbox"), evbill.AccountAsset, ch, 0, 333)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := ch.Part(0, 333)
	if got := evbill.RefundNet(&e); got != part.Net || got == 0 {
		t.Errorf("RefundNet = %d, want %d", got, part.Net)
	}
	if !strings.HasPrefix(ledger.Refunds("x"), "refunds:") {
		t.Errorf("the refunds account is %q: RefundNet looks for refunds:", ledger.Refunds("x"))
	}
	if evbill.RefundNet(nil) != 0 {
		t.Errorf("no entry, a net")
	}
}

func TestRollupLocation(t *testing.T) {
	if evbill.RollupLocation("Nowhere/Atlantis") != time.UTC || evbill.RollupLocation("") != time.UTC || evbill.RollupLocation("Local") != time.UTC {
		t.Errorf("an unknown zone is not UTC")
	}
	if evbill.RollupLocation("Asia/Kolkata").String() != "Asia/Kolkata" {
		t.Errorf("Kolkata")
	}
}
