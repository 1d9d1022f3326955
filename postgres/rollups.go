package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/postgres/internal/db"
)

var _ evbill.RollupStore = (*Store)(nil)

// countedCDR returns the CDR as the rollups count it, with its net
// excluding VAT in minor units by the ledger's one split rule, so that
// rollups add up to what the ledger posts as charging revenue. A CDR the
// rule refuses (an unknown currency, a net above the total) is never
// captured (the payment worker releases its hold): it counts as a session
// without a CDR, its money in no report, rather than fail the end of the
// session over a report.
func countedCDR(c *evbill.CDR) (*evbill.CDR, int64, string) {
	if c == nil {
		return nil, 0, ""
	}
	ch, err := ledger.ChargeOfCDR(*c)
	if err != nil {
		return nil, 0, ""
	}
	return c, ch.Net, c.Currency
}

// A session's rollup rows are computed in Go, as on SQLite, and their
// local days need the site's time zone. The end of a session is one
// statement of a pipeline sent all at once, so nothing read in it can
// inform the rows: the site and zone of each station are kept in memory
// for placeTTL and read, for the stations a batch misses, in one query
// before the batch's pipeline. In the steady state a batch costs no more
// round trips than before. Doing the days in SQL instead would make a
// site whose zone PostgreSQL's tz database lacks fail every session end
// there, and give the two engines two definitions of a day.
//
// A station moved to another site, or a site given another zone, is seen
// within placeTTL; the sessions ended meanwhile count under the old one
// until RebuildRollups. Keys are tenant and station IDs, random and
// unique across databases, so the one cache serves every store of the
// process.

// placeTTL is how long a station's site and zone are taken from memory.
const placeTTL = time.Minute

// maxPlaces bounds the cache: past it, it starts again empty.
const maxPlaces = 100_000

type placeKey struct{ tenantID, stationID string }

type place struct {
	siteID string
	loc    *time.Location
	until  time.Time
}

var places = struct {
	sync.Mutex
	m map[placeKey]place
}{m: map[placeKey]place{}}

// rollupPlaces returns the site and zone of the station of every End
// write, from memory or from one query for those it misses. A station
// the tenant does not have is absent: its end's rollup statement then
// refuses the write (see AddSessionRollups).
func (s *Store) rollupPlaces(ctx context.Context, writes []evbill.SessionWrite) (map[placeKey]place, error) {
	var out map[placeKey]place
	var missTenants, missStations []string
	at := time.Now()
	places.Lock()
	for i := range writes {
		e := writes[i].End
		if e == nil || e.Session == nil {
			continue
		}
		k := placeKey{e.Session.TenantID, e.Session.StationID}
		if out == nil {
			out = map[placeKey]place{}
		}
		if _, ok := out[k]; ok {
			continue
		}
		if p, ok := places.m[k]; ok && at.Before(p.until) {
			out[k] = p
			continue
		}
		out[k] = place{} // asked for once
		missTenants, missStations = append(missTenants, k.tenantID), append(missStations, k.stationID)
	}
	places.Unlock()
	if len(missStations) == 0 {
		return out, nil
	}
	rows, err := s.q.RollupStationPlaces(ctx, db.RollupStationPlacesParams{TenantIds: missTenants, StationIds: missStations})
	if err != nil {
		return nil, fmt.Errorf("postgres: stations' sites: %w", err)
	}
	places.Lock()
	defer places.Unlock()
	if len(places.m) > maxPlaces {
		places.m = map[placeKey]place{}
	}
	for _, r := range rows {
		k := placeKey{r.TenantID, r.ID}
		p := place{siteID: r.SiteID, loc: evbill.RollupLocation(r.TimeZone), until: at.Add(placeTTL)}
		places.m[k], out[k] = p, p
	}
	return out, nil
}

