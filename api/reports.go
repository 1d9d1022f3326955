package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/govalues/decimal"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/money"
)

// Reports read the rollups (evbill.RollupStore), never sessions: a report
// over years of sessions sums a few thousand rows. A range of dates is
// read from the coarsest rollups that fit (whole months, whole weeks, the
// days left at either end); a range of instants, from the hourly ones.
// Days, weeks and months are each site's own, in its time zone.

// reportQuery are the query parameters every report takes, which each
// report's parameters repeat (huma reads the fields of the input struct
// itself, not of one embedded in it): from, to, site_id, station_id and
// format. A station belongs to one site, so with both the station must
// be the site's.
type reportQuery struct {
	From, To, SiteID, StationID, Format string
}

// Ranges a report reads at most: ten years of dates, or 93 days of
// instants (which read hourly rollups).
const (
	maxReportDays  = 3660
	maxReportHours = 93 * 24
)

// reportScope is what a report covers: the tenant's sites it reads (each
// a run of the rollups' key), an optional station, and the range.
type reportScope struct {
	tenantID string
	sites    map[string]evbill.Site
	siteIDs  []string
	station  string
	// dates tells a range of local dates [fromDay, toDay) from one of UTC
	// hours [fromHour, toHour).
	dates            bool
	fromDay, toDay   int64
	fromHour, toHour int64
}

// loc returns the time zone of a site the report covers.
func (sc reportScope) loc(siteID string) *time.Location {
	return evbill.RollupLocation(sc.sites[siteID].TimeZone)
}

// hours returns the UTC hour buckets the range covers at a site: its
// local dates' hours, or the instants'.
func (sc reportScope) hours(siteID string) (from, to int64) {
	if !sc.dates {
		return sc.fromHour, sc.toHour
	}
	loc := sc.loc(siteID)
	return evbill.LocalDayStartHour(sc.fromDay, loc), evbill.LocalDayStartHour(sc.toDay, loc)
}

// parseBound reads from or to: a date, or an instant on a whole hour.
func parseBound(s string) (t time.Time, date bool, msg string) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d, true, ""
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, false, "must be a date (2026-03-01) or an RFC 3339 instant (2026-03-01T00:00:00Z)"
	}
	if t = t.UTC(); t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
		return time.Time{}, false, "must be on a whole hour in UTC: the rollups are hourly"
	}
	return t, false, ""
}

// scope checks the query's range and filters and reads the sites it
// covers.
func (s *server) scope(ctx context.Context, q reportQuery) (reportScope, error) {
	sc := reportScope{tenantID: tenantOf(ctx), sites: map[string]evbill.Site{}}
	var fe fieldErrors
	from, fromDate, fromMsg := parseBound(q.From)
	to, toDate, toMsg := parseBound(q.To)
	switch {
	case fromMsg != "":
		fe.add("query.from", fromMsg)
	case toMsg != "":
		fe.add("query.to", toMsg)
	case fromDate != toDate:
		fe.add("query.to", "must be of the kind from is: both dates or both instants")
	case !to.After(from):
		fe.add("query.to", "must be after from")
	case fromDate && to.Sub(from) > maxReportDays*24*time.Hour:
		fe.add("query.to", fmt.Sprintf("the range may cover at most %d days", maxReportDays))
	case !fromDate && to.Sub(from) > maxReportHours*time.Hour:
		fe.add("query.to", fmt.Sprintf("a range of instants may cover at most %d hours; give dates for a longer one", maxReportHours))
	}
	if err := fe.err(); err != nil {
		return sc, err
	}
	sc.dates = fromDate
	if sc.dates {
		sc.fromDay, sc.toDay = evbill.DayBucket(from.Date()), evbill.DayBucket(to.Date())
	} else {
		sc.fromHour, sc.toHour = evbill.HourBucket(from), evbill.HourBucket(to)
	}
	site := q.SiteID
	if q.StationID != "" {
		st, err := s.store.Station(ctx, sc.tenantID, q.StationID)
		if err := checkRef(&fe, "query.station_id", "station", err); err != nil {
			return sc, err
		}
		if err == nil {
			if site != "" && site != st.SiteID {
				fe.add("query.station_id", "the station is not at site "+site)
			}
			site, sc.station = st.SiteID, st.ID
		}
		if err := fe.err(); err != nil {
			return sc, err
		}
	}
	if site != "" {
		rec, err := s.store.Site(ctx, sc.tenantID, site)
		if err := checkRef(&fe, "query.site_id", "site", err); err != nil {
			return sc, err
		}
		if err == nil {
			sc.sites[rec.ID], sc.siteIDs = rec, []string{rec.ID}
		}
		return sc, fe.err()
	}
	for after := ""; ; {
		page, err := s.store.ListSites(ctx, sc.tenantID, evbill.Page{After: after, Limit: evbill.MaxPageLimit})
		if err != nil {
			return sc, err
		}
		for _, x := range page {
			sc.sites[x.ID] = x
			sc.siteIDs = append(sc.siteIDs, x.ID)
		}
		if len(page) < evbill.MaxPageLimit {
			break
		}
		after = page[len(page)-1].ID
	}
	return sc, nil
}

