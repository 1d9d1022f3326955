package evbill

import (
	"cmp"
	"context"
	"math/big"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"
)

// Rollups are the figures reports read instead of sessions: sums kept per
// connector and hour, and coarser sums per site and per station, written
// in the same transaction as each session's end (its CDR) and each
// refund, so that a report over years of sessions reads a few thousand
// rows and agrees with the records to the minor unit.
//
// What a session adds (the attribution rule, the same on both engines and
// in RebuildRollups):
//
//   - Time. The session occupies its connector from StartedAt to
//     StoppedAt: charging until ParkingStartedAt (or the stop, when it
//     never went idle), idle from then on. Both are split exactly, to the
//     microsecond, across the UTC hours they cover (the last 31 days of
//     them for a longer session: MaxRollupHours).
//   - Energy. MeterStopWh − MeterStartWh, in integer milliwatt-hours
//     (rounded half away from zero when a register has finer digits, which
//     no meter sends), split across the hours in proportion to the
//     charging time in each: each hour gets the integer part of its share
//     and the milliwatt-hours left over go one each to the hours with the
//     largest remainders (the earlier hour on a tie), so the hours add up
//     to the session's energy exactly. A session that never charged puts
//     its energy in the hour it ended. A register that ran backwards or
//     rose implausibly (the session is flagged, and has no CDR) counts no
//     energy.
//   - Sessions and revenue go to the hour the session ended, where its CDR
//     was made: the CDR's amount to charge (VAT included) and its net,
//     split by the ledger's one rule (ledger.ChargeOfCDR), so that a
//     report's revenue is the ledger's charging_revenue for sessions paid
//     in full. A session ended without a CDR (held back from billing, or
//     an orphan stop) counts its time and session with currency "" and no
//     money: the connector was occupied all the same.
//   - A refund goes to the hour it succeeded (when the ledger posted it),
//     under its session's site, station, connector, tariff and payment
//     method: its amount, and its net as the ledger's refunds account took
//     it.
//
// Hours are UTC; days, weeks (ISO, from Monday) and months are the site's
// local calendar, in the site's time zone when the figures were written.
// A coarse bucket is the sum of the hours whose start falls in it, so for
// a zone whose offset is a whole number of hours every local day is
// exactly its hours. In a zone with a half-hour offset (India, parts of
// Australia, Newfoundland) or a 45-minute one (Nepal), the UTC hour that
// straddles local midnight counts for the day in which it starts: such a
// day runs from 23:30 (or 23:15) to 23:30 local time, off by under an
// hour but never counting a figure twice or not at all.

// RollupLevel says what one rollup row sums, over which dimensions and
// in which time buckets. Each level is kept complete: every figure is in
// every level, so a report picks the coarsest level that fits its range.
type RollupLevel int