// sessionRollups adds to an End write (after end) the statement that adds
// its rows to the rollups, in the same savepoint: one more statement of
// the pipeline, no round trip of its own. The rows are computed from the
// session as the write gives it; the statement fills in the payment
// method, and refuses a session whose stored start differs (see
// AddSessionRollups).
func (o *op) sessionRollups(e *evbill.EndWrite, at map[placeKey]place) {
	s := e.Session
	c, net, currency := countedCDR(e.CDR)
	pl := at[placeKey{s.TenantID, s.StationID}]
	rows := evbill.RollupRows(evbill.RollupPlace{
		TenantID: s.TenantID, SiteID: pl.siteID, Location: pl.loc, StationID: s.StationID,
		ConnectorNumber: s.ConnectorNumber, Currency: currency, TariffID: s.TariffID,
	}, evbill.SessionRollupHours(*s, c, net))
	n := len(rows)
	arg := db.AddSessionRollupsParams{
		StationID: s.StationID, ConnectorNumber: int32(s.ConnectorNumber), StartedAt: normalize(s.StartedAt),
		MeterStartWh: s.MeterStartWh, TariffID: s.TariffID, TenantID: s.TenantID, SessionID: s.ID, EndedEventID: o.endedEvent,
		Levels: make([]int16, n), SiteIds: make([]string, n), Buckets: make([]int64, n), StationIds: make([]string, n),
		ConnectorNumbers: make([]int32, n), Currencies: make([]string, n), TariffIds: make([]string, n), Paid: make([]bool, n),
		Sessions: make([]int64, n), EnergyMwh: make([]int64, n), ChargingUs: make([]int64, n), IdleUs: make([]int64, n),
		RevenueExclVat: make([]int64, n), RevenueInclVat: make([]int64, n), Refunds: make([]int64, n),
		RefundedExclVat: make([]int64, n), RefundedInclVat: make([]int64, n),
	}
	for i, r := range rows {
		arg.Levels[i], arg.SiteIds[i], arg.Buckets[i], arg.StationIds[i] = int16(r.Level), r.SiteID, r.Bucket, r.StationID
		arg.ConnectorNumbers[i], arg.Currencies[i], arg.TariffIds[i] = int32(r.ConnectorNumber), r.Currency, r.TariffID
		arg.Paid[i] = r.Level.KeepsPaymentMethod()
		arg.Sessions[i], arg.EnergyMwh[i], arg.ChargingUs[i], arg.IdleUs[i] = r.Sessions, r.EnergyMWh, r.ChargingMicros, r.IdleMicros
		arg.RevenueExclVat[i], arg.RevenueInclVat[i] = r.RevenueExclVAT, r.RevenueInclVAT
		arg.Refunds[i], arg.RefundedExclVat[i], arg.RefundedInclVat[i] = r.Refunds, r.RefundedExclVAT, r.RefundedInclVAT
	}
	o.more = append(o.more, capture(func(q *db.Queries) error {
		return q.AddSessionRollups(context.Background(), arg)
	}))
	read := o.read
	o.read = func(ctx context.Context, q *db.Queries) error {
		if err := read(ctx, q); err != nil {
			return err
		}
		return q.AddSessionRollups(ctx, arg)
	}
	fail := o.fail
	o.fail = func(err error) error {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == notNullViolation && pe.TableName == "rollups" {
			return evbill.Errorf(evbill.ECONFLICT, "session %q: the ended session's station, connector, tariff, started_at or "+
				"meter_start_wh is not the stored session's; end the session as read from the store", s.ID)
		}
		return fail(err)
	}
}

// addRefundRollups adds a refund of the tenant's CDR cdrID that
// succeeded at to the rollups: amount, of which net excluding VAT.
func addRefundRollups(ctx context.Context, q *db.Queries, tenantID, cdrID string, at time.Time, amount, net int64) error {
	p, err := q.RollupRefundPlace(ctx, db.RollupRefundPlaceParams{TenantID: tenantID, CdrID: cdrID})
	if err != nil {
		return fmt.Errorf("postgres: rollups of a refund of CDR %q: %w", cdrID, err)
	}
	pl := evbill.RollupPlace{
		TenantID: tenantID, SiteID: p.SiteID, Location: evbill.RollupLocation(p.TimeZone), StationID: p.StationID,
		ConnectorNumber: int(p.ConnectorNumber), Currency: p.Currency, TariffID: p.TariffID, PaymentMethod: p.PaymentMethod,
	}
	return addRollupRows(ctx, q, evbill.RollupRows(pl, []evbill.RollupHour{evbill.RefundRollupHour(at, amount, net)}))
}