// periodAll marks the one period of a report over its whole range.
const periodAll = int64(-1 << 62)

// periodRow is rollup sums in one period of a report, keyed by the
// fields its query kept.
type periodRow struct {
	period int64 // the period's first local day; periodAll for the whole range
	evbill.RollupRow
}

// sums reads the report's rollups, grouped by by (and the currency), as
// rows in the report's periods. Over dates it reads the day, week and
// month levels of grains that cover the range; over instants, or when
// hourly is set, the hour level hour, grouping the sites by the hours
// their local dates cover.
func (s *server) sums(ctx context.Context, rs evbill.RollupStore, sc reportScope, period evbill.RollupPeriod,
	grains evbill.RollupGrains, hourly bool, hour evbill.RollupLevel, by evbill.RollupBy) ([]periodRow, error) {
	if len(sc.siteIDs) == 0 {
		return nil, nil
	}
	var out []periodRow
	if sc.dates && !hourly {
		for _, span := range evbill.PlanRollupDays(sc.fromDay, sc.toDay, period, grains) {
			rows, err := rs.RollupSums(ctx, evbill.RollupQuery{TenantID: sc.tenantID, Level: span.Level, From: span.From, To: span.To,
				SiteIDs: sc.siteIDs, StationID: sc.station, By: by | evbill.RollupByBucket})
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				p := periodAll
				if period != evbill.PeriodAll {
					p = evbill.PeriodOfBucket(span.Level, r.Bucket, period, 0, nil)
				}
				out = append(out, periodRow{p, r})
			}
		}
		return out, nil
	}
	// Sites whose local dates cover the same hours are read together.
	groups := map[[2]int64][]string{}
	var order [][2]int64
	for _, id := range sc.siteIDs {
		from, to := sc.hours(id)
		k := [2]int64{from, to}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], id)
	}
	for _, k := range order {
		rows, err := rs.RollupSums(ctx, evbill.RollupQuery{TenantID: sc.tenantID, Level: hour, From: k[0], To: k[1],
			SiteIDs: groups[k], StationID: sc.station, By: by | evbill.RollupByBucket | evbill.RollupBySite})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			p := periodAll
			if period != evbill.PeriodAll {
				p = evbill.PeriodOfBucket(hour, r.Bucket, period, 0, sc.loc(r.SiteID))
			}
			out = append(out, periodRow{p, r})
		}
	}
	return out, nil
}

// periodLabel is how a report names a period: its first local day, or
// "all".
func periodLabel(p int64) string {
	if p == periodAll {
		return "all"
	}
	return evbill.DayDate(p).Format(time.DateOnly)
}

// periodEnd returns the day after the last of the period starting at p.
func periodEnd(p int64, period evbill.RollupPeriod) int64 {
	switch period {
	case evbill.PeriodWeek:
		return p + 7
	case evbill.PeriodMonth:
		return evbill.MonthStart(evbill.MonthBucket(p) + 1)
	}
	return p + 1
}

// periodHours counts the hours of the report's range in each period, per
// site: the hours that start on the site's local days of the period, or,
// over instants, the range's hours that do. Each site's are counted once.
type periodHours struct {
	sc     reportScope
	period evbill.RollupPeriod
	sites  map[string]map[int64]int64
}

// of returns the hours of period p at the site.
func (ph *periodHours) of(siteID string, p int64) int64 {
	if p == periodAll {
		from, to := ph.sc.hours(siteID)
		return to - from
	}
	loc := ph.sc.loc(siteID)
	if ph.sites == nil {
		ph.sites = map[string]map[int64]int64{}
	}
	counts, ok := ph.sites[siteID]
	if !ok {
		counts = map[int64]int64{}
		ph.sites[siteID] = counts
		if !ph.sc.dates {
			for h := ph.sc.fromHour; h < ph.sc.toHour; h++ {
				counts[evbill.PeriodOfBucket(evbill.RollupSiteHour, h, ph.period, 0, loc)]++
			}
		}
	}
	if n, ok := counts[p]; ok || !ph.sc.dates {
		return n
	}
	n := evbill.LocalDayHours(max(p, ph.sc.fromDay), min(periodEnd(p, ph.period), ph.sc.toDay), loc)
	counts[p] = n
	return n
}

// ratio returns num/den rounded half away from zero to scale decimal
// places, exactly; nil when den is 0. num and den are not negative.
func ratio(num, den *big.Int, scale int) *Decimal {
	if den.Sign() == 0 {
		return nil
	}
	n := new(big.Int).Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	n.Lsh(n, 1).Add(n, den) // (2n + d) / 2d: half away from zero for n ≥ 0
	q := n.Quo(n, new(big.Int).Lsh(den, 1))
	if !q.IsInt64() {
		return nil
	}
	d, err := decimal.New(q.Int64(), scale)
	if err != nil {
		return nil
	}
	return &Decimal{Decimal: d}
}

func bi(v int64) *big.Int { return big.NewInt(v) }