// Rollup levels. Hour levels are UTC hours; the others are the site's
// local days, ISO weeks and months.
const (
	// RollupConnectorHour is one connector in one UTC hour, per currency,
	// tariff and payment method: the finest level, which saturation and
	// per-station detail read.
	RollupConnectorHour RollupLevel = 1
	// RollupSiteHour is one site in one UTC hour, per currency, tariff
	// and payment method: the heatmap's level, and any report asked for
	// a range that is not whole local days.
	RollupSiteHour RollupLevel = 2
	// RollupSiteDay is one site on one local day, per currency, tariff and
	// payment method.
	RollupSiteDay RollupLevel = 3
	// RollupSiteWeek is one site in one local ISO week (from Monday).
	RollupSiteWeek RollupLevel = 4
	// RollupSiteMonth is one site in one local calendar month.
	RollupSiteMonth RollupLevel = 5
	// RollupStationDay is one station on one local day, per currency only:
	// reports by station need neither tariff nor payment method, and
	// leaving them out keeps a fleet's stations few rows.
	RollupStationDay RollupLevel = 6
	// RollupStationWeek is one station in one local ISO week.
	RollupStationWeek RollupLevel = 7
	// RollupStationMonth is one station in one local calendar month.
	RollupStationMonth RollupLevel = 8
	// RollupSiteWeekHours is one site's hours of the week in one local
	// month: the bucket is the month × 168 + the hour of the week (its
	// local weekday from Monday × 24 + its local hour, where the UTC hour
	// starts), so a month's 168 rows are one run of the key. It is the
	// heatmap's level: a site's two years are 4,032 rows instead of
	// 17,520 hours, each with a row per currency, tariff and payment
	// method. It keeps no currency, tariff or payment method, so no money
	// either: only sessions, energy and time.
	RollupSiteWeekHours RollupLevel = 9
	// RollupSiteTotalDay is one site on one local day, per currency only:
	// what reports by site and of the whole fleet read. The site day keeps
	// a row for each tariff and payment method seen, ten or more on a busy
	// site; its total is one, which is what makes a fleet's two years by
	// site and month a few thousand rows.
	RollupSiteTotalDay RollupLevel = 10
	// RollupSiteTotalWeek is one site in one local ISO week, per currency.
	RollupSiteTotalWeek RollupLevel = 11
	// RollupSiteTotalMonth is one site in one local month, per currency.
	RollupSiteTotalMonth RollupLevel = 12
	// RollupFleetPaymentDay is all of a tenant's sites on one local day
	// (each site's), per currency and payment method, under the site ID
	// FleetSite: a fleet's revenue by payment method reads a handful of
	// rows a day rather than every site's row of every tariff and method.
	RollupFleetPaymentDay RollupLevel = 13
	// RollupFleetPaymentWeek is all sites in one local ISO week, per
	// currency and payment method.
	RollupFleetPaymentWeek RollupLevel = 14
	// RollupFleetPaymentMonth is all sites in one local month, per currency
	// and payment method.
	RollupFleetPaymentMonth RollupLevel = 15
)

// FleetSite is the site ID of the fleet levels' rows: all of the
// tenant's sites.
const FleetSite = ""

// Valid reports whether l is one of the levels.
func (l RollupLevel) Valid() bool { return l >= RollupConnectorHour && l <= RollupFleetPaymentMonth }

// KeepsPaymentMethod reports whether rows of level l keep the payment
// method: the connector, site and fleet levels do; the station levels,
// the site totals and the week hours do not.
func (l RollupLevel) KeepsPaymentMethod() bool {
	return (l >= RollupConnectorHour && l <= RollupSiteMonth) || (l >= RollupFleetPaymentDay && l <= RollupFleetPaymentMonth)
}

// WeekHour returns the hour of the week, 0 (Monday 00:00) to 167, in loc
// at the start of hour bucket h.
func WeekHour(h int64, loc *time.Location) int {
	t := HourStart(h).In(loc)
	return (int(t.Weekday())+6)%7*24 + t.Hour()
}

// Payment methods as rollups name them: what a session was paid with.
// The stores derive them from the session's payment (the view
// rollup_payment_methods), in one place per engine.
const (
	RollupPayCard    = "card"    // a driver's card, held at the start
	RollupPayAdHoc   = "adhoc"   // a guest's card, from the pay page
	RollupPayWallet  = "wallet"  // a driver's prepaid wallet
	RollupPayAccount = "account" // a driver's postpaid account
	RollupPayNone    = "none"    // no payment through evbill (billed otherwise)
)

// RollupKey says where a rollup row's figures belong. Fields the level
// does not keep are zero: StationID is "" above the station, Connector is
// 0 above the connector, TariffID and PaymentMethod are "" at the station
// levels. Currency is "" for sessions ended without a CDR.
type RollupKey struct {
	TenantID        string
	Level           RollupLevel
	Bucket          int64 // see HourBucket, DayBucket, WeekBucket, MonthBucket
	SiteID          string
	StationID       string
	ConnectorNumber int
	Currency        string
	TariffID        string
	PaymentMethod   string
}

// RollupFigures are the sums a rollup row keeps, all exact integers:
// energy in milliwatt-hours, times in microseconds, money in minor units
// of the row's currency.
type RollupFigures struct {
	Sessions        int64
	EnergyMWh       int64
	ChargingMicros  int64 // the connector was occupied and not yet idle
	IdleMicros      int64 // the connector was occupied by a vehicle no longer drawing power
	RevenueExclVAT  int64
	RevenueInclVAT  int64
	Refunds         int64
	RefundedExclVAT int64
	RefundedInclVAT int64
}

