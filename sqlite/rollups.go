package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/sqlite/internal/db"
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

// addSessionRollups adds what the ended session s (as stored) and its CDR
// (nil without one) add to the rollups, in the write's transaction: one
// read of where it lands and one upsert per row (a dozen for a session
// of an hour or two). The session the
// write gave, given, must start as the stored one does, as PostgreSQL's
// store requires (it computes the rows from the write's session).
func addSessionRollups(ctx context.Context, q *db.Queries, given *evbill.Session, s evbill.Session, c *evbill.CDR) error {
	if given.StationID != s.StationID || given.ConnectorNumber != s.ConnectorNumber || given.TariffID != s.TariffID ||
		!normalize(given.StartedAt).Equal(s.StartedAt) || given.MeterStartWh != s.MeterStartWh {
		return evbill.Errorf(evbill.ECONFLICT, "session %q: the ended session's station, connector, tariff, started_at or "+
			"meter_start_wh is not the stored session's; end the session as read from the store", s.ID)
	}
	c, net, currency := countedCDR(c)
	p, err := q.RollupPlace(ctx, db.RollupPlaceParams{SessionID: s.ID, TenantID: s.TenantID, StationID: s.StationID})
	if err != nil {
		return fmt.Errorf("sqlite: rollups of session %q: %w", s.ID, err)
	}
	place := evbill.RollupPlace{
		TenantID: s.TenantID, SiteID: p.SiteID, Location: evbill.RollupLocation(p.TimeZone), StationID: s.StationID,
		ConnectorNumber: s.ConnectorNumber, Currency: currency, TariffID: s.TariffID, PaymentMethod: p.PaymentMethod,
	}
	return addRollupRows(ctx, q, evbill.RollupRows(place, evbill.SessionRollupHours(s, c, net)))
}

// addRefundRollups adds a refund of the tenant's CDR cdrID that
// succeeded at to the rollups: amount, of which net excluding VAT.
func addRefundRollups(ctx context.Context, q *db.Queries, tenantID, cdrID string, at time.Time, amount, net int64) error {
	p, err := q.RollupRefundPlace(ctx, db.RollupRefundPlaceParams{TenantID: tenantID, CdrID: cdrID})
	if err != nil {
		return fmt.Errorf("sqlite: rollups of a refund of CDR %q: %w", cdrID, err)
	}
	place := evbill.RollupPlace{
		TenantID: tenantID, SiteID: p.SiteID, Location: evbill.RollupLocation(p.TimeZone), StationID: p.StationID,
		ConnectorNumber: int(p.ConnectorNumber), Currency: p.Currency, TariffID: p.TariffID, PaymentMethod: p.PaymentMethod,
	}
	return addRollupRows(ctx, q, evbill.RollupRows(place, []evbill.RollupHour{evbill.RefundRollupHour(at, amount, net)}))
}

// addRollupRows adds rows, one prepared upsert each.
func addRollupRows(ctx context.Context, q *db.Queries, rows []evbill.RollupRow) error {
	for _, r := range rows {
		err := q.AddRollup(ctx, db.AddRollupParams{
			TenantID: r.TenantID, Level: int64(r.Level), SiteID: r.SiteID, Bucket: r.Bucket, StationID: r.StationID,
			ConnectorNumber: int64(r.ConnectorNumber), Currency: r.Currency, TariffID: r.TariffID, PaymentMethod: r.PaymentMethod,
			Sessions: r.Sessions, EnergyMwh: r.EnergyMWh, ChargingUs: r.ChargingMicros, IdleUs: r.IdleMicros,
			RevenueExclVat: r.RevenueExclVAT, RevenueInclVat: r.RevenueInclVAT, Refunds: r.Refunds,
			RefundedExclVat: r.RefundedExclVAT, RefundedInclVat: r.RefundedInclVAT,
		})
		if err != nil {
			return fmt.Errorf("sqlite: add rollups: %w", err)
		}
	}
	return nil
}

// flag is a RollupQuery's field kept, as RollupSums reads it.
func flag(by, f evbill.RollupBy) int64 {
	if by&f != 0 {
		return 1
	}
	return 0
}

// siteList is the query's sites as a JSON array, which the queries read
// with json_each.
func siteList(ids []string) (string, error) {
	b, err := json.Marshal(ids)
	return string(b), err
}