// rollupChunk is the most rows one AddRollups statement carries.
const rollupChunk = 5000

// addRollupRows adds rows with AddRollups, summed first: one statement
// cannot change a row twice.
func addRollupRows(ctx context.Context, q *db.Queries, rows []evbill.RollupRow) error {
	rows = evbill.SumRollupRows(rows)
	for len(rows) > 0 {
		n := min(len(rows), rollupChunk)
		arg := db.AddRollupsParams{
			TenantIds: make([]string, n), Levels: make([]int16, n), SiteIds: make([]string, n), Buckets: make([]int64, n),
			StationIds: make([]string, n), ConnectorNumbers: make([]int32, n), Currencies: make([]string, n),
			TariffIds: make([]string, n), PaymentMethods: make([]string, n), Sessions: make([]int64, n),
			EnergyMwh: make([]int64, n), ChargingUs: make([]int64, n), IdleUs: make([]int64, n),
			RevenueExclVat: make([]int64, n), RevenueInclVat: make([]int64, n), Refunds: make([]int64, n),
			RefundedExclVat: make([]int64, n), RefundedInclVat: make([]int64, n),
		}
		for i, r := range rows[:n] {
			arg.TenantIds[i], arg.Levels[i], arg.SiteIds[i], arg.Buckets[i] = r.TenantID, int16(r.Level), r.SiteID, r.Bucket
			arg.StationIds[i], arg.ConnectorNumbers[i], arg.Currencies[i] = r.StationID, int32(r.ConnectorNumber), r.Currency
			arg.TariffIds[i], arg.PaymentMethods[i] = r.TariffID, r.PaymentMethod
			arg.Sessions[i], arg.EnergyMwh[i], arg.ChargingUs[i], arg.IdleUs[i] = r.Sessions, r.EnergyMWh, r.ChargingMicros, r.IdleMicros
			arg.RevenueExclVat[i], arg.RevenueInclVat[i] = r.RevenueExclVAT, r.RevenueInclVAT
			arg.Refunds[i], arg.RefundedExclVat[i], arg.RefundedInclVat[i] = r.Refunds, r.RefundedExclVAT, r.RefundedInclVAT
		}
		if err := q.AddRollups(ctx, arg); err != nil {
			return fmt.Errorf("postgres: add rollups: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// RollupSums returns the sums of one level's rows of the query's sites
// over its buckets, grouped by the fields it keeps and the currency.
func (s *Store) RollupSums(ctx context.Context, q evbill.RollupQuery) ([]evbill.RollupRow, error) {
	if err := evbill.CheckRollupQuery(q); err != nil {
		return nil, err
	}
	rows, err := s.q.RollupSums(ctx, db.RollupSumsParams{
		ByBucket: q.By&evbill.RollupByBucket != 0, BySite: q.By&evbill.RollupBySite != 0,
		ByStation: q.By&evbill.RollupByStation != 0, ByConnector: q.By&evbill.RollupByConnector != 0,
		ByTariff: q.By&evbill.RollupByTariff != 0, ByPaymentMethod: q.By&evbill.RollupByPaymentMethod != 0,
		TenantID: q.TenantID, Level: int16(q.Level), SiteIds: q.SiteIDs, FromBucket: q.From, ToBucket: q.To, StationID: q.StationID,
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: rollup sums: %w", err)
	}
	out := make([]evbill.RollupRow, len(rows))
	for i, r := range rows {
		out[i] = evbill.RollupRow{
			RollupKey: evbill.RollupKey{TenantID: q.TenantID, Level: q.Level, Bucket: r.Bucket, SiteID: r.SiteID,
				StationID: r.StationID, ConnectorNumber: int(r.ConnectorNumber), Currency: r.Currency,
				TariffID: r.TariffID, PaymentMethod: r.PaymentMethod},
			RollupFigures: evbill.RollupFigures{Sessions: r.Sessions, EnergyMWh: r.EnergyMwh, ChargingMicros: r.ChargingUs,
				IdleMicros: r.IdleUs, RevenueExclVAT: r.RevenueExclVat, RevenueInclVAT: r.RevenueInclVat, Refunds: r.Refunds,
				RefundedExclVAT: r.RefundedExclVat, RefundedInclVAT: r.RefundedInclVat},
		}
	}
	return out, nil
}

// RollupBusyHours returns, per site and number of busy connectors, the
// hours of the range that had that many.
func (s *Store) RollupBusyHours(ctx context.Context, q evbill.RollupBusyQuery) ([]evbill.RollupBusy, error) {
	if err := evbill.CheckRollupQuery(evbill.RollupQuery{TenantID: q.TenantID, Level: evbill.RollupConnectorHour,
		SiteIDs: q.SiteIDs, From: q.From, To: q.To}); err != nil {
		return nil, err
	}
	rows, err := s.q.RollupBusyHours(ctx, db.RollupBusyHoursParams{TenantID: q.TenantID, SiteIds: q.SiteIDs,
		FromBucket: q.From, ToBucket: q.To, MinOccupied: q.MinOccupied.Microseconds()})
	if err != nil {
		return nil, fmt.Errorf("postgres: busy hours: %w", err)
	}
	out := make([]evbill.RollupBusy, len(rows))
	for i, r := range rows {
		out[i] = evbill.RollupBusy{SiteID: r.SiteID, Busy: int(r.Busy), Hours: r.Hours}
	}
	return out, nil
}

// RollupConnectors returns the tenant's stations with connectors on
// record, with their site and number of connectors.
func (s *Store) RollupConnectors(ctx context.Context, tenantID string) ([]evbill.RollupConnectors, error) {
	rows, err := s.q.RollupConnectors(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: connectors: %w", err)
	}
	out := make([]evbill.RollupConnectors, len(rows))
	for i, r := range rows {
		out[i] = evbill.RollupConnectors{SiteID: r.SiteID, StationID: r.StationID, Connectors: int(r.Connectors)}
	}
	return out, nil
}

// AddRollups adds rows to the stored rollups in one transaction, summing
// rows of equal keys.
func (s *Store) AddRollups(ctx context.Context, rows []evbill.RollupRow) error {
	for _, r := range rows {
		if r.TenantID == "" || !r.Level.Valid() {
			return evbill.Errorf(evbill.EINVALID, "a rollup row needs its tenant and a level, not %d", r.Level)
		}
	}
	return s.tx(ctx, func(q *db.Queries) error { return addRollupRows(ctx, q, rows) })
}

// Rollups returns every stored rollup row of the tenant, in key order.
func (s *Store) Rollups(ctx context.Context, tenantID string) ([]evbill.RollupRow, error) {
	rows, err := s.q.TenantRollups(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: rollups: %w", err)
	}
	out := make([]evbill.RollupRow, len(rows))
	for i, r := range rows {
		out[i] = evbill.RollupRow{
			RollupKey: evbill.RollupKey{TenantID: r.TenantID, Level: evbill.RollupLevel(r.Level), Bucket: r.Bucket,
				SiteID: r.SiteID, StationID: r.StationID, ConnectorNumber: int(r.ConnectorNumber), Currency: r.Currency,
				TariffID: r.TariffID, PaymentMethod: r.PaymentMethod},
			RollupFigures: evbill.RollupFigures{Sessions: r.Sessions, EnergyMWh: r.EnergyMwh, ChargingMicros: r.ChargingUs,
				IdleMicros: r.IdleUs, RevenueExclVAT: r.RevenueExclVat, RevenueInclVAT: r.RevenueInclVat, Refunds: r.Refunds,
				RefundedExclVAT: r.RefundedExclVat, RefundedInclVAT: r.RefundedInclVat},
		}
	}
	evbill.SortRollupRows(out)
	return out, nil
}

// rebuildPage is how many sessions or refunds a rebuild reads at a time;
// their rows are summed in memory and added before the next page.
const rebuildPage = 5000

// RebuildRollups recomputes the tenant's rollups from its ended sessions
// and succeeded refunds, in one transaction that first locks the rollups
// against every other writer (LockRollups): ends and refunds committed
// before are read, those after wait and add to the rebuilt rows.
func (s *Store) RebuildRollups(ctx context.Context, tenantID string) (evbill.RollupRebuild, error) {
	var out evbill.RollupRebuild
	err := s.tx(ctx, func(q *db.Queries) error {
		out = evbill.RollupRebuild{}
		if err := q.LockRollups(ctx); err != nil {
			return fmt.Errorf("postgres: lock rollups: %w", err)
		}
		if err := q.DeleteRollups(ctx, tenantID); err != nil {
			return fmt.Errorf("postgres: rebuild rollups: %w", err)
		}
		for after := ""; ; {
			page, err := q.RollupEndedSessions(ctx, db.RollupEndedSessionsParams{TenantID: tenantID, After: after, Lim: rebuildPage})
			if err != nil {
				return fmt.Errorf("postgres: rebuild rollups: %w", err)
			}
			if len(page) == 0 {
				break
			}
			var rows []evbill.RollupRow
			for _, r := range page {
				rows = append(rows, endedSessionRows(tenantID, r)...)
			}
			if err := addRollupRows(ctx, q, rows); err != nil {
				return err
			}
			out.Sessions += len(page)
			after = page[len(page)-1].ID
		}
		for after := ""; ; {
			page, err := q.RollupSucceededRefunds(ctx, db.RollupSucceededRefundsParams{TenantID: tenantID, After: after, Lim: rebuildPage})
			if err != nil {
				return fmt.Errorf("postgres: rebuild rollups: %w", err)
			}
			if len(page) == 0 {
				break
			}
			var rows []evbill.RollupRow
			for _, r := range page {
				pl := evbill.RollupPlace{
					TenantID: tenantID, SiteID: r.SiteID, Location: evbill.RollupLocation(r.TimeZone), StationID: r.StationID,
					ConnectorNumber: int(r.ConnectorNumber), Currency: r.Currency, TariffID: r.TariffID, PaymentMethod: r.PaymentMethod,
				}
				rows = append(rows, evbill.RollupRows(pl, []evbill.RollupHour{
					evbill.RefundRollupHour(r.UpdatedAt, r.Amount, r.Net)})...)
			}
			if err := addRollupRows(ctx, q, rows); err != nil {
				return err
			}
			out.Refunds += len(page)
			after = page[len(page)-1].ID
		}
		n, err := q.CountRollups(ctx, tenantID)
		if err != nil {
			return fmt.Errorf("postgres: rebuild rollups: %w", err)
		}
		out.Rows = int(n)
		return nil
	})
	return out, err
}

// endedSessionRows returns the rollup rows of one ended session as the
// rebuild reads it, the same as its end added.
func endedSessionRows(tenantID string, r db.RollupEndedSessionsRow) []evbill.RollupRow {
	s := evbill.Session{
		ID: r.ID, TenantID: tenantID, StationID: r.StationID, ConnectorNumber: int(r.ConnectorNumber), TariffID: r.TariffID,
		MeterStartWh: r.MeterStartWh, MeterStopWh: r.MeterStopWh, StartedAt: r.StartedAt.UTC(),
		ParkingStartedAt: utcPtr(r.ParkingStartedAt), StoppedAt: utcPtr(r.StoppedAt), Flags: splitFlags(r.Flags),
	}
	var stored *evbill.CDR
	if r.CdrID != nil {
		stored = &evbill.CDR{ID: *r.CdrID, Currency: deref(r.Currency), TotalExclVAT: deref(r.TotalExclVat)}
		if r.AmountMinor != nil {
			stored.AmountMinor = *r.AmountMinor
		}
	}
	c, net, currency := countedCDR(stored)
	pl := evbill.RollupPlace{
		TenantID: tenantID, SiteID: r.SiteID, Location: evbill.RollupLocation(r.TimeZone), StationID: r.StationID,
		ConnectorNumber: int(r.ConnectorNumber), Currency: currency, TariffID: r.TariffID, PaymentMethod: r.PaymentMethod,
	}
	return evbill.RollupRows(pl, evbill.SessionRollupHours(s, c, net))
}

// RollupTenants returns the ID of every tenant, in order.
func (s *Store) RollupTenants(ctx context.Context) ([]string, error) {
	ids, err := s.q.RollupTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: tenants: %w", err)
	}
	return ids, nil
}