// kWh shows milliwatt-hours as kilowatt-hours, exactly, with at least
// three decimals.
func kWh(mwh int64) Decimal {
	d, err := decimal.New(mwh, 6)
	if err != nil {
		return Decimal{}
	}
	return Decimal{Decimal: d.Trim(3)}
}

// hoursOf shows microseconds as hours, to four decimals.
func hoursOf(us int64) Decimal {
	return *ratio(bi(us), bi(3600e6), 4)
}

// exponent returns the number of decimals of the currency's minor unit.
func exponent(code string) int {
	if c, err := money.ParseCurrency(code); err == nil {
		return c.Exponent()
	}
	return 2
}

// RevenueReport is revenue by period and by site, station, tariff or
// payment method.
type RevenueReport struct {
	From    string       `json:"from"`
	To      string       `json:"to"`
	Period  string       `json:"period"`
	GroupBy string       `json:"group_by"`
	Rows    []RevenueRow `json:"rows" nullable:"false" doc:"One row per period, group and currency, by period, group and currency."`
	Totals  []RevenueRow `json:"totals" nullable:"false" doc:"The whole range, one row per currency."`
}

// RevenueRow is the revenue of one group in one period and currency, in
// minor units. Revenue is in the hour each session ended, refunds in the
// hour each succeeded; net is revenue less refunds.
type RevenueRow struct {
	Period          string  `json:"period" doc:"The period's first day in the site's calendar (YYYY-MM-DD), or all."`
	Group           string  `json:"group" doc:"The site, station or tariff ID, or the payment method (card, adhoc, wallet, account, none); empty when not grouped."`
	Currency        string  `json:"currency"`
	Sessions        int64   `json:"sessions" doc:"Sessions that ended with a CDR in the period."`
	EnergyKWh       Decimal `json:"energy_kwh" doc:"Their energy, exact."`
	RevenueExclVAT  int64   `json:"revenue_excl_vat" doc:"What their CDRs charged, excluding VAT (the ledger's split), minor units."`
	RevenueInclVAT  int64   `json:"revenue_incl_vat"`
	Refunds         int64   `json:"refunds" doc:"Refunds that succeeded in the period."`
	RefundedExclVAT int64   `json:"refunded_excl_vat"`
	RefundedInclVAT int64   `json:"refunded_incl_vat"`
	NetExclVAT      int64   `json:"net_excl_vat" doc:"revenue_excl_vat − refunded_excl_vat."`
	NetInclVAT      int64   `json:"net_incl_vat"`
}

func revenueRow(period, group, currency string, f evbill.RollupFigures) RevenueRow {
	return RevenueRow{Period: period, Group: group, Currency: currency, Sessions: f.Sessions, EnergyKWh: kWh(f.EnergyMWh),
		RevenueExclVAT: f.RevenueExclVAT, RevenueInclVAT: f.RevenueInclVAT, Refunds: f.Refunds,
		RefundedExclVAT: f.RefundedExclVAT, RefundedInclVAT: f.RefundedInclVAT,
		NetExclVAT: f.RevenueExclVAT - f.RefundedExclVAT, NetInclVAT: f.RevenueInclVAT - f.RefundedInclVAT}
}

// revenueQuery are the revenue report's parameters.
type revenueQuery struct {
	From      string `query:"from" required:"true" maxLength:"40" doc:"The range's start, included: a date (YYYY-MM-DD, midnight in each site's time zone) or an RFC 3339 instant on a whole hour."`
	To        string `query:"to" required:"true" maxLength:"40" doc:"The range's end, excluded, of the same kind as from: to=2026-04-01 ends March."`
	SiteID    string `query:"site_id" maxLength:"64" doc:"Only this site."`
	StationID string `query:"station_id" maxLength:"64" doc:"Only this station."`
	Format    string `query:"format" enum:"json,csv" default:"json" doc:"json, or csv for a spreadsheet: a header line, then one line per row."`
	Period    string `query:"period" enum:"day,week,month,all" default:"month" doc:"The periods: days, ISO weeks (from Monday) or months in each site's calendar, or all of the range at once."`
	GroupBy   string `query:"group_by" enum:"site,station,tariff,payment_method,none" default:"site" doc:"What each row is of."`
}

// common returns the parameters every report takes.
func (q *revenueQuery) common() reportQuery {
	return reportQuery{From: q.From, To: q.To, SiteID: q.SiteID, StationID: q.StationID, Format: q.Format}
}