// RollupSums returns the sums of one level's rows of the query's sites
// over its buckets, grouped by the fields it keeps and the currency.
func (s *Store) RollupSums(ctx context.Context, q evbill.RollupQuery) ([]evbill.RollupRow, error) {
	if err := evbill.CheckRollupQuery(q); err != nil {
		return nil, err
	}
	sites, err := siteList(q.SiteIDs)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.RollupSums(ctx, db.RollupSumsParams{
		ByBucket: flag(q.By, evbill.RollupByBucket), BySite: flag(q.By, evbill.RollupBySite),
		ByStation: flag(q.By, evbill.RollupByStation), ByConnector: flag(q.By, evbill.RollupByConnector),
		ByTariff: flag(q.By, evbill.RollupByTariff), ByPaymentMethod: flag(q.By, evbill.RollupByPaymentMethod),
		TenantID: q.TenantID, Level: int64(q.Level), SiteIds: sites, FromBucket: q.From, ToBucket: q.To, StationID: q.StationID,
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollup sums: %w", err)
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
	sites, err := siteList(q.SiteIDs)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.RollupBusyHours(ctx, db.RollupBusyHoursParams{MinOccupied: q.MinOccupied.Microseconds(),
		TenantID: q.TenantID, SiteIds: sites, FromBucket: q.From, ToBucket: q.To})
	if err != nil {
		return nil, fmt.Errorf("sqlite: busy hours: %w", err)
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
	rows, err := s.r.RollupConnectors(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: connectors: %w", err)
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
	rows, err := s.r.TenantRollups(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollups: %w", err)
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
	evbill.SortRollupRows(out) // SQLite's text order is bytewise, but say it once for both engines
	return out, nil
}

// rebuildPage is how many sessions or refunds a rebuild reads at a time;
// their rows are summed in memory and added before the next page.
const rebuildPage = 2000

// RebuildRollups recomputes the tenant's rollups from its ended sessions
// and succeeded refunds. It runs in one transaction on the writer
// connection, the only one that writes, so no session ends and no refund
// succeeds until it commits: it reads exactly what it replaces.
func (s *Store) RebuildRollups(ctx context.Context, tenantID string) (evbill.RollupRebuild, error) {
	var out evbill.RollupRebuild
	err := s.tx(ctx, func(q *db.Queries) error {
		out = evbill.RollupRebuild{}
		if err := q.DeleteRollups(ctx, tenantID); err != nil {
			return fmt.Errorf("sqlite: rebuild rollups: %w", err)
		}
		for after := ""; ; {
			page, err := q.RollupEndedSessions(ctx, db.RollupEndedSessionsParams{TenantID: tenantID, After: after, Lim: rebuildPage})
			if err != nil {
				return fmt.Errorf("sqlite: rebuild rollups: %w", err)
			}
			if len(page) == 0 {
				break
			}
			var rows []evbill.RollupRow
			for _, r := range page {
				rows = append(rows, endedSessionRows(tenantID, r)...)
			}
			if err := addRollupRows(ctx, q, evbill.SumRollupRows(rows)); err != nil {
				return err
			}
			out.Sessions += len(page)
			after = page[len(page)-1].ID
		}
		for after := ""; ; {
			page, err := q.RollupSucceededRefunds(ctx, db.RollupSucceededRefundsParams{TenantID: tenantID, After: after, Lim: rebuildPage})
			if err != nil {
				return fmt.Errorf("sqlite: rebuild rollups: %w", err)
			}
			if len(page) == 0 {
				break
			}
			var rows []evbill.RollupRow
			for _, r := range page {
				place := evbill.RollupPlace{
					TenantID: tenantID, SiteID: r.SiteID, Location: evbill.RollupLocation(r.TimeZone), StationID: r.StationID,
					ConnectorNumber: int(r.ConnectorNumber), Currency: r.Currency, TariffID: r.TariffID, PaymentMethod: r.PaymentMethod,
				}
				rows = append(rows, evbill.RollupRows(place, []evbill.RollupHour{
					evbill.RefundRollupHour(fromMicros(r.UpdatedAt), r.Amount, r.Net)})...)
			}
			if err := addRollupRows(ctx, q, evbill.SumRollupRows(rows)); err != nil {
				return err
			}
			out.Refunds += len(page)
			after = page[len(page)-1].ID
		}
		n, err := q.CountRollups(ctx, tenantID)
		if err != nil {
			return fmt.Errorf("sqlite: rebuild rollups: %w", err)
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
		MeterStartWh: r.MeterStartWh, MeterStopWh: r.MeterStopWh, StartedAt: fromMicros(r.StartedAt),
		ParkingStartedAt: fromNullMicros(r.ParkingStartedAt), StoppedAt: fromNullMicros(r.StoppedAt), Flags: splitFlags(r.Flags),
	}
	var stored *evbill.CDR
	if r.CdrID.Valid {
		stored = &evbill.CDR{ID: r.CdrID.String, Currency: r.Currency.String, TotalExclVAT: r.TotalExclVat.String, AmountMinor: r.AmountMinor.Int64}
	}
	c, net, currency := countedCDR(stored)
	place := evbill.RollupPlace{
		TenantID: tenantID, SiteID: r.SiteID, Location: evbill.RollupLocation(r.TimeZone), StationID: r.StationID,
		ConnectorNumber: int(r.ConnectorNumber), Currency: currency, TariffID: r.TariffID, PaymentMethod: r.PaymentMethod,
	}
	return evbill.RollupRows(place, evbill.SessionRollupHours(s, c, net))
}

// RollupTenants returns the ID of every tenant, in order.
func (s *Store) RollupTenants(ctx context.Context) ([]string, error) {
	ids, err := s.r.RollupTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tenants: %w", err)
	}
	return ids, nil
}
