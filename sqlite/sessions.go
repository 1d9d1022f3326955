package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
)

var _ evbill.SessionStore = (*Store)(nil)

// normalize returns t as the store keeps it: UTC, to the microsecond.
func normalize(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Flags are kept as one TEXT column, joined by commas: they are short
// identifiers such as meter_backwards, which a comma never belongs to.

func joinFlags(flags []string) string { return strings.Join(flags, ",") }

func splitFlags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func session(r db.Session) evbill.Session {
	return evbill.Session{
		ID: r.ID, TenantID: r.TenantID, StationID: r.StationID, ConnectorNumber: int(r.ConnectorNumber),
		TransactionID: r.TransactionID, IDTag: r.IDTag, TokenID: r.TokenID.String,
		DriverID: r.DriverID.String, GroupID: r.GroupID.String, TariffID: r.TariffID.String,
		TariffVersion: int(r.TariffVersion), MeterStartWh: r.MeterStartWh, MeterStopWh: r.MeterStopWh,
		StartedAt: fromMicros(r.StartedAt), ParkingStartedAt: fromNullMicros(r.ParkingStartedAt),
		StoppedAt: fromNullMicros(r.StoppedAt), State: r.State, StopReason: r.StopReason,
		Flags: splitFlags(r.Flags), CreatedAt: fromMicros(r.CreatedAt), UpdatedAt: fromMicros(r.UpdatedAt),
	}
}

func sessions(rows []db.Session) []evbill.Session {
	out := make([]evbill.Session, len(rows))
	for i, r := range rows {
		out[i] = session(r)
	}
	return out
}

func cdr(r db.Cdr) evbill.CDR {
	return evbill.CDR{
		ID: r.ID, TenantID: r.TenantID, SessionID: r.SessionID, Currency: r.Currency,
		TotalExclVAT: r.TotalExclVat, TotalInclVAT: r.TotalInclVat, AmountMinor: r.AmountMinor,
		Document: rawJSON(r.Document), Breakdown: rawJSON(r.Breakdown), CreatedAt: fromMicros(r.CreatedAt),
	}
}

// rawJSON returns the stored bytes, nil for none, as both engines do.
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func refToken(tenantID, id string) ref {
	return ref{"token_id", id, func(ctx context.Context, q *db.Queries) (int64, error) {
		return q.TokenExists(ctx, db.TokenExistsParams{TenantID: tenantID, ID: id})
	}}
}

func refTariffVersion(tenantID, tariffID string, version int) ref {
	v := ""
	if tariffID != "" {
		v = strconv.Itoa(version)
	}
	return ref{"tariff_version", v, func(ctx context.Context, q *db.Queries) (int64, error) {
		return q.TariffVersionExists(ctx, db.TariffVersionExistsParams{TenantID: tenantID, TariffID: tariffID, Version: int64(version)})
	}}
}

// checkWrite applies the rules that need no database, so that a write
// breaking one fails with a clear message before it costs a savepoint.

// The savepoint every write runs in. One name serves all: each is
// released (or rolled back to and released) before the next is taken.
const (
	savepoint         = "SAVEPOINT w"
	releaseSavepoint  = "RELEASE w"
	rollbackSavepoint = "ROLLBACK TO w"
)

// ApplySessionWrites applies the writes in one transaction on the writer
// connection, each in a savepoint of its own: a write that fails sets its
// Err and is undone alone, the others commit, with one fsync for all.
// Each write's Err and Created are reset first; the records of the writes
// that succeed are filled in once the transaction has committed. When the
// transaction itself fails (the returned error), nothing was stored, and
// every write that had no error of its own gets that error too, so that
// no caller reading only its write's Err takes an unstored write for a
// stored one.
func (s *Store) ApplySessionWrites(ctx context.Context, writes []evbill.SessionWrite) error {
	for i := range writes {
		writes[i].Err, writes[i].Created = nil, false
	}
	if len(writes) == 0 {
		return nil
	}
	err := s.applySessionWrites(ctx, writes)
	if err != nil {
		for i := range writes {
			if writes[i].Err == nil {
				writes[i].Err = err
			}
			writes[i].Created = false
		}
	}
	return err
}

func (s *Store) applySessionWrites(ctx context.Context, writes []evbill.SessionWrite) error {
	// Rules that need no database first, outside the write lock.
	valid := 0
	for i := range writes {
		if writes[i].Err = writes[i].Check(); writes[i].Err == nil {
			valid++
		}
	}
	if valid == 0 {
		return nil
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// The savepoint statements are prepared once per batch, not parsed
	// once per write, and only when a write needs them.
	var sp *savepoints
	q := s.w.WithTx(tx)
	now := now()
	// What each stored write gives back to its caller, handed over once
	// the transaction has committed.
	fills := make([]func(), len(writes))
	for i := range writes {
		w := &writes[i]
		if w.Err != nil {
			continue
		}
		if w.Samples != nil && !announces(w.Samples) {
			// Readings, the commonest write, need no savepoint: each
			// INSERT goes only into an open session that exists and skips
			// instants already stored, so none fails on its own, and one
			// that inserts nothing changes nothing. An error that is not
			// the write's own (I/O, a full disk) may have ended the
			// transaction, and fails the batch. PostgreSQL's store does
			// the same. Readings that carry events or a mark take the
			// savepoint below instead: an event whose ID is already used
			// fails the write after its readings went in. A savepoint
			// costs SQLite little, and the throttle of those events makes
			// such writes few; PostgreSQL's store, where a savepoint is a
			// subtransaction, checks the IDs in its statement instead.
			fill, err := addSamples(ctx, q, w.Samples, now)
			if err != nil && evbill.ErrorCode(err) == evbill.EINTERNAL {
				return err
			}
			if w.Err = err; err == nil {
				fills[i] = fill
			}
			continue
		}
		if sp == nil {
			if sp, err = prepareSavepoints(ctx, tx); err != nil {
				return err
			}
		}
		if err := sp.begin(ctx); err != nil {
			return err
		}
		var fill func()
		switch {
		case w.Start != nil:
			var id string
			fill, id, w.Err = startSession(ctx, q, w, now)
			if w.Err == nil && w.Payment != nil {
				fill, w.Err = startPayment(ctx, q, w, id, fill, now)
			}
		case w.Samples != nil:
			fill, w.Err = addSamples(ctx, q, w.Samples, now)
		case w.Update != nil:
			fill, w.Err = updateSession(ctx, q, w.Update, now)
		default:
			fill, w.Err = endSession(ctx, q, w.End, now)
		}
		if w.Err != nil {
			if err := sp.rollback(ctx, w.Err); err != nil {
				return err
			}
		}
		if err := sp.release(ctx); err != nil {
			return err
		}
		if w.Err == nil {
			fills[i] = fill
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	for _, fill := range fills {
		if fill != nil {
			fill()
		}
	}
	return nil
}

// noFill is the fill of a write that gives nothing back.
func noFill() {}

// startSession stores a new session, or finds the one that has its
// retransmission key; fill gives the caller that session and whether it
// was created.
func startSession(ctx context.Context, q *db.Queries, w *evbill.SessionWrite, now time.Time) (fill func(), id string, err error) {
	s := w.Start
	startedAt := normalize(s.StartedAt)
	existing, err := q.SessionByRetransmissionKey(ctx, db.SessionByRetransmissionKeyParams{
		TenantID: s.TenantID, StationID: s.StationID, ConnectorNumber: int64(s.ConnectorNumber),
		IDTag: s.IDTag, MeterStartWh: s.MeterStartWh, StartedAt: startedAt.UnixMicro(),
	})
	if err == nil {
		return func() { *s = session(existing) }, existing.ID, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("sqlite: start session: %w", err)
	}
	txID, err := q.NextTransactionID(ctx, s.TenantID)
	if err != nil {
		return nil, "", writeErr(ctx, q, "start session", err, nil, []ref{refTenant(s.TenantID)})
	}
	// OCPP 1.6 carries transactionId as a JSON integer that chargers
	// hold in 32 bits.
	if txID > math.MaxInt32 {
		return nil, "", evbill.Errorf(evbill.ECONFLICT, "tenant %q has used every OCPP transaction ID", s.TenantID)
	}
	state := s.State
	if state == "" {
		state = evbill.SessionActive
	}
	r, err := q.InsertSession(ctx, db.InsertSessionParams{
		TenantID: s.TenantID, ID: evbill.NewID(evbill.PrefixSession), StationID: s.StationID,
		ConnectorNumber: int64(s.ConnectorNumber), TransactionID: txID, IDTag: s.IDTag,
		TokenID: nullString(s.TokenID), DriverID: nullString(s.DriverID), GroupID: nullString(s.GroupID),
		TariffID: nullString(s.TariffID), TariffVersion: int64(s.TariffVersion),
		MeterStartWh: s.MeterStartWh, MeterStopWh: s.MeterStopWh, StartedAt: startedAt.UnixMicro(),
		ParkingStartedAt: nullMicros(normTime(s.ParkingStartedAt)), StoppedAt: nullMicros(normTime(s.StoppedAt)),
		State: state, StopReason: s.StopReason, Flags: joinFlags(s.Flags),
		CreatedAt: now.UnixMicro(), UpdatedAt: now.UnixMicro(),
	})
	if err != nil {
		return nil, "", writeErr(ctx, q, "start session", err, nil, []ref{
			refStation(s.TenantID, s.StationID), refToken(s.TenantID, s.TokenID),
			refDriver(s.TenantID, s.DriverID), refGroup("group_id", s.TenantID, s.GroupID),
			refTariff(s.TenantID, s.TariffID), refTariffVersion(s.TenantID, s.TariffID, s.TariffVersion),
		})
	}
	if err := insertEvent(ctx, q, evbill.SessionEvent(evbill.EventSessionStarted, session(r), now)); err != nil {
		return nil, "", err
	}
	return func() { *s, w.Created = session(r), true }, r.ID, nil
}

// startPayment stores the payment of the session the write started (or
// found, for a retransmission) unless that session has one already;
// fill is the session's fill, extended with the payment's.
func startPayment(ctx context.Context, q *db.Queries, w *evbill.SessionWrite, sessionID string, fill func(), now time.Time) (func(), error) {
	p := *w.Payment
	p.SessionID = sessionID
	if _, err := q.PaymentBySession(ctx, db.PaymentBySessionParams{TenantID: p.TenantID, SessionID: nullString(p.SessionID)}); err == nil {
		return fill, nil // a retransmission: the session is paid for already
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: payment of session %q: %w", p.SessionID, err)
	}
	if err := insertPayment(ctx, q, &p, now); err != nil {
		return nil, err
	}
	return func() {
		fill()
		*w.Payment, w.PaymentCreated = p, true
	}, nil
}

// sessionGone explains why a session the write needs could not be
// changed: it does not exist for the tenant, or it has ended.
func sessionGone(ctx context.Context, q *db.Queries, tenantID, id string) error {
	state, err := q.SessionState(ctx, db.SessionStateParams{TenantID: tenantID, ID: id})
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("session", id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: read session %q: %w", id, err)
	}
	if state == evbill.SessionEnded {
		return evbill.Errorf(evbill.ECONFLICT, "session %q has already ended", id)
	}
	return fmt.Errorf("sqlite: session %q is %s but could not be changed", id, state)
}

func addSamples(ctx context.Context, q *db.Queries, sw *evbill.SampleWrite, now time.Time) (fill func(), err error) {
	inserted := int64(0)
	if len(sw.Signed) > 0 {
		if inserted, err = addSignedValues(ctx, q, sw, now); err != nil {
			return nil, err
		}
	}
	for _, m := range sw.Samples {
		n, err := q.InsertSample(ctx, db.InsertSampleParams{
			TenantID: sw.TenantID, SessionID: sw.SessionID, Time: normalize(m.Time).UnixMicro(),
			EnergyWh: m.EnergyWh, PowerW: m.PowerW, CurrentA: m.CurrentA, Soc: m.SoC, Context: m.Context,
		})
		if err != nil {
			return nil, writeErr(ctx, q, "add samples", err, nil, nil)
		}
		inserted += n
	}
	if inserted > 0 {
		if announces(sw) {
			if err := announce(ctx, q, sw); err != nil {
				return nil, err
			}
		}
		return noFill, nil
	}
	// Nothing went in: every reading and signed value was a
	// retransmission, or the session is missing or ended.
	state, err := q.SessionState(ctx, db.SessionStateParams{TenantID: sw.TenantID, ID: sw.SessionID})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session", sw.SessionID)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: add samples: %w", err)
	}
	if state == evbill.SessionEnded {
		return nil, evbill.Errorf(evbill.ECONFLICT, "session %q has already ended: its samples can no longer change", sw.SessionID)
	}
	return noFill, nil
}

func updateSession(ctx context.Context, q *db.Queries, s *evbill.Session, now time.Time) (fill func(), err error) {
	r, err := q.UpdateSession(ctx, db.UpdateSessionParams{
		State: s.State, ParkingStartedAt: nullMicros(normTime(s.ParkingStartedAt)), Flags: joinFlags(s.Flags),
		UpdatedAt: now.UnixMicro(), TenantID: s.TenantID, ID: s.ID,
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sessionGone(ctx, q, s.TenantID, s.ID)
	}
	if err != nil {
		return nil, writeErr(ctx, q, "update session", err, nil, nil)
	}
	return func() { *s = session(r) }, nil
}

// endSession ends the session and stores its CDR and events.
func endSession(ctx context.Context, q *db.Queries, e *evbill.EndWrite, now time.Time) (fill func(), err error) {
	s := e.Session
	r, err := q.EndSession(ctx, db.EndSessionParams{
		MeterStopWh: s.MeterStopWh, StoppedAt: nullMicros(normTime(s.StoppedAt)),
		ParkingStartedAt: nullMicros(normTime(s.ParkingStartedAt)), StopReason: s.StopReason,
		Flags: joinFlags(s.Flags), UpdatedAt: now.UnixMicro(), TenantID: s.TenantID, ID: s.ID,
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sessionGone(ctx, q, s.TenantID, s.ID)
	}
	if err != nil {
		return nil, writeErr(ctx, q, "end session", err, nil, nil)
	}
	// session.ended leads the write's events.
	if err := insertEvent(ctx, q, evbill.SessionEvent(evbill.EventSessionEnded, session(r), now)); err != nil {
		return nil, err
	}
	var c evbill.CDR
	if e.CDR != nil {
		c = *e.CDR
		c.TenantID, c.SessionID, c.CreatedAt = s.TenantID, s.ID, now
		if c.ID == "" {
			c.ID = evbill.NewID(evbill.PrefixCDR)
		}
		err := q.InsertCDR(ctx, db.InsertCDRParams{
			TenantID: c.TenantID, ID: c.ID, SessionID: c.SessionID, Currency: c.Currency,
			TotalExclVat: c.TotalExclVAT, TotalInclVat: c.TotalInclVAT, AmountMinor: c.AmountMinor,
			Document: string(c.Document), Breakdown: string(c.Breakdown), CreatedAt: c.CreatedAt.UnixMicro(),
		})
		if err != nil {
			return nil, writeErr(ctx, q, "store CDR", err, []unique{
				{columns: "cdrs.tenant_id, cdrs.session_id", msg: fmt.Sprintf("session %q already has a CDR", s.ID)},
				{columns: "cdrs.tenant_id, cdrs.id", field: "CDR id", value: c.ID},
			}, nil)
		}
		if err := insertCDRPeriods(ctx, q, &c, fromMicros(r.StartedAt)); err != nil {
			return nil, err
		}
		c.Document, c.Breakdown = bytesOrNil(c.Document), bytesOrNil(c.Breakdown)
	}
	// The rollups take the session as stored, with its CDR, in this
	// write's savepoint: a report never sees a CDR it does not count.
	var rc *evbill.CDR
	if e.CDR != nil {
		rc = &c
	}
	if err := addSessionRollups(ctx, q, s, session(r), rc); err != nil {
		return nil, err
	}
	events := make([]evbill.Event, len(e.Events))
	for i, ev := range e.Events {
		ev.TenantID, ev.CreatedAt = s.TenantID, now
		if ev.ID == "" {
			ev.ID = evbill.NewID(evbill.PrefixEvent)
		}
		err := q.InsertEvent(ctx, db.InsertEventParams{
			ID: ev.ID, TenantID: ev.TenantID, Type: ev.Type, Payload: string(ev.Payload), CreatedAt: now.UnixMicro(),
		})
		if err != nil {
			return nil, writeErr(ctx, q, "store event", err,
				[]unique{{columns: "events.id", field: "event id", value: ev.ID}}, nil)
		}
		ev.Payload = bytesOrNil(ev.Payload)
		events[i] = ev
	}
	return func() {
		*s = session(r)
		if e.CDR != nil {
			*e.CDR = c
		}
		copy(e.Events, events)
	}, nil
}

// runWrite applies one write through ApplySessionWrites: the single-write
// methods are the same path as a batch, so they cannot behave otherwise.
func (s *Store) runWrite(ctx context.Context, w evbill.SessionWrite) (evbill.SessionWrite, error) {
	ws := []evbill.SessionWrite{w}
	if err := s.ApplySessionWrites(ctx, ws); err != nil {
		return ws[0], err
	}
	return ws[0], ws[0].Err
}

// StartSession stores a new session with the tenant's next transaction
// ID, or, for a retransmitted StartTransaction, fills s with the session
// already stored and returns created false. The store sets ID,
// TransactionID, CreatedAt and UpdatedAt, and State to active when empty.
func (s *Store) StartSession(ctx context.Context, ss *evbill.Session) (bool, error) {
	w, err := s.runWrite(ctx, evbill.SessionWrite{Start: ss})
	return w.Created, err
}

// AddSamples stores the readings of one of the tenant's sessions; a reading
// at an instant the session already has is ignored. ENOTFOUND when the
// session does not exist, ECONFLICT when it has ended.
func (s *Store) AddSamples(ctx context.Context, tenantID, sessionID string, samples []evbill.MeterSample) error {
	_, err := s.runWrite(ctx, evbill.SessionWrite{Samples: &evbill.SampleWrite{TenantID: tenantID, SessionID: sessionID, Samples: samples}})
	return err
}

// UpdateSession stores the session's State (active or parking),
// ParkingStartedAt and Flags, and fills in the stored record; nothing else
// changes. ENOTFOUND when the session does not exist, ECONFLICT when it has
// ended.
func (s *Store) UpdateSession(ctx context.Context, ss *evbill.Session) error {
	_, err := s.runWrite(ctx, evbill.SessionWrite{Update: ss})
	return err
}

// EndSession ends the session (storing MeterStopWh, StoppedAt,
// ParkingStartedAt, StopReason and Flags), stores its CDR when not nil and
// the events, in one transaction, and fills them in as stored.
// ECONFLICT when the session has already ended.
func (s *Store) EndSession(ctx context.Context, ss *evbill.Session, c *evbill.CDR, events []evbill.Event) error {
	_, err := s.runWrite(ctx, evbill.SessionWrite{End: &evbill.EndWrite{Session: ss, CDR: c, Events: events}})
	return err
}

// Session returns one of the tenant's sessions.
func (s *Store) Session(ctx context.Context, tenantID, id string) (evbill.Session, error) {
	r, err := s.r.Session(ctx, db.SessionParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.Session{}, readErr(err, "session", id)
	}
	return session(r), nil
}

// SessionByTransaction finds the session of one of the tenant's stations
// by the OCPP transaction ID it was given.
func (s *Store) SessionByTransaction(ctx context.Context, tenantID, stationID string, transactionID int64) (evbill.Session, error) {
	r, err := s.r.SessionByTransaction(ctx, db.SessionByTransactionParams{
		TenantID: tenantID, TransactionID: transactionID, StationID: stationID,
	})
	if err != nil {
		return evbill.Session{}, readErr(err, "session with transaction_id", strconv.FormatInt(transactionID, 10))
	}
	return session(r), nil
}

// OpenSessions returns the sessions of the station that have not ended,
// ordered by ID; empty for a station that does not exist.
func (s *Store) OpenSessions(ctx context.Context, tenantID, stationID string) ([]evbill.Session, error) {
	rows, err := s.r.OpenSessions(ctx, db.OpenSessionsParams{TenantID: tenantID, StationID: stationID})
	if err != nil {
		return nil, fmt.Errorf("sqlite: open sessions: %w", err)
	}
	return sessions(rows), nil
}

// StaleOpenSessions returns open sessions of every tenant flagged flag and
// unchanged since before, oldest change first; at most limit (1 to
// evbill.MaxPageLimit).
func (s *Store) StaleOpenSessions(ctx context.Context, flag string, before time.Time, limit int) ([]evbill.Session, error) {
	if limit < 1 || limit > evbill.MaxPageLimit {
		limit = evbill.MaxPageLimit
	}
	rows, err := s.r.StaleOpenSessions(ctx, db.StaleOpenSessionsParams{Before: normalize(before).UnixMicro(), Flag: flag, Lim: int64(limit)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: stale open sessions: %w", err)
	}
	return sessions(rows), nil
}

// ListSessions returns a page of the tenant's sessions, ordered by ID.
func (s *Store) ListSessions(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.Session, error) {
	rows, err := s.r.ListSessions(ctx, db.ListSessionsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	return sessions(rows), nil
}

// Samples returns the readings of one of the tenant's sessions ordered by
// time; ENOTFOUND when the session does not exist. Only an empty answer
// costs a second query, to tell a session without samples from a missing
// one.
func (s *Store) Samples(ctx context.Context, tenantID, sessionID string) ([]evbill.MeterSample, error) {
	rows, err := s.r.Samples(ctx, db.SamplesParams{TenantID: tenantID, ID: sessionID})
	if err != nil {
		return nil, fmt.Errorf("sqlite: samples: %w", err)
	}
	if len(rows) == 0 {
		if _, err := s.r.SessionState(ctx, db.SessionStateParams{TenantID: tenantID, ID: sessionID}); err != nil {
			return nil, readErr(err, "session", sessionID)
		}
	}
	out := make([]evbill.MeterSample, len(rows))
	for i, r := range rows {
		out[i] = evbill.MeterSample{
			SessionID: sessionID, Time: fromMicros(r.Time), EnergyWh: r.EnergyWh, PowerW: r.PowerW,
			CurrentA: r.CurrentA, SoC: r.Soc, Context: r.Context,
		}
	}
	return out, nil
}

// CDR returns one of the tenant's CDRs.
func (s *Store) CDR(ctx context.Context, tenantID, id string) (evbill.CDR, error) {
	r, err := s.r.CDR(ctx, db.CDRParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.CDR{}, readErr(err, "CDR", id)
	}
	return cdr(r), nil
}

// CDRBySession returns the CDR of one of the tenant's sessions; ENOTFOUND
// also when the session has none (yet, or because it was not priced).
func (s *Store) CDRBySession(ctx context.Context, tenantID, sessionID string) (evbill.CDR, error) {
	r, err := s.r.CDRBySession(ctx, db.CDRBySessionParams{TenantID: tenantID, SessionID: sessionID})
	if err != nil {
		return evbill.CDR{}, readErr(err, "CDR of session", sessionID)
	}
	return cdr(r), nil
}

// ListCDRs returns a page of the tenant's CDRs, ordered by ID.
func (s *Store) ListCDRs(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.CDR, error) {
	rows, err := s.r.ListCDRs(ctx, db.ListCDRsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list CDRs: %w", err)
	}
	out := make([]evbill.CDR, len(rows))
	for i, r := range rows {
		out[i] = cdr(r)
	}
	return out, nil
}

// PendingEvents returns up to limit outbox events of every tenant (limit
// is read as a Page's), in the order they were committed, after the
// cursor: "" for the first, the decimal outbox position of an event, or
// the ID of the last event the caller has handled, since evbill.Event
// does not carry its position.
func (s *Store) PendingEvents(ctx context.Context, after string, limit int) ([]evbill.Event, error) {
	pos, err := eventCursor(after, func(id string) (int64, error) {
		p, err := s.r.EventPosition(ctx, id)
		if err != nil {
			return 0, readErr(err, "event", id)
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	rows, err := s.r.PendingEvents(ctx, db.PendingEventsParams{After: pos, Lim: int64(evbill.Page{Limit: limit}.Size())})
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending events: %w", err)
	}
	out := make([]evbill.Event, len(rows))
	for i, r := range rows {
		out[i] = evbill.Event{
			ID: r.ID, TenantID: r.TenantID, Type: r.Type, Payload: rawJSON(r.Payload), CreatedAt: fromMicros(r.CreatedAt),
		}
	}
	return out, nil
}

// eventCursor reads PendingEvents' after: "" is position 0; digits are a
// position; anything else is an event ID, whose position byID finds.
func eventCursor(after string, byID func(id string) (int64, error)) (int64, error) {
	if after == "" {
		return 0, nil
	}
	if after[0] >= '0' && after[0] <= '9' {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil {
			return 0, evbill.Errorf(evbill.EINVALID, "after %q is neither an outbox position nor an event ID", after)
		}
		return n, nil
	}
	return byID(after)
}