func (s *server) revenue(ctx context.Context, rs evbill.RollupStore, q *revenueQuery) (RevenueReport, error) {
	sc, err := s.scope(ctx, q.common())
	if err != nil {
		return RevenueReport{}, err
	}
	period := evbill.RollupPeriod(q.Period)
	// A site's totals serve reports by site and of the fleet; station
	// levels keep the station, and no tariff or payment method, so a
	// station's revenue by tariff or payment method is read from its
	// connectors' hours.
	var by evbill.RollupBy
	group := func(r evbill.RollupRow) string { return "" }
	grains, hourly := evbill.SiteTotalGrains, false
	switch q.GroupBy {
	case "site":
		by, group = evbill.RollupBySite, func(r evbill.RollupRow) string { return r.SiteID }
	case "station":
		by, group = evbill.RollupByStation, func(r evbill.RollupRow) string { return r.StationID }
	case "tariff":
		by, group, grains = evbill.RollupByTariff, func(r evbill.RollupRow) string { return r.TariffID }, evbill.SiteGrains
		hourly = sc.station != ""
	case "payment_method":
		by, group, grains = evbill.RollupByPaymentMethod, func(r evbill.RollupRow) string { return r.PaymentMethod }, evbill.SiteGrains
		hourly = sc.station != ""
		if q.SiteID == "" && q.StationID == "" && sc.dates {
			// The whole fleet: its own rows, not every site's.
			grains, sc.siteIDs = evbill.FleetPaymentGrains, []string{evbill.FleetSite}
		}
	}
	hour := evbill.RollupSiteHour
	if sc.station != "" || q.GroupBy == "station" {
		hour = evbill.RollupConnectorHour
		if !hourly {
			grains = evbill.StationGrains
		}
	}
	rows, err := s.sums(ctx, rs, sc, period, grains, hourly, hour, by)
	if err != nil {
		return RevenueReport{}, err
	}
	type key struct {
		period          int64
		group, currency string
	}
	sums := map[key]*evbill.RollupFigures{}
	totals := map[string]*evbill.RollupFigures{}
	for _, r := range rows {
		if r.Currency == "" {
			continue // sessions without a CDR: no revenue
		}
		k := key{r.period, group(r.RollupRow), r.Currency}
		if sums[k] == nil {
			sums[k] = &evbill.RollupFigures{}
		}
		sums[k].Add(r.RollupFigures)
		if totals[r.Currency] == nil {
			totals[r.Currency] = &evbill.RollupFigures{}
		}
		totals[r.Currency].Add(r.RollupFigures)
	}
	keys := make([]key, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.period, b.period), cmp.Compare(a.group, b.group), cmp.Compare(a.currency, b.currency))
	})
	out := RevenueReport{From: q.From, To: q.To, Period: q.Period, GroupBy: q.GroupBy, Rows: []RevenueRow{}, Totals: []RevenueRow{}}
	for _, k := range keys {
		out.Rows = append(out.Rows, revenueRow(periodLabel(k.period), k.group, k.currency, *sums[k]))
	}
	for _, c := range slices.Sorted(maps.Keys(totals)) {
		out.Totals = append(out.Totals, revenueRow("all", "", c, *totals[c]))
	}
	return out, nil
}

// UtilizationReport is how much of their time the connectors of each
// site or station were occupied, charging or idle, and what they earned.
type UtilizationReport struct {
	From    string           `json:"from"`
	To      string           `json:"to"`
	Period  string           `json:"period"`
	GroupBy string           `json:"group_by"`
	Rows    []UtilizationRow `json:"rows" nullable:"false"`
	Heatmap []HeatmapCell    `json:"heatmap,omitempty" doc:"For one site or station (site_id or station_id): 7 × 24 cells, by weekday and hour of the site's local time, over the range."`
}

// UtilizationRow is one site's or station's use in one period. Shares
// are of the connector-hours available: the connectors on record times
// the hours of the period in the range; they are absent for a site or
// station without connectors on record.
type UtilizationRow struct {
	Period         string               `json:"period"`
	Group          string               `json:"group" doc:"The site or station ID."`
	Connectors     int                  `json:"connectors" doc:"Connectors on record now."`
	ConnectorHours int64                `json:"connector_hours" doc:"Connectors × hours in the period."`
	Sessions       int64                `json:"sessions" doc:"Sessions that ended in the period, with or without a CDR."`
	EnergyKWh      Decimal              `json:"energy_kwh"`
	OccupiedHours  Decimal              `json:"occupied_hours"`
	ChargingHours  Decimal              `json:"charging_hours"`
	IdleHours      Decimal              `json:"idle_hours" doc:"Occupied by a vehicle no longer drawing power."`
	OccupiedShare  *Decimal             `json:"occupied_share,omitempty"`
	ChargingShare  *Decimal             `json:"charging_share,omitempty"`
	IdleShare      *Decimal             `json:"idle_share,omitempty"`
	Revenue        []UtilizationRevenue `json:"revenue" nullable:"false" doc:"Per currency."`
}

// UtilizationRevenue is what a site or station earned in one currency,
// per kWh and per connector-hour.
type UtilizationRevenue struct {
	Currency            string   `json:"currency"`
	RevenueExclVAT      int64    `json:"revenue_excl_vat" doc:"Minor units."`
	EnergyKWh           Decimal  `json:"energy_kwh" doc:"The energy of the sessions billed in this currency."`
	PerKWh              *Decimal `json:"per_kwh,omitempty" doc:"Revenue excluding VAT per kWh billed, in major units, 4 decimals."`
	PerConnectorHour    *Decimal `json:"per_connector_hour,omitempty" doc:"Revenue excluding VAT per connector-hour available, in major units, 4 decimals."`
	NetPerConnectorHour *Decimal `json:"net_per_connector_hour,omitempty" doc:"The same, after refunds."`
	RefundedExclVAT     int64    `json:"refunded_excl_vat"`
}

