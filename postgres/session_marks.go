package postgres

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
)

// samplesMarked prepares a Samples write that carries events or a mark.
// Its readings, signed values, events and mark are one statement
// (AddSamplesMarked), since the events and the mark go in only when a
// reading or a signed value did, which only the statement itself knows;
// and, like the readings of any other write, it is sent without a
// savepoint, as the statement cannot fail on its own: it stores nothing
// and names the event ID when one is taken.
func (o *op) samplesMarked(sw *evbill.SampleWrite, now time.Time) {
	n, ns, ne := len(sw.Samples), len(sw.Signed), len(sw.Events)
	p := db.AddSamplesMarkedParams{
		TenantID: sw.TenantID, SessionID: sw.SessionID, Now: now,
		Times: make([]time.Time, n), EnergyWh: make([]string, n), PowerW: make([]string, n),
		CurrentA: make([]string, n), Soc: make([]string, n), Context: make([]string, n),
		SignedTimes: make([]time.Time, ns), SignedContexts: make([]string, ns),
		Raws: make([][]byte, ns), RawSha256s: make([][]byte, ns),
		EventIds: make([]string, ne), EventTypes: make([]string, ne),
		EventPayloads: make([][]byte, ne), EventTimes: make([]time.Time, ne),
	}
	for i, m := range sw.Samples {
		p.Times[i], p.EnergyWh[i], p.PowerW[i] = normalize(m.Time), m.EnergyWh, m.PowerW
		p.CurrentA[i], p.Soc[i], p.Context[i] = m.CurrentA, m.SoC, m.Context
	}
	for i, v := range sw.Signed {
		sum := sha256.Sum256([]byte(v.Raw))
		p.SignedTimes[i], p.SignedContexts[i], p.Raws[i], p.RawSha256s[i] = normalize(v.Time), v.Context, []byte(v.Raw), sum[:]
	}
	for i, ev := range sw.Events {
		p.EventIds[i], p.EventTypes[i] = ev.ID, ev.Type
		p.EventPayloads[i], p.EventTimes[i] = nonNil(ev.Payload), normalize(ev.CreatedAt)
	}
	if m := sw.Mark; m != nil {
		p.WithMark, p.MarkEnergyWh, p.Charge, p.HoldWarned = true, m.EnergyWh, m.Charge, m.HoldWarned
		if !m.UpdatedAsOf.IsZero() {
			asOf := normalize(m.UpdatedAsOf)
			p.UpdatedAsOf = &asOf
		}
	}
	o.capture(func(q *db.Queries) error {
		_, err := q.AddSamplesMarked(context.Background(), p)
		return err
	})
	o.read = func(ctx context.Context, q *db.Queries) error {
		r, err := q.AddSamplesMarked(ctx, p)
		switch {
		case err != nil:
			return err
		case r.State == "":
			o.w.Err = notFound("session", sw.SessionID)
		case r.State == evbill.SessionEnded:
			o.w.Err = evbill.Errorf(evbill.ECONFLICT, "session %q has already ended: its samples can no longer change", sw.SessionID)
		case r.Taken != "":
			o.w.Err = evbill.Errorf(evbill.ECONFLICT, "event id %q is already used", r.Taken)
		}
		return nil
	}
	o.fail = func(err error) error { return writeErr("add samples", err, nil, nil) }
	o.fill = func() {}
}

// SessionMark returns the mark of one of the tenant's sessions, the zero
// SessionMark when none was stored; ENOTFOUND when the session does not
// exist. One query answers both, the mark being joined to the session.
func (s *Store) SessionMark(ctx context.Context, tenantID, sessionID string) (evbill.SessionMark, error) {
	r, err := s.q.SessionMark(ctx, db.SessionMarkParams{TenantID: tenantID, SessionID: sessionID})
	if err != nil {
		return evbill.SessionMark{}, readErr(err, "session", sessionID)
	}
	if r.EnergyWh == nil { // energy_wh is NOT NULL: the join found no mark
		return evbill.SessionMark{}, nil
	}
	m := evbill.SessionMark{EnergyWh: *r.EnergyWh, Charge: *r.Charge, HoldWarned: *r.HoldWarned}
	if r.UpdatedAsOf != nil {
		m.UpdatedAsOf = r.UpdatedAsOf.UTC()
	}
	return m, nil
}