// Add adds o to f.
func (f *RollupFigures) Add(o RollupFigures) {
	f.Sessions += o.Sessions
	f.EnergyMWh += o.EnergyMWh
	f.ChargingMicros += o.ChargingMicros
	f.IdleMicros += o.IdleMicros
	f.RevenueExclVAT += o.RevenueExclVAT
	f.RevenueInclVAT += o.RevenueInclVAT
	f.Refunds += o.Refunds
	f.RefundedExclVAT += o.RefundedExclVAT
	f.RefundedInclVAT += o.RefundedInclVAT
}

// IsZero reports whether every figure is 0.
func (f RollupFigures) IsZero() bool { return f == RollupFigures{} }

// OccupiedMicros is the time the connector had a vehicle: charging plus
// idle.
func (f RollupFigures) OccupiedMicros() int64 { return f.ChargingMicros + f.IdleMicros }

// RollupRow is one row of rollups: a key and its figures.
type RollupRow struct {
	RollupKey
	RollupFigures
}

// RollupHour is what one session or refund adds to one UTC hour.
type RollupHour struct {
	Bucket int64 // HourBucket of the hour's start
	RollupFigures
}

// HourBucket returns the number of the UTC hour that contains t: whole
// hours since the Unix epoch.
func HourBucket(t time.Time) int64 { return floorDiv(t.Unix(), 3600) }

// HourStart returns the instant the hour bucket h starts.
func HourStart(h int64) time.Time { return time.Unix(h*3600, 0).UTC() }