// HeatmapCell is one hour of the week, in the site's local time.
type HeatmapCell struct {
	Weekday       int      `json:"weekday" doc:"1 Monday … 7 Sunday."`
	Hour          int      `json:"hour" doc:"0–23, local; in a zone with a half-hour offset, the hour its UTC hour starts in."`
	Hours         int64    `json:"hours" doc:"How many of these hours the range has."`
	Sessions      int64    `json:"sessions" doc:"Sessions that ended in these hours."`
	OccupiedShare *Decimal `json:"occupied_share,omitempty"`
	ChargingShare *Decimal `json:"charging_share,omitempty"`
}

// utilizationQuery are the utilization report's parameters.
type utilizationQuery struct {
	From      string `query:"from" required:"true" maxLength:"40" doc:"The range's start, included: a date (YYYY-MM-DD, midnight in each site's time zone) or an RFC 3339 instant on a whole hour."`
	To        string `query:"to" required:"true" maxLength:"40" doc:"The range's end, excluded, of the same kind as from: to=2026-04-01 ends March."`
	SiteID    string `query:"site_id" maxLength:"64" doc:"Only this site."`
	StationID string `query:"station_id" maxLength:"64" doc:"Only this station."`
	Format    string `query:"format" enum:"json,csv" default:"json" doc:"json, or csv for a spreadsheet: a header line, then one line per row."`
	Period    string `query:"period" enum:"day,week,month,all" default:"all" doc:"The periods, in each site's calendar, or all of the range at once."`
	GroupBy   string `query:"group_by" enum:"site,station" default:"site"`
}

// common returns the parameters every report takes.
func (q *utilizationQuery) common() reportQuery {
	return reportQuery{From: q.From, To: q.To, SiteID: q.SiteID, StationID: q.StationID, Format: q.Format}
}

func (s *server) utilization(ctx context.Context, rs evbill.RollupStore, q *utilizationQuery) (UtilizationReport, error) {
	sc, err := s.scope(ctx, q.common())
	if err != nil {
		return UtilizationReport{}, err
	}
	period := evbill.RollupPeriod(q.Period)
	by, hour, grains := evbill.RollupBySite, evbill.RollupSiteHour, evbill.SiteTotalGrains
	if q.GroupBy == "station" || sc.station != "" {
		by, hour, grains = evbill.RollupBySite|evbill.RollupByStation, evbill.RollupConnectorHour, evbill.StationGrains
	}
	rows, err := s.sums(ctx, rs, sc, period, grains, false, hour, by)
	if err != nil {
		return UtilizationReport{}, err
	}
	conns, err := rs.RollupConnectors(ctx, sc.tenantID)
	if err != nil {
		return UtilizationReport{}, err
	}
	perStation, perSite := map[string]int{}, map[string]int{}
	for _, c := range conns {
		perStation[c.StationID] += c.Connectors
		perSite[c.SiteID] += c.Connectors
	}
	type key struct {
		period      int64
		site, group string
	}
	type acc struct {
		all        evbill.RollupFigures
		byCurrency map[string]*evbill.RollupFigures
	}
	sums := map[key]*acc{}
	for _, r := range rows {
		g := r.SiteID
		if q.GroupBy == "station" {
			g = r.StationID
		}
		k := key{r.period, r.SiteID, g}
		a := sums[k]
		if a == nil {
			a = &acc{byCurrency: map[string]*evbill.RollupFigures{}}
			sums[k] = a
		}
		a.all.Add(r.RollupFigures)
		if r.Currency != "" {
			if a.byCurrency[r.Currency] == nil {
				a.byCurrency[r.Currency] = &evbill.RollupFigures{}
			}
			a.byCurrency[r.Currency].Add(r.RollupFigures)
		}
	}
	keys := make([]key, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.period, b.period), cmp.Compare(a.group, b.group)) })
	hoursIn := &periodHours{sc: sc, period: period}
	out := UtilizationReport{From: q.From, To: q.To, Period: q.Period, GroupBy: q.GroupBy, Rows: []UtilizationRow{}}
	for _, k := range keys {
		a := sums[k]
		n := perSite[k.site]
		switch {
		case q.GroupBy == "station":
			n = perStation[k.group]
		case sc.station != "":
			n = perStation[sc.station]
		}
		ch := int64(n) * hoursIn.of(k.site, k.period)
		avail := new(big.Int).Mul(bi(ch), bi(3600e6))
		row := UtilizationRow{Period: periodLabel(k.period), Group: k.group, Connectors: n, ConnectorHours: ch,
			Sessions: a.all.Sessions, EnergyKWh: kWh(a.all.EnergyMWh), OccupiedHours: hoursOf(a.all.OccupiedMicros()),
			ChargingHours: hoursOf(a.all.ChargingMicros), IdleHours: hoursOf(a.all.IdleMicros),
			OccupiedShare: ratio(bi(a.all.OccupiedMicros()), avail, 4), ChargingShare: ratio(bi(a.all.ChargingMicros), avail, 4),
			IdleShare: ratio(bi(a.all.IdleMicros), avail, 4), Revenue: []UtilizationRevenue{}}
		for _, c := range slices.Sorted(maps.Keys(a.byCurrency)) {
			f := a.byCurrency[c]
			unit := new(big.Int).Exp(bi(10), bi(int64(exponent(c))), nil)
			row.Revenue = append(row.Revenue, UtilizationRevenue{Currency: c, RevenueExclVAT: f.RevenueExclVAT,
				RefundedExclVAT: f.RefundedExclVAT, EnergyKWh: kWh(f.EnergyMWh),
				PerKWh:              ratio(new(big.Int).Mul(bi(f.RevenueExclVAT), bi(1e6)), new(big.Int).Mul(bi(f.EnergyMWh), unit), 4),
				PerConnectorHour:    ratio(bi(f.RevenueExclVAT), new(big.Int).Mul(bi(ch), unit), 4),
				NetPerConnectorHour: ratio(bi(max(f.RevenueExclVAT-f.RefundedExclVAT, 0)), new(big.Int).Mul(bi(ch), unit), 4)})
		}
		out.Rows = append(out.Rows, row)
	}
	if q.SiteID != "" || q.StationID != "" {
		if out.Heatmap, err = s.heatmap(ctx, rs, sc, perSite, perStation); err != nil {
			return UtilizationReport{}, err
		}
	}
	return out, nil
}

