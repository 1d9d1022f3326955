package sqlite

import (
	"context"
	"database/sql"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
)

// announces reports whether a sample write carries events or a mark,
// which it stores only with something new (see announce).
func announces(sw *evbill.SampleWrite) bool { return len(sw.Events) > 0 || sw.Mark != nil }

// announce stores a sample write's events, in their order, and its mark.
// addSamples calls it only once the write stored a reading or a signed
// value: a retransmitted MeterValues must not announce the same progress
// twice, nor move the mark the next events are throttled by.
func announce(ctx context.Context, q *db.Queries, sw *evbill.SampleWrite) error {
	for _, ev := range sw.Events {
		if err := insertEvent(ctx, q, ev); err != nil {
			return err
		}
	}
	m := sw.Mark
	if m == nil {
		return nil
	}
	var asOf sql.NullInt64
	if !m.UpdatedAsOf.IsZero() {
		asOf = sql.NullInt64{Int64: normalize(m.UpdatedAsOf).UnixMicro(), Valid: true}
	}
	err := q.UpsertSessionMark(ctx, db.UpsertSessionMarkParams{
		UpdatedAsOf: asOf, EnergyWh: m.EnergyWh, Charge: m.Charge, HoldWarned: sqliteBool(m.HoldWarned),
		TenantID: sw.TenantID, SessionID: sw.SessionID,
	})
	if err != nil {
		return writeErr(ctx, q, "store session mark", err, nil, nil)
	}
	return nil
}

// SessionMark returns the mark of one of the tenant's sessions, the zero
// SessionMark when none was stored; ENOTFOUND when the session does not
// exist. One query answers both, the mark being joined to the session.
func (s *Store) SessionMark(ctx context.Context, tenantID, sessionID string) (evbill.SessionMark, error) {
	r, err := s.r.SessionMark(ctx, db.SessionMarkParams{TenantID: tenantID, SessionID: sessionID})
	if err != nil {
		return evbill.SessionMark{}, readErr(err, "session", sessionID)
	}
	if !r.EnergyWh.Valid { // energy_wh is NOT NULL: the join found no mark
		return evbill.SessionMark{}, nil
	}
	m := evbill.SessionMark{EnergyWh: r.EnergyWh.String, Charge: r.Charge.Int64, HoldWarned: r.HoldWarned.Int64 != 0}
	if r.UpdatedAsOf.Valid {
		m.UpdatedAsOf = fromMicros(r.UpdatedAsOf.Int64)
	}
	return m, nil
}