// DayBucket returns the number of the calendar date y-m-d: days since
// 1970-01-01.
func DayBucket(y int, m time.Month, d int) int64 {
	return floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

// DayDate returns the calendar date of day bucket d, as midnight UTC.
func DayDate(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// WeekBucket returns the week bucket of day bucket d: the day bucket of
// the Monday that starts its ISO week (1970-01-01 was a Thursday).
func WeekBucket(d int64) int64 { return d - floorMod(d+3, 7) }

// MonthBucket returns the month bucket of day bucket d: year × 12 +
// month − 1.
func MonthBucket(d int64) int64 {
	y, m, _ := DayDate(d).Date()
	return int64(y)*12 + int64(m) - 1
}

// MonthStart returns the day bucket of the first day of month bucket m.
func MonthStart(m int64) int64 {
	return DayBucket(int(floorDiv(m, 12)), time.Month(floorMod(m, 12)+1), 1)
}

// LocalDay returns the day bucket of the local date, in loc, at the start
// of hour bucket h: the day that hour counts for.
func LocalDay(h int64, loc *time.Location) int64 {
	y, m, d := HourStart(h).In(loc).Date()
	return DayBucket(y, m, d)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// refundsAccountPrefix starts the code of every refunds account: the
// ledger's Refunds(siteID), an expense that takes a refund's net.
const refundsAccountPrefix = "refunds:"

// RefundNet returns the part of a refund, excluding VAT, that its ledger
// entry gave back: the sum of its postings to a refunds account (0 when
// the refund gave back only VAT and the entry has no such line). Rollups
// take it from the entry so that they add up to the ledger's refunds
// accounts, however earlier refunds of the charge were rounded.
func RefundNet(entry *LedgerEntry) int64 {
	if entry == nil {
		return 0
	}
	var net int64
	for _, p := range entry.Postings {
		if strings.HasPrefix(p.Account, refundsAccountPrefix) {
			net += p.Amount
		}
	}
	return net
}

// SessionRollupHours returns what the ended session s, with its CDR c
// (nil when it ended without one) whose net excluding VAT is net minor
// units, adds to each UTC hour, in order of the hours (see the
// attribution rule at the top of this file). Only ended sessions have
// hours: s.StoppedAt must be set.
func SessionRollupHours(s Session, c *CDR, net int64) []RollupHour {
	if s.StoppedAt == nil {
		return nil
	}
	start := s.StartedAt.UTC().Truncate(time.Microsecond)
	stop := s.StoppedAt.UTC().Truncate(time.Microsecond)
	if stop.Before(start) {
		stop = start // a charger clock that ran backwards: the session took no time
	}
	idleFrom := stop
	if p := s.ParkingStartedAt; p != nil {
		idleFrom = p.UTC().Truncate(time.Microsecond)
		if idleFrom.Before(start) {
			idleFrom = start
		}
		if idleFrom.After(stop) {
			idleFrom = stop
		}
	}
	// The hours run from the start's to the end's, where the session and
	// its revenue count: a session that ends on the hour occupies none of
	// that last hour. A session longer than MaxRollupHours counts only
	// its last ones, which bounds what one end writes.
	endHour := HourBucket(stop)
	first := max(HourBucket(start), endHour-MaxRollupHours+1)
	hours := make([]RollupHour, endHour-first+1)
	var charging int64
	for i := range hours {
		h := first + int64(i)
		hours[i].Bucket = h
		hs, he := HourStart(h), HourStart(h+1)
		hours[i].ChargingMicros = overlap(start, idleFrom, hs, he)
		hours[i].IdleMicros = overlap(idleFrom, stop, hs, he)
		charging += hours[i].ChargingMicros
	}
	end := &hours[endHour-first]
	end.Sessions = 1
	if c != nil {
		end.RevenueInclVAT, end.RevenueExclVAT = c.AmountMinor, net
	}
	if e := sessionEnergyMWh(s); e > 0 {
		splitEnergy(hours, e, charging, end)
	}
	return hours
}

// overlap returns the microseconds [a, b) and [c, d) have in common.
func overlap(a, b, c, d time.Time) int64 {
	lo, hi := a, b
	if c.After(lo) {
		lo = c
	}
	if d.Before(hi) {
		hi = d
	}
	if !hi.After(lo) {
		return 0
	}
	return hi.Sub(lo).Microseconds()
}

// splitEnergy shares e milliwatt-hours across the hours in proportion to
// their charging time (of total charging microseconds) by largest
// remainders; with no charging time it all goes to end.
func splitEnergy(hours []RollupHour, e, charging int64, end *RollupHour) {
	if charging <= 0 {
		end.EnergyMWh += e
		return
	}
	type rem struct {
		i int
		r uint64
	}
	rems := make([]rem, 0, len(hours))
	left := e
	for i := range hours {
		c := hours[i].ChargingMicros
		if c == 0 {
			continue
		}
		// e × c / charging ≤ e, so the quotient fits and Div64 cannot
		// overflow; the 128-bit product keeps it exact.
		hi, lo := bits.Mul64(uint64(e), uint64(c))
		q, r := bits.Div64(hi, lo, uint64(charging))
		hours[i].EnergyMWh = int64(q)
		left -= int64(q)
		rems = append(rems, rem{i, r})
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.r, a.r) })
	for k := 0; left > 0; k++ {
		hours[rems[k].i].EnergyMWh++
		left--
	}
}

// sessionEnergyMWh returns the session's metered energy in milliwatt-
// hours, or 0 when the meter cannot be trusted for it: a register that
// ran backwards or rose implausibly, or that does not parse.
func sessionEnergyMWh(s Session) int64 {
	if slices.Contains(s.Flags, FlagMeterBackwards) || slices.Contains(s.Flags, FlagImplausibleEnergy) {
		return 0
	}
	start, ok1 := new(big.Rat).SetString(s.MeterStartWh)
	stop, ok2 := new(big.Rat).SetString(s.MeterStopWh)
	if !ok1 || !ok2 || strings.ContainsAny(s.MeterStartWh+s.MeterStopWh, "/eE") {
		return 0
	}
	d := new(big.Rat).Sub(stop, start)
	if d.Sign() <= 0 {
		return 0
	}
	d.Mul(d, big.NewRat(1000, 1))
	// Half away from zero (d is positive): floor(d + 1/2).
	d.Add(d, big.NewRat(1, 2))
	q := new(big.Int).Quo(d.Num(), d.Denom())
	if !q.IsInt64() {
		return 0
	}
	return q.Int64()
}

// MaxRollupHours is the most hours one session's figures are spread
// over: a session that lasted longer (a car left plugged in for weeks, a
// charger whose clock was years behind at the start) counts its time of
// the last 31 days only, and its energy over them; everything else about
// it counts as for any session. It keeps one end from writing thousands
// of rows on the OCPP path.
const MaxRollupHours = 31 * 24

// RefundRollupHour returns what a refund of amount (net of it excluding
// VAT) that succeeded at adds: one refund in the hour of at.
func RefundRollupHour(at time.Time, amount, net int64) RollupHour {
	return RollupHour{Bucket: HourBucket(at), RollupFigures: RollupFigures{
		Refunds: 1, RefundedInclVAT: amount, RefundedExclVAT: net,
	}}
}

// RollupPlace is where a session's or a refund's figures land: its
// tenant, site (and the site's time zone, which decides its days),
// station, connector, and the currency, tariff and payment method they
// are kept under.
type RollupPlace struct {
	TenantID        string
	SiteID          string
	Location        *time.Location // nil is UTC
	StationID       string
	ConnectorNumber int
	Currency        string
	TariffID        string
	PaymentMethod   string
}

// RollupRows returns the rows that hours add at place, at every level:
// the connector's and the site's hours, the site's (by tariff and payment
// method, and in total), the station's and the fleet's (by payment
// method) local days, weeks and months, and the site's hours of the week
// by month, each the sum of the hours that start in it. Hours with no
// figures add nothing; a week hour with only money adds nothing. Rows
// come in key order.
func RollupRows(place RollupPlace, hours []RollupHour) []RollupRow {
	loc := place.Location
	if loc == nil {
		loc = time.UTC
	}
	site := RollupKey{TenantID: place.TenantID, SiteID: place.SiteID, Currency: place.Currency,
		TariffID: place.TariffID, PaymentMethod: place.PaymentMethod}
	station := RollupKey{TenantID: place.TenantID, SiteID: place.SiteID, StationID: place.StationID, Currency: place.Currency}
	weekHours := RollupKey{TenantID: place.TenantID, SiteID: place.SiteID}
	total := RollupKey{TenantID: place.TenantID, SiteID: place.SiteID, Currency: place.Currency}
	fleet := RollupKey{TenantID: place.TenantID, SiteID: FleetSite, Currency: place.Currency, PaymentMethod: place.PaymentMethod}
	connector := site
	connector.StationID, connector.ConnectorNumber = place.StationID, place.ConnectorNumber
	sums := map[RollupKey]*RollupFigures{}
	add := func(k RollupKey, level RollupLevel, bucket int64, f RollupFigures) {
		k.Level, k.Bucket = level, bucket
		if s, ok := sums[k]; ok {
			s.Add(f)
			return
		}
		sums[k] = &f
	}
	for _, h := range hours {
		if h.IsZero() {
			continue
		}
		day := LocalDay(h.Bucket, loc)
		week, month := WeekBucket(day), MonthBucket(day)
		add(connector, RollupConnectorHour, h.Bucket, h.RollupFigures)
		add(site, RollupSiteHour, h.Bucket, h.RollupFigures)
		add(site, RollupSiteDay, day, h.RollupFigures)
		add(site, RollupSiteWeek, week, h.RollupFigures)
		add(site, RollupSiteMonth, month, h.RollupFigures)
		add(station, RollupStationDay, day, h.RollupFigures)
		add(station, RollupStationWeek, week, h.RollupFigures)
		add(station, RollupStationMonth, month, h.RollupFigures)
		add(total, RollupSiteTotalDay, day, h.RollupFigures)
		add(total, RollupSiteTotalWeek, week, h.RollupFigures)
		add(total, RollupSiteTotalMonth, month, h.RollupFigures)
		add(fleet, RollupFleetPaymentDay, day, h.RollupFigures)
		add(fleet, RollupFleetPaymentWeek, week, h.RollupFigures)
		add(fleet, RollupFleetPaymentMonth, month, h.RollupFigures)
		add(weekHours, RollupSiteWeekHours, month*168+int64(WeekHour(h.Bucket, loc)), RollupFigures{
			Sessions: h.Sessions, EnergyMWh: h.EnergyMWh, ChargingMicros: h.ChargingMicros, IdleMicros: h.IdleMicros})
	}
	rows := make([]RollupRow, 0, len(sums))
	for k, f := range sums {
		if !f.IsZero() {
			rows = append(rows, RollupRow{RollupKey: k, RollupFigures: *f})
		}
	}
	SortRollupRows(rows)
	return rows
}

// SortRollupRows orders rows by key: tenant, level, site, bucket,
// station, connector, currency, tariff, payment method (the stores'
// primary key order).
func SortRollupRows(rows []RollupRow) {
	slices.SortFunc(rows, func(a, b RollupRow) int { return CompareRollupKeys(a.RollupKey, b.RollupKey) })
}

// CompareRollupKeys orders keys as SortRollupRows does.
func CompareRollupKeys(a, b RollupKey) int {
	return cmp.Or(
		strings.Compare(a.TenantID, b.TenantID), cmp.Compare(a.Level, b.Level), strings.Compare(a.SiteID, b.SiteID),
		cmp.Compare(a.Bucket, b.Bucket), strings.Compare(a.StationID, b.StationID),
		cmp.Compare(a.ConnectorNumber, b.ConnectorNumber), strings.Compare(a.Currency, b.Currency),
		strings.Compare(a.TariffID, b.TariffID), strings.Compare(a.PaymentMethod, b.PaymentMethod))
}

// SumRollupRows adds up rows of equal keys and drops rows whose figures
// are all 0, in key order: what a store holds once the rows are added.
func SumRollupRows(rows []RollupRow) []RollupRow {
	sums := map[RollupKey]*RollupFigures{}
	for _, r := range rows {
		if s, ok := sums[r.RollupKey]; ok {
			s.Add(r.RollupFigures)
			continue
		}
		f := r.RollupFigures
		sums[r.RollupKey] = &f
	}
	out := make([]RollupRow, 0, len(sums))
	for k, f := range sums {
		if !f.IsZero() {
			out = append(out, RollupRow{RollupKey: k, RollupFigures: *f})
		}
	}
	SortRollupRows(out)
	return out
}

// RollupBy names the key fields a RollupQuery keeps; the others are
// summed over. Currency is always kept: money of different currencies is
// never added up.
type RollupBy uint8

// The key fields a RollupQuery can keep.
const (
	RollupByBucket RollupBy = 1 << iota
	RollupBySite
	RollupByStation
	RollupByConnector
	RollupByTariff
	RollupByPaymentMethod
)

// RollupQuery asks for the sums of one level's rows over a range of
// buckets, grouped by the fields of By.
type RollupQuery struct {
	TenantID string
	Level    RollupLevel
	From, To int64 // buckets, From included, To excluded
	// SiteIDs are the sites to read, at least one: the site leads the
	// stored key, so a report names the sites it covers (all of the
	// tenant's, or one) and each is one range of the index.
	SiteIDs []string
	// StationID keeps only one station's rows; "" keeps every station.
	// Site levels have no station: it applies to station and connector
	// levels.
	StationID string
	By        RollupBy
}

// RollupBusy is how many hours, of a site's hours in a range, had Busy
// of its connectors busy, Busy ≥ 1: the saturation report's histogram.
type RollupBusy struct {
	SiteID string
	Busy   int
	Hours  int64
}

// RollupBusyQuery asks, for each site, how many hours in [From, To) (hour
// buckets) had how many connectors busy: occupied at least MinOccupied of
// the hour.
type RollupBusyQuery struct {
	TenantID    string
	SiteIDs     []string // at least one
	From, To    int64
	MinOccupied time.Duration
}

// RollupConnectors is how many connectors a station has on record, and
// at which site: the capacity utilization is measured against.
type RollupConnectors struct {
	SiteID     string
	StationID  string
	Connectors int
}

// RollupRebuild is what RebuildRollups recomputed.
type RollupRebuild struct {
	Sessions int // ended sessions
	Refunds  int // succeeded refunds
	Rows     int // rollup rows stored
}

// RollupStore keeps rollups. The stores maintain them as sessions end
// and refunds succeed, in those transactions; these methods read them,
// and rebuild or bulk-load them.
type RollupStore interface {
	// RollupSums returns the sums of the query's rows, one per distinct
	// value of the fields it keeps (and currency), in key order; the
	// fields it does not keep are zero. EINVALID for a query without
	// sites, with an unknown level, or with To before From.
	RollupSums(ctx context.Context, q RollupQuery) ([]RollupRow, error)
	// RollupBusyHours returns, per site and number of busy connectors
	// (at least one), the hours that had that many busy; hours in which
	// no connector was busy are not counted.
	RollupBusyHours(ctx context.Context, q RollupBusyQuery) ([]RollupBusy, error)
	// RollupConnectors returns the tenant's stations that have connectors
	// on record, with their site and number of connectors.
	RollupConnectors(ctx context.Context, tenantID string) ([]RollupConnectors, error)
	// RebuildRollups recomputes the tenant's rollups from its ended
	// sessions (their CDRs) and succeeded refunds (their ledger entries),
	// replacing what was stored, in one transaction that keeps session
	// ends and refunds from adding to the rollups meanwhile.
	RebuildRollups(ctx context.Context, tenantID string) (RollupRebuild, error)
	// AddRollups adds rows to the stored rollups, summing rows of equal
	// keys, in one transaction: the bulk load of rebuilds, benchmarks
	// and tests. The figures of a session's end and of a refund are
	// added by the stores themselves.
	AddRollups(ctx context.Context, rows []RollupRow) error
	// Rollups returns every stored rollup row of the tenant, in key order:
	// for checks and tests, never for reports.
	Rollups(ctx context.Context, tenantID string) ([]RollupRow, error)
	// RollupTenants returns the ID of every tenant, in order: what a
	// rebuild of them all goes through.
	RollupTenants(ctx context.Context) ([]string, error)
}

// CheckRollupQuery reports, as an EINVALID error, what is wrong with q.
func CheckRollupQuery(q RollupQuery) error {
	switch {
	case q.TenantID == "":
		return Errorf(EINVALID, "a rollup query needs its tenant")
	case !q.Level.Valid():
		return Errorf(EINVALID, "rollup level %d is not a level", q.Level)
	case len(q.SiteIDs) == 0:
		return Errorf(EINVALID, "a rollup query names its sites")
	case q.To < q.From:
		return Errorf(EINVALID, "rollup range %d to %d ends before it starts", q.From, q.To)
	}
	return nil
}

// RollupSpan is a range of buckets [From, To) of one level.
type RollupSpan struct {
	Level    RollupLevel
	From, To int64
}

// RollupPeriod is the length of a report's periods.
type RollupPeriod string

// Report periods.
const (
	PeriodDay   RollupPeriod = "day"
	PeriodWeek  RollupPeriod = "week"
	PeriodMonth RollupPeriod = "month"
	PeriodAll   RollupPeriod = "all" // one period: the whole range
)

// RollupGrains are the day, week and month levels of one kind of row.
type RollupGrains struct{ Day, Week, Month RollupLevel }

// The kinds of coarse rows: a site's by tariff and payment method, a
// site's totals, a station's, the fleet's by payment method.
var (
	SiteGrains         = RollupGrains{RollupSiteDay, RollupSiteWeek, RollupSiteMonth}
	SiteTotalGrains    = RollupGrains{RollupSiteTotalDay, RollupSiteTotalWeek, RollupSiteTotalMonth}
	StationGrains      = RollupGrains{RollupStationDay, RollupStationWeek, RollupStationMonth}
	FleetPaymentGrains = RollupGrains{RollupFleetPaymentDay, RollupFleetPaymentWeek, RollupFleetPaymentMonth}
)

// PlanRollupDays returns the spans of the grains' levels that cover the
// local days [from, to) in the fewest rows, none crossing a period's
// bounds: whole months at the month level (when the periods are months
// or the whole range), whole weeks at the week level (when they are
// weeks, or the whole range around its months), and the days left at
// the ends at the day level.
func PlanRollupDays(from, to int64, period RollupPeriod, g RollupGrains) []RollupSpan {
	if to <= from {
		return nil
	}
	switch period {
	case PeriodMonth, PeriodAll:
		m0 := MonthBucket(from)
		if MonthStart(m0) < from {
			m0++
		}
		m1 := MonthBucket(to) // the month holding to is not whole before to
		if m1 > m0 {
			edge := PeriodDay
			if period == PeriodAll {
				edge = PeriodWeek
			}
			out := PlanRollupDays(from, MonthStart(m0), edge, g)
			out = append(out, RollupSpan{Level: g.Month, From: m0, To: m1})
			return append(out, PlanRollupDays(MonthStart(m1), to, edge, g)...)
		}
		if period == PeriodAll {
			return PlanRollupDays(from, to, PeriodWeek, g)
		}
	case PeriodWeek:
		w0 := WeekBucket(from)
		if w0 < from {
			w0 += 7
		}
		w1 := WeekBucket(to)
		if w1 > w0 {
			out := PlanRollupDays(from, w0, PeriodDay, g)
			out = append(out, RollupSpan{Level: g.Week, From: w0, To: w1})
			return append(out, PlanRollupDays(w1, to, PeriodDay, g)...)
		}
	}
	return []RollupSpan{{Level: g.Day, From: from, To: to}}
}

// PeriodOfDay returns the first day (day bucket) of the period that day
// bucket d falls in: d itself, its week's Monday, its month's first
// day, or all for PeriodAll.
func PeriodOfDay(d int64, period RollupPeriod, all int64) int64 {
	switch period {
	case PeriodWeek:
		return WeekBucket(d)
	case PeriodMonth:
		return MonthStart(MonthBucket(d))
	case PeriodAll:
		return all
	}
	return d
}

// PeriodOfBucket returns the first day of the period a row of level at
// bucket falls in, as PeriodOfDay; hour levels are turned into local
// days in loc.
func PeriodOfBucket(level RollupLevel, bucket int64, period RollupPeriod, all int64, loc *time.Location) int64 {
	var d int64
	switch level {
	case RollupConnectorHour, RollupSiteHour:
		if loc == nil {
			loc = time.UTC
		}
		d = LocalDay(bucket, loc)
	case RollupSiteWeek, RollupStationWeek, RollupSiteTotalWeek, RollupFleetPaymentWeek:
		d = bucket
	case RollupSiteMonth, RollupStationMonth, RollupSiteTotalMonth, RollupFleetPaymentMonth:
		d = MonthStart(bucket)
	default:
		d = bucket
	}
	return PeriodOfDay(d, period, all)
}

// LocalDayHours returns how many UTC hours start on the local days
// [from, to) in loc: 24 a day, one less or more on the days a daylight
// saving change falls, as the rollups count them (by the hour's start).
func LocalDayHours(from, to int64, loc *time.Location) int64 {
	if to <= from {
		return 0
	}
	return LocalDayStartHour(to, loc) - LocalDayStartHour(from, loc)
}

// LocalDayStartHour returns the first hour bucket counted for local day d
// or a later one in loc: the hours of the local days [from, to) are
// LocalDayStartHour(from) up to LocalDayStartHour(to).
func LocalDayStartHour(d int64, loc *time.Location) int64 {
	if loc == nil {
		loc = time.UTC
	}
	y, m, dd := DayDate(d).Date()
	// Start one day early (offsets are under a day) and step to the first
	// hour counted for day d or later.
	h := HourBucket(time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)) - 24
	for LocalDay(h, loc) < d {
		h++
	}
	return h
}

// zones caches the time zones RollupLocation loaded: loading one reads
// the zone database, and every session end needs its site's.
var zones sync.Map // string → *time.Location

// RollupLocation returns the time zone named tz, the IANA name a site
// keeps, in which its rollups count days; UTC when tz is not a zone this
// program knows (the API refuses such a site, so only a record written
// some other way has one). Both stores and reports call it, so a site's
// days are the same everywhere.
func RollupLocation(tz string) *time.Location {
	if l, ok := zones.Load(tz); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(tz)
	if err != nil || tz == "" || tz == "Local" {
		l = time.UTC
	}
	zones.Store(tz, l)
	return l
}