// heatmap returns the 7 × 24 hours of the week of the one site (or
// station) the report covers, each hour placed by the local time its UTC
// hour starts at. A site's whole months are read from its week hours (168
// rows a month), the days left at either end, a range of instants and a
// station from the hours.
func (s *server) heatmap(ctx context.Context, rs evbill.RollupStore, sc reportScope, perSite, perStation map[string]int) ([]HeatmapCell, error) {
	if len(sc.siteIDs) != 1 {
		return nil, nil
	}
	site := sc.siteIDs[0]
	loc := sc.loc(site)
	level, n := evbill.RollupSiteHour, perSite[site]
	if sc.station != "" {
		level, n = evbill.RollupConnectorHour, perStation[sc.station]
	}
	from, to := sc.hours(site)
	type span struct {
		level    evbill.RollupLevel
		from, to int64
	}
	spans := []span{{level, from, to}}
	if sc.dates && sc.station == "" {
		spans = nil
		for _, p := range evbill.PlanRollupDays(sc.fromDay, sc.toDay, evbill.PeriodMonth, evbill.SiteGrains) {
			if p.Level == evbill.RollupSiteMonth {
				spans = append(spans, span{evbill.RollupSiteWeekHours, p.From * 168, p.To * 168})
				continue
			}
			spans = append(spans, span{level, evbill.LocalDayStartHour(p.From, loc), evbill.LocalDayStartHour(p.To, loc)})
		}
	}
	var figs [168]evbill.RollupFigures
	for _, sp := range spans {
		rows, err := rs.RollupSums(ctx, evbill.RollupQuery{TenantID: sc.tenantID, Level: sp.level, From: sp.from, To: sp.to,
			SiteIDs: sc.siteIDs, StationID: sc.station, By: evbill.RollupByBucket})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			cell := int(r.Bucket % 168)
			if sp.level != evbill.RollupSiteWeekHours {
				cell = evbill.WeekHour(r.Bucket, loc)
			}
			figs[cell].Add(r.RollupFigures)
		}
	}
	var hours [168]int64
	for h := from; h < to; h++ {
		hours[evbill.WeekHour(h, loc)]++
	}
	out := make([]HeatmapCell, 168)
	for i := range out {
		avail := new(big.Int).Mul(bi(int64(n)*hours[i]), bi(3600e6))
		out[i] = HeatmapCell{Weekday: i/24 + 1, Hour: i % 24, Hours: hours[i], Sessions: figs[i].Sessions,
			OccupiedShare: ratio(bi(figs[i].OccupiedMicros()), avail, 4), ChargingShare: ratio(bi(figs[i].ChargingMicros), avail, 4)}
	}
	return out, nil
}

// SaturationReport tells, per site, how often every connector was busy at
// once: the hours a driver arriving would have found none free, the
// signal for adding chargers.
type SaturationReport struct {
	From        string           `json:"from"`
	To          string           `json:"to"`
	BusyMinutes int              `json:"busy_minutes" doc:"A connector is busy in an hour it was occupied (charging or idle) at least this many minutes of."`
	Sites       []SaturationSite `json:"sites" nullable:"false"`
}

// SaturationSite is one site's saturation over the range.
type SaturationSite struct {
	SiteID         string           `json:"site_id"`
	Connectors     int              `json:"connectors" doc:"Connectors on record now; saturated means this many busy."`
	Hours          int64            `json:"hours" doc:"Hours in the range, in the site's calendar."`
	SaturatedHours int64            `json:"saturated_hours" doc:"Hours with every connector busy (or more connectors busy than are on record)."`
	SaturatedShare *Decimal         `json:"saturated_share,omitempty" doc:"saturated_hours / hours; absent without connectors on record."`
	BusyHistogram  []SaturationBusy `json:"busy_histogram" nullable:"false" doc:"How many hours had how many connectors busy (at least one)."`
	PeakBusy       int              `json:"peak_busy" doc:"The most connectors busy in one hour."`
}

// SaturationBusy is how many hours had Busy connectors busy.
type SaturationBusy struct {
	Busy  int   `json:"busy"`
	Hours int64 `json:"hours"`
}

// saturationQuery are the saturation report's parameters.
type saturationQuery struct {
	From        string `query:"from" required:"true" maxLength:"40" doc:"The range's start, included: a date (YYYY-MM-DD, midnight in each site's time zone) or an RFC 3339 instant on a whole hour."`
	To          string `query:"to" required:"true" maxLength:"40" doc:"The range's end, excluded, of the same kind as from: to=2026-04-01 ends March."`
	SiteID      string `query:"site_id" maxLength:"64" doc:"Only this site."`
	StationID   string `query:"station_id" maxLength:"64" doc:"Only this station."`
	Format      string `query:"format" enum:"json,csv" default:"json" doc:"json, or csv for a spreadsheet: a header line, then one line per row."`
	BusyMinutes int    `query:"busy_minutes" minimum:"1" maximum:"60" default:"45" doc:"How many minutes of an hour a connector must be occupied to count as busy in it."`
}

// common returns the parameters every report takes.
func (q *saturationQuery) common() reportQuery {
	return reportQuery{From: q.From, To: q.To, SiteID: q.SiteID, StationID: q.StationID, Format: q.Format}
}

func (s *server) saturation(ctx context.Context, rs evbill.RollupStore, q *saturationQuery) (SaturationReport, error) {
	if q.StationID != "" {
		return SaturationReport{}, fieldErrors{{Location: "query.station_id", Message: "saturation is of a site: give site_id"}}.err()
	}
	sc, err := s.scope(ctx, q.common())
	if err != nil {
		return SaturationReport{}, err
	}
	conns, err := rs.RollupConnectors(ctx, sc.tenantID)
	if err != nil {
		return SaturationReport{}, err
	}
	perSite := map[string]int{}
	for _, c := range conns {
		perSite[c.SiteID] += c.Connectors
	}
	groups := map[[2]int64][]string{}
	for _, id := range sc.siteIDs {
		from, to := sc.hours(id)
		groups[[2]int64{from, to}] = append(groups[[2]int64{from, to}], id)
	}
	busy := map[string][]SaturationBusy{}
	for k, ids := range groups {
		rows, err := rs.RollupBusyHours(ctx, evbill.RollupBusyQuery{TenantID: sc.tenantID, SiteIDs: ids, From: k[0], To: k[1],
			MinOccupied: time.Duration(q.BusyMinutes) * time.Minute})
		if err != nil {
			return SaturationReport{}, err
		}
		for _, r := range rows {
			busy[r.SiteID] = append(busy[r.SiteID], SaturationBusy{Busy: r.Busy, Hours: r.Hours})
		}
	}
	out := SaturationReport{From: q.From, To: q.To, BusyMinutes: q.BusyMinutes, Sites: []SaturationSite{}}
	for _, id := range slices.Sorted(slices.Values(sc.siteIDs)) {
		from, to := sc.hours(id)
		site := SaturationSite{SiteID: id, Connectors: perSite[id], Hours: to - from, BusyHistogram: []SaturationBusy{}}
		for _, b := range busy[id] {
			site.BusyHistogram = append(site.BusyHistogram, b)
			site.PeakBusy = max(site.PeakBusy, b.Busy)
			if site.Connectors > 0 && b.Busy >= site.Connectors {
				site.SaturatedHours += b.Hours
			}
		}
		if site.Connectors > 0 {
			site.SaturatedShare = ratio(bi(site.SaturatedHours), bi(site.Hours), 4)
		}
		out.Sites = append(out.Sites, site)
	}
	return out, nil
}

// reportOut is a report's answer: the JSON of the report, or its CSV.
type reportOut struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

// registerReport adds one report's route: GET, read-only, answering JSON
// (documented with R's schema) or, with ?format=csv, the lines csvOf
// makes.
func registerReport[I, R any](s *server, rs evbill.RollupStore, op huma.Operation, format func(*I) string,
	build func(context.Context, evbill.RollupStore, *I) (R, error), csvOf func(R) [][]string) {
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[R](), true, reflect.TypeFor[R]().Name())
	op.Method, op.Tags = http.MethodGet, []string{"Reports"}
	op.Errors = append(op.Errors, http.StatusUnprocessableEntity)
	op.Responses = map[string]*huma.Response{"200": {Description: "The report.", Content: map[string]*huma.MediaType{
		"application/json": {Schema: schema},
		"text/csv":         {Schema: &huma.Schema{Type: huma.TypeString, Description: "A header line, then one line per row."}},
	}}}
	name := op.OperationID
	register(s, op, auth.Read, func(ctx context.Context, in *I) (*reportOut, error) {
		rep, err := build(ctx, rs, in)
		if err != nil {
			return nil, err
		}
		if format(in) == "csv" {
			var b bytes.Buffer
			w := csv.NewWriter(&b)
			if err := w.WriteAll(csvOf(rep)); err != nil {
				return nil, err
			}
			return &reportOut{ContentType: "text/csv; charset=utf-8", ContentDisposition: `attachment; filename="` + name + `.csv"`, Body: b.Bytes()}, nil
		}
		b, err := json.Marshal(rep)
		if err != nil {
			return nil, err
		}
		return &reportOut{ContentType: "application/json", Body: b}, nil
	})
}

func dec(d *Decimal) string {
	if d == nil {
		return ""
	}
	return d.String()
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func (s *server) registerReports() {
	rs, ok := s.store.(evbill.RollupStore)
	if !ok {
		return
	}
	ranges := " Ranges are [from, to): dates in each site's own calendar (read from daily, weekly and monthly rollups), or " +
		"whole-hour RFC 3339 instants (read from hourly rollups, up to 93 days). site_id or station_id narrow the report."
	registerReport(s, rs, huma.Operation{OperationID: "revenue-report", Path: Prefix + "/reports/revenue",
		Summary: "Revenue by period and by site, station, tariff or payment method",
		Description: "Revenue of the sessions that ended in each period (their CDRs' amounts, excluding VAT by the ledger's split, and " +
			"including it), refunds in the period they succeeded, and the net; in minor units, per currency, never converted. " +
			"For sessions paid in full, the totals are the ledger's charging_revenue and refunds accounts." + ranges},
		func(in *revenueQuery) string { return in.Format }, s.revenue,
		func(r RevenueReport) [][]string {
			lines := [][]string{{"period", "group", "currency", "sessions", "energy_kwh", "revenue_excl_vat", "revenue_incl_vat",
				"refunds", "refunded_excl_vat", "refunded_incl_vat", "net_excl_vat", "net_incl_vat"}}
			for _, x := range r.Rows {
				lines = append(lines, []string{x.Period, x.Group, x.Currency, i64(x.Sessions), x.EnergyKWh.String(),
					i64(x.RevenueExclVAT), i64(x.RevenueInclVAT), i64(x.Refunds), i64(x.RefundedExclVAT), i64(x.RefundedInclVAT),
					i64(x.NetExclVAT), i64(x.NetInclVAT)})
			}
			return lines
		})
	registerReport(s, rs, huma.Operation{OperationID: "utilization-report", Path: Prefix + "/reports/utilization",
		Summary: "Utilization of connectors by site or station",
		Description: "The share of connector-hours occupied, charging and idle, sessions, energy, and revenue per kWh and per " +
			"connector-hour, per period; for one site or station also an hour-of-week heatmap in the site's local time. " +
			"The CSV holds the rows, one line per currency of revenue." + ranges},
		func(in *utilizationQuery) string { return in.Format }, s.utilization,
		func(r UtilizationReport) [][]string {
			lines := [][]string{{"period", "group", "connectors", "connector_hours", "sessions", "energy_kwh", "occupied_hours",
				"charging_hours", "idle_hours", "occupied_share", "charging_share", "idle_share", "currency", "revenue_excl_vat",
				"per_kwh", "per_connector_hour"}}
			for _, x := range r.Rows {
				head := []string{x.Period, x.Group, strconv.Itoa(x.Connectors), i64(x.ConnectorHours), i64(x.Sessions), x.EnergyKWh.String(),
					x.OccupiedHours.String(), x.ChargingHours.String(), x.IdleHours.String(), dec(x.OccupiedShare),
					dec(x.ChargingShare), dec(x.IdleShare)}
				if len(x.Revenue) == 0 {
					lines = append(lines, append(head, "", "", "", ""))
				}
				for _, v := range x.Revenue {
					lines = append(lines, append(slices.Clone(head), v.Currency, i64(v.RevenueExclVAT), dec(v.PerKWh), dec(v.PerConnectorHour)))
				}
			}
			return lines
		})
	registerReport(s, rs, huma.Operation{OperationID: "saturation-report", Path: Prefix + "/reports/saturation",
		Summary: "How often every connector of a site was busy at once",
		Description: "Per site, the hours in which every connector on record was busy (occupied at least busy_minutes of the hour), " +
			"their share of the range's hours, and how many hours had how many connectors busy. It reads each connector's hours, so " +
			"a long range over many sites reads many rows: ask for a site, or a quarter." + ranges},
		func(in *saturationQuery) string { return in.Format }, s.saturation,
		func(r SaturationReport) [][]string {
			lines := [][]string{{"site_id", "connectors", "hours", "saturated_hours", "saturated_share", "peak_busy", "busy_minutes"}}
			for _, x := range r.Sites {
				lines = append(lines, []string{x.SiteID, strconv.Itoa(x.Connectors), i64(x.Hours), i64(x.SaturatedHours),
					dec(x.SaturatedShare), strconv.Itoa(x.PeakBusy), strconv.Itoa(r.BusyMinutes)})
			}
			return lines
		})
}
