package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
)

var _ evbill.SessionStore = (*Store)(nil)

// normalize returns t as the store keeps it: UTC, to the microsecond.
func normalize(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Flags are kept as one text column, joined by commas, as in SQLite:
// they are short identifiers such as meter_backwards, which a comma never
// belongs to.

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
		TransactionID: r.TransactionID, IDTag: r.IDTag, TokenID: deref(r.TokenID),
		DriverID: deref(r.DriverID), GroupID: deref(r.GroupID), TariffID: deref(r.TariffID),
		TariffVersion: int(r.TariffVersion), MeterStartWh: r.MeterStartWh, MeterStopWh: r.MeterStopWh,
		StartedAt: r.StartedAt.UTC(), ParkingStartedAt: utcPtr(r.ParkingStartedAt),
		StoppedAt: utcPtr(r.StoppedAt), State: r.State, StopReason: r.StopReason,
		Flags: splitFlags(r.Flags), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
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
		Document: bytesOrNil(r.Document), Breakdown: bytesOrNil(r.Breakdown), CreatedAt: r.CreatedAt.UTC(),
	}
}

// nonNil returns b, or an empty slice for nil: the NOT NULL bytea columns
// store "none" as empty, which reads back as nil (bytesOrNil).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// checkWrite applies the rules that need no database, so that a write
// breaking one fails with a clear message before it costs a savepoint.

// Statements that frame each write. One savepoint name serves all: each
// is released (or rolled back to and released) before the next is taken.
const (
	savepoint            = "SAVEPOINT w"
	releaseSavepoint     = "RELEASE SAVEPOINT w"
	rollbackAndReleaseSP = "ROLLBACK TO SAVEPOINT w; RELEASE SAVEPOINT w"
)

// ApplySessionWrites applies the writes in one transaction, each in a
// savepoint of its own: a write that fails sets its Err and is undone
// alone, the others commit together. Each write's Err and Created are
// reset first; the records of the writes that succeed are filled in once
// the transaction has committed. When the transaction itself fails (the
// returned error), nothing was stored, and every write that had no error
// of its own gets that error too, so that no caller reading only its
// write's Err takes an unstored write for a stored one.
//
// Every write is one statement, and the writes are sent as one pipeline
// (pgx.Batch), each framed by SAVEPOINT and RELEASE: a batch costs a
// round trip to the server, not three per write. A statement that fails
// makes the server skip the rest of the pipeline; the store then rolls
// back to that write's savepoint and sends the writes after it again.
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

// op is one write on its way through the pipeline.
type op struct {
	w    *evbill.SessionWrite
	sql  string // the write's statement and arguments, as sqlc's method sends them
	args []any
	// more are statements of the same write after sql, in its savepoint:
	// they stand or fall with it. read reads their results too.
	more []statement
	// sessionID is the ID a Start write gives the session it creates.
	sessionID string
	// read takes the statement's result from q, which answers from the
	// pipeline. It returns only database errors; what the write's
	// outcome means it keeps in the op.
	read func(ctx context.Context, q *db.Queries) error
	// fail turns a database error of the statement into the write's Err.
	fail func(err error) error
	// fill gives the caller what was stored, once it is committed.
	fill func()
	// gone is set when the statement found no session to change: the
	// write's Err is then decided once the pipeline is through.
	gone          bool
	gTenant, gID  string
	done, created bool
	// bare marks a write sent without a savepoint: one that cannot fail
	// on its own (see samples). A savepoint is a subtransaction, and a
	// transaction with more than 64 of them overflows PostgreSQL's
	// per-backend cache of subtransaction IDs, after which visibility
	// checks must look further; readings are most of a batch's writes.
	bare bool
	// endedEvent is an End write's session.ended event ID: its rollup
	// statement adds only when that event was stored (sessionRollups).
	endedEvent string
}

func (s *Store) applySessionWrites(ctx context.Context, writes []evbill.SessionWrite) error {
	now := now()
	var (
		ops          []*op
		startTenants []string
		events       bool
	)
	// The sites and zones of the ends' stations, for their rollups: from
	// memory, or one query for the stations it misses.
	places, err := s.rollupPlaces(ctx, writes)
	if err != nil {
		return err
	}
	for i := range writes {
		w := &writes[i]
		if w.Err = w.Check(); w.Err != nil {
			continue
		}
		o := &op{w: w}
		switch {
		case w.Start != nil:
			startTenants = append(startTenants, w.Start.TenantID)
			o.start(w.Start, now)
			if w.Payment != nil {
				o.startPayment(w, now)
			}
			o.startEvent(now)
			events = true
		case w.Samples != nil:
			o.samples(w.Samples, now)
			// Its one statement inserts only into an open session that
			// exists (so its reference holds) and skips instants already
			// stored: it has no failure of its own to undo. The write's
			// Check has already refused values the columns would not take.
			// Nor has a write with events: its statement stores nothing
			// rather than an event whose ID is taken (AddSamplesMarked).
			o.bare = true
			if len(w.Samples.Events) > 0 {
				events = true
			}
		case w.Update != nil:
			o.update(w.Update, now)
		default:
			events = true // session.ended at least
			o.end(w.End, now)
			o.sessionRollups(w.End, places)
		}
		ops = append(ops, o)
	}
	if len(ops) == 0 {
		return nil
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	q := s.q.WithTx(tx)
	// Locks first, in one order for every batch (the outbox, then the
	// counters by tenant ID), so that concurrent batches queue rather
	// than deadlock. They lead the first pipeline.
	var locks []statement
	if events {
		locks = append(locks, capture(func(q *db.Queries) error { return q.LockOutbox(ctx) }))
	}
	if len(startTenants) > 0 {
		slices.Sort(startTenants)
		ids := slices.Compact(startTenants)
		locks = append(locks, capture(func(q *db.Queries) error { return q.LockTransactionCounters(ctx, ids) }))
	}
	for rest := ops; len(rest) > 0; {
		failed, failErr, err := runPipeline(ctx, tx, locks, rest)
		if err != nil {
			return err
		}
		locks = nil
		if failed < 0 {
			break
		}
		// The server skipped everything after the failed statement; undo
		// that write, then send the rest again.
		if _, err := tx.Exec(ctx, rollbackAndReleaseSP); err != nil {
			return fmt.Errorf("postgres: rollback to savepoint after %v: %w", failErr, err)
		}
		rest[failed].w.Err = rest[failed].fail(failErr)
		rest = rest[failed+1:]
	}
	// A write that found no session changed nothing; its session either
	// does not exist for the tenant or has ended, and neither can change
	// within the batch (session IDs are made by the store, and an ended
	// session stays ended), so asking now gives the answer of its time.
	for _, o := range ops {
		if o.done && o.gone {
			o.w.Err = sessionGone(ctx, q, o.gTenant, o.gID)
			if evbill.ErrorCode(o.w.Err) == evbill.EINTERNAL {
				return o.w.Err
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	for _, o := range ops {
		if o.done && o.w.Err == nil {
			o.fill()
			o.w.Created = o.created
		}
	}
	return nil
}

// sessionGone explains why a write found no session to change: the
// tenant has no such session, or it has ended.
func sessionGone(ctx context.Context, q *db.Queries, tenantID, id string) error {
	state, err := q.SessionState(ctx, db.SessionStateParams{TenantID: tenantID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("session", id)
	}
	if err != nil {
		return fmt.Errorf("postgres: read session %q: %w", id, err)
	}
	if state == evbill.SessionEnded {
		return evbill.Errorf(evbill.ECONFLICT, "session %q has already ended", id)
	}
	return fmt.Errorf("postgres: session %q is %s but could not be changed", id, state)
}

// statement is SQL with its arguments.
type statement struct {
	sql  string
	args []any
}

// recorder is a db.DBTX that runs nothing: it keeps the statement a
// generated method would send, so that the statement can be queued in a
// pipeline with the arguments in the order sqlc gave them.
type recorder struct{ statement }

var errRecorded = errors.New("postgres: statement recorded, not run")

// Exec records the statement.
func (r *recorder) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r.sql, r.args = sql, args
	return pgconn.CommandTag{}, errRecorded
}

// Query records the statement.
func (r *recorder) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.sql, r.args = sql, args
	return nil, errRecorded
}

// QueryRow records the statement.
func (r *recorder) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	r.sql, r.args = sql, args
	return errRow{}
}

// errRow is the row of a recorded statement: there is none.
type errRow struct{}

// Scan reports that the statement was recorded, not run.
func (errRow) Scan(...any) error { return errRecorded }

// capture returns the statement that call makes through a generated
// method.
func capture(call func(q *db.Queries) error) statement {
	var r recorder
	_ = call(db.New(&r)) // errRecorded
	return r.statement
}

// replayer is a db.DBTX that answers a generated method with the next
// result of a pipeline, so that sqlc's code scans it.
type replayer struct{ br pgx.BatchResults }

// Exec reads the next result as a command's.
func (r replayer) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return r.br.Exec()
}

// Query reads the next result as rows.
func (r replayer) Query(context.Context, string, ...any) (pgx.Rows, error) { return r.br.Query() }

// QueryRow reads the next result as one row.
func (r replayer) QueryRow(context.Context, string, ...any) pgx.Row { return r.br.QueryRow() }

// runPipeline sends the locks, then every op framed by its savepoint, in
// one pipeline, and reads the results in order. It returns the index of
// the op whose statement failed with a database error (the server skipped
// everything after it), or -1; err is for a failure of the transaction.
func runPipeline(ctx context.Context, tx pgx.Tx, locks []statement, ops []*op) (failed int, failErr, err error) {
	b := &pgx.Batch{}
	for _, l := range locks {
		b.Queue(l.sql, l.args...)
	}
	for _, o := range ops {
		if o.bare {
			b.Queue(o.sql, o.args...)
			for _, m := range o.more {
				b.Queue(m.sql, m.args...)
			}
			continue
		}
		b.Queue(savepoint)
		b.Queue(o.sql, o.args...)
		for _, m := range o.more {
			b.Queue(m.sql, m.args...)
		}
		b.Queue(releaseSavepoint)
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close() //nolint:errcheck // the error is that of a result already read
	for range locks {
		if _, err := br.Exec(); err != nil {
			return -1, nil, fmt.Errorf("postgres: lock: %w", err)
		}
	}
	q := db.New(replayer{br})
	for i, o := range ops {
		if o.bare {
			// Without a savepoint a failure ends the transaction: it is
			// the batch's.
			if err := o.read(ctx, q); err != nil {
				return -1, nil, fmt.Errorf("postgres: %w", err)
			}
			o.done = true
			continue
		}
		if _, err := br.Exec(); err != nil {
			return -1, nil, fmt.Errorf("postgres: savepoint: %w", err)
		}
		if err := o.read(ctx, q); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return i, err, nil
			}
			return -1, nil, fmt.Errorf("postgres: %w", err)
		}
		if _, err := br.Exec(); err != nil {
			return -1, nil, fmt.Errorf("postgres: release savepoint: %w", err)
		}
		o.done = true
	}
	if err := br.Close(); err != nil {
		return -1, nil, fmt.Errorf("postgres: pipeline: %w", err)
	}
	return -1, nil, nil
}

// capture sets the op's statement to the one call sends.
func (o *op) capture(call func(q *db.Queries) error) {
	st := capture(call)
	o.sql, o.args = st.sql, st.args
}

// start prepares a Start write.
func (o *op) start(s *evbill.Session, now time.Time) {
	state := s.State
	if state == "" {
		state = evbill.SessionActive
	}
	p := db.StartSessionParams{
		TenantID: s.TenantID, StationID: s.StationID, ConnectorNumber: int32(s.ConnectorNumber),
		IDTag: s.IDTag, MeterStartWh: s.MeterStartWh, StartedAt: normalize(s.StartedAt),
		ID: evbill.NewID(evbill.PrefixSession), TokenID: nullString(s.TokenID), DriverID: nullString(s.DriverID),
		GroupID: nullString(s.GroupID), TariffID: nullString(s.TariffID), TariffVersion: int32(s.TariffVersion),
		MeterStopWh: s.MeterStopWh, ParkingStartedAt: normTime(s.ParkingStartedAt), StoppedAt: normTime(s.StoppedAt),
		State: state, StopReason: s.StopReason, Flags: joinFlags(s.Flags), Now: now,
	}
	o.sessionID = p.ID
	o.capture(func(q *db.Queries) error {
		_, err := q.StartSession(context.Background(), p)
		return err
	})
	var stored evbill.Session
	o.read = func(ctx context.Context, q *db.Queries) error {
		// The statement inserts a session or finds one: it always has a
		// row.
		r, err := q.StartSession(ctx, p)
		if err != nil {
			return err
		}
		stored, o.created = startedSession(r), r.Created
		return nil
	}
	o.fail = func(err error) error {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.ConstraintName == "sessions_transaction_id_check" {
			// OCPP 1.6 carries transactionId as a JSON integer that
			// chargers hold in 32 bits.
			return evbill.Errorf(evbill.ECONFLICT, "tenant %q has used every OCPP transaction ID", s.TenantID)
		}
		return writeErr("start session", err, nil, []ref{
			{constraint: "transaction_counters_tenant_fkey", field: "tenant_id", value: s.TenantID},
			{constraint: "sessions_station_fkey", field: "station_id", value: s.StationID},
			{constraint: "sessions_token_fkey", field: "token_id", value: s.TokenID},
			{constraint: "sessions_driver_fkey", field: "driver_id", value: s.DriverID},
			{constraint: "sessions_group_fkey", field: "group_id", value: s.GroupID},
			{constraint: "sessions_tariff_fkey", field: "tariff_id", value: s.TariffID},
			{constraint: "sessions_tariff_version_fkey", field: "tariff_version", value: strconv.Itoa(s.TariffVersion)},
		})
	}
	o.fill = func() { *s = stored }
}

// startPayment adds to a Start write the statement that stores its
// session's payment, in the same savepoint: the session and its payment
// are stored together or not at all. The session is found by the start's
// retransmission key, so a retransmitted start whose session was paid for
// stores no second payment.
func (o *op) startPayment(w *evbill.SessionWrite, now time.Time) {
	s, pay := w.Start, *w.Payment
	pay.Purpose, pay.ID = evbill.PurposeSession, evbill.NewID(evbill.PrefixPayment)
	arg := db.InsertSessionPaymentParams{
		TenantID: s.TenantID, StationID: s.StationID, ConnectorNumber: int32(s.ConnectorNumber),
		IDTag: s.IDTag, MeterStartWh: s.MeterStartWh, StartedAt: normalize(s.StartedAt),
		ID: pay.ID, DriverID: nullString(pay.DriverID), SiteID: pay.SiteID, Gateway: pay.Gateway,
		PaymentMethod: pay.PaymentMethod, Customer: pay.Customer, Currency: pay.Currency,
		HoldAmount: pay.HoldAmount, Now: now,
	}
	o.more = append(o.more, capture(func(q *db.Queries) error {
		_, err := q.InsertSessionPayment(context.Background(), arg)
		return err
	}))
	var stored *evbill.Payment
	readSession, failSession, fillSession := o.read, o.fail, o.fill
	o.read = func(ctx context.Context, q *db.Queries) error {
		if err := readSession(ctx, q); err != nil {
			return err
		}
		rows, err := q.InsertSessionPayment(ctx, arg)
		if err != nil {
			return err
		}
		if len(rows) == 1 {
			p := payment(db.Payment(rows[0]))
			stored = &p
		}
		return nil
	}
	o.fail = func(err error) error {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && strings.HasPrefix(pe.ConstraintName, "payments_") {
			return writeErr("create payment", err, nil, []ref{
				{constraint: "payments_driver_fkey", field: "driver_id", value: pay.DriverID},
				{constraint: "payments_site_fkey", field: "site_id", value: pay.SiteID}})
		}
		return failSession(err)
	}
	o.fill = func() {
		fillSession()
		if stored != nil {
			*w.Payment, w.PaymentCreated = *stored, true
		}
	}
}

// startEvent adds to a Start write the statement that puts
// session.started in the outbox, in the same savepoint: only when the
// write created the session (see InsertSessionStartedEvent).
func (o *op) startEvent(now time.Time) {
	s := *o.w.Start
	s.ID, s.State = o.sessionID, cmp.Or(s.State, evbill.SessionActive)
	arg := db.InsertSessionStartedEventParams{EventID: evbill.NewID(evbill.PrefixEvent), Payload: evbill.SessionEventPayload(s),
		Now: now, TenantID: s.TenantID, SessionID: o.sessionID}
	o.more = append(o.more, capture(func(q *db.Queries) error {
		return q.InsertSessionStartedEvent(context.Background(), arg)
	}))
	read := o.read
	o.read = func(ctx context.Context, q *db.Queries) error {
		if err := read(ctx, q); err != nil {
			return err
		}
		return q.InsertSessionStartedEvent(ctx, arg)
	}
}

// startedSession returns the session of a StartSession row.
func startedSession(r db.StartSessionRow) evbill.Session {
	return session(db.Session{
		TenantID: r.TenantID, ID: r.ID, StationID: r.StationID, ConnectorNumber: r.ConnectorNumber,
		TransactionID: r.TransactionID, IDTag: r.IDTag, TokenID: r.TokenID, DriverID: r.DriverID,
		GroupID: r.GroupID, TariffID: r.TariffID, TariffVersion: r.TariffVersion,
		MeterStartWh: r.MeterStartWh, MeterStopWh: r.MeterStopWh, StartedAt: r.StartedAt,
		ParkingStartedAt: r.ParkingStartedAt, StoppedAt: r.StoppedAt, State: r.State,
		StopReason: r.StopReason, Flags: r.Flags, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	})
}

// samples prepares a Samples write, with its signed values (see
// signedValues) when it has any, or, when it carries events or a mark,
// all of it in one statement (see samplesMarked).
func (o *op) samples(sw *evbill.SampleWrite, now time.Time) {
	if len(sw.Events) > 0 || sw.Mark != nil {
		o.samplesMarked(sw, now)
		return
	}
	n := len(sw.Samples)
	p := db.AddSamplesParams{
		TenantID: sw.TenantID, SessionID: sw.SessionID,
		Times: make([]time.Time, n), EnergyWh: make([]string, n), PowerW: make([]string, n),
		CurrentA: make([]string, n), Soc: make([]string, n), Context: make([]string, n),
	}
	for i, m := range sw.Samples {
		p.Times[i], p.EnergyWh[i], p.PowerW[i] = normalize(m.Time), m.EnergyWh, m.PowerW
		p.CurrentA[i], p.Soc[i], p.Context[i] = m.CurrentA, m.SoC, m.Context
	}
	o.capture(func(q *db.Queries) error {
		_, err := q.AddSamples(context.Background(), p)
		return err
	})
	o.read = func(ctx context.Context, q *db.Queries) error {
		state, err := q.AddSamples(ctx, p)
		switch {
		case err != nil:
			return err
		case state == "":
			o.w.Err = notFound("session", sw.SessionID)
		case state == evbill.SessionEnded:
			o.w.Err = evbill.Errorf(evbill.ECONFLICT, "session %q has already ended: its samples can no longer change", sw.SessionID)
		}
		return nil
	}
	o.fail = func(err error) error { return writeErr("add samples", err, nil, nil) }
	o.fill = func() {}
	if len(sw.Signed) > 0 {
		o.signedValues(sw, now)
	}
}

// update prepares an Update write.
func (o *op) update(s *evbill.Session, now time.Time) {
	p := db.UpdateSessionParams{
		State: s.State, ParkingStartedAt: normTime(s.ParkingStartedAt), Flags: joinFlags(s.Flags),
		UpdatedAt: now, TenantID: s.TenantID, ID: s.ID,
	}
	o.capture(func(q *db.Queries) error {
		_, err := q.UpdateSession(context.Background(), p)
		return err
	})
	var stored evbill.Session
	o.read = func(ctx context.Context, q *db.Queries) error {
		r, err := q.UpdateSession(ctx, p)
		if errors.Is(err, pgx.ErrNoRows) {
			o.gone, o.gTenant, o.gID = true, s.TenantID, s.ID
			return nil
		}
		if err != nil {
			return err
		}
		stored = session(r)
		return nil
	}
	o.fail = func(err error) error { return writeErr("update session", err, nil, nil) }
	o.fill = func() { *s = stored }
}

// end prepares an End write: the session's end, its CDR and its events,
// in one statement.
func (o *op) end(e *evbill.EndWrite, now time.Time) {
	s := e.Session
	var c evbill.CDR
	p := db.EndSessionParams{
		MeterStopWh: s.MeterStopWh, StoppedAt: normalize(*s.StoppedAt), ParkingStartedAt: normTime(s.ParkingStartedAt),
		StopReason: s.StopReason, Flags: joinFlags(s.Flags), Now: now, TenantID: s.TenantID, ID: s.ID,
		Document: []byte{}, Breakdown: []byte{},
		EventIds: make([]string, len(e.Events)), EventTypes: make([]string, len(e.Events)),
		EventPayloads: make([][]byte, len(e.Events)),
	}
	if e.CDR != nil {
		c = *e.CDR
		c.TenantID, c.SessionID, c.CreatedAt = s.TenantID, s.ID, now
		if c.ID == "" {
			c.ID = evbill.NewID(evbill.PrefixCDR)
		}
		p.WithCdr, p.CdrID, p.Currency = true, c.ID, c.Currency
		p.TotalExclVat, p.TotalInclVat, p.AmountMinor = c.TotalExclVAT, c.TotalInclVAT, c.AmountMinor
		p.Document, p.Breakdown = nonNil(c.Document), nonNil(c.Breakdown)
		c.Document, c.Breakdown = bytesOrNil(c.Document), bytesOrNil(c.Breakdown)
	}
	events := slices.Clone(e.Events)
	for i := range events {
		ev := &events[i]
		ev.TenantID, ev.CreatedAt = s.TenantID, now
		if ev.ID == "" {
			ev.ID = evbill.NewID(evbill.PrefixEvent)
		}
		p.EventIds[i], p.EventTypes[i], p.EventPayloads[i] = ev.ID, ev.Type, nonNil(ev.Payload)
		ev.Payload = bytesOrNil(ev.Payload)
	}
	// session.ended leads the write's events.
	ended := *s
	ended.State = evbill.SessionEnded
	p.EventIds = append([]string{evbill.NewID(evbill.PrefixEvent)}, p.EventIds...)
	p.EventTypes = append([]string{evbill.EventSessionEnded}, p.EventTypes...)
	p.EventPayloads = append([][]byte{evbill.SessionEventPayload(ended)}, p.EventPayloads...)
	o.endedEvent = p.EventIds[0]
	o.capture(func(q *db.Queries) error {
		_, err := q.EndSession(context.Background(), p)
		return err
	})
	var stored evbill.Session
	o.read = func(ctx context.Context, q *db.Queries) error {
		r, err := q.EndSession(ctx, p)
		if errors.Is(err, pgx.ErrNoRows) {
			o.gone, o.gTenant, o.gID = true, s.TenantID, s.ID
			return nil
		}
		if err != nil {
			return err
		}
		stored = session(db.Session(r))
		return nil
	}
	if e.CDR != nil {
		o.cdrPeriods(&c, normalize(s.StartedAt))
	}
	o.fail = func(err error) error {
		return writeErr("end session", err, []unique{
			{constraint: "cdrs_session_key", msg: fmt.Sprintf("session %q already has a CDR", s.ID)},
			{constraint: "cdrs_pkey", field: "CDR id", value: c.ID},
			// The statement stores every event at once; which ID was taken,
			// only the server's (localised) message says.
			{constraint: "events_id_key", msg: fmt.Sprintf("one of the event ids %s is already used", strings.Join(p.EventIds, ", "))},
		}, nil)
	}
	o.fill = func() {
		*s = stored
		if e.CDR != nil {
			*e.CDR = c
		}
		copy(e.Events, events)
	}
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
	r, err := s.q.Session(ctx, db.SessionParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.Session{}, readErr(err, "session", id)
	}
	return session(r), nil
}

// SessionByTransaction finds the session of one of the tenant's stations
// by the OCPP transaction ID it was given.
func (s *Store) SessionByTransaction(ctx context.Context, tenantID, stationID string, transactionID int64) (evbill.Session, error) {
	r, err := s.q.SessionByTransaction(ctx, db.SessionByTransactionParams{
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
	rows, err := s.q.OpenSessions(ctx, db.OpenSessionsParams{TenantID: tenantID, StationID: stationID})
	if err != nil {
		return nil, fmt.Errorf("postgres: open sessions: %w", err)
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
	rows, err := s.q.StaleOpenSessions(ctx, db.StaleOpenSessionsParams{Before: before, Flag: flag, Lim: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("postgres: stale open sessions: %w", err)
	}
	return sessions(rows), nil
}

// ListSessions returns a page of the tenant's sessions, ordered by ID.
func (s *Store) ListSessions(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.Session, error) {
	rows, err := s.q.ListSessions(ctx, db.ListSessionsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("postgres: list sessions: %w", err)
	}
	return sessions(rows), nil
}

// Samples returns the readings of one of the tenant's sessions ordered by
// time; ENOTFOUND when the session does not exist. Only an empty answer
// costs a second query, to tell a session without samples from a missing
// one.
func (s *Store) Samples(ctx context.Context, tenantID, sessionID string) ([]evbill.MeterSample, error) {
	rows, err := s.q.Samples(ctx, db.SamplesParams{TenantID: tenantID, SessionID: sessionID})
	if err != nil {
		return nil, fmt.Errorf("postgres: samples: %w", err)
	}
	if len(rows) == 0 {
		if _, err := s.q.SessionState(ctx, db.SessionStateParams{TenantID: tenantID, ID: sessionID}); err != nil {
			return nil, readErr(err, "session", sessionID)
		}
	}
	out := make([]evbill.MeterSample, len(rows))
	for i, r := range rows {
		out[i] = evbill.MeterSample{
			SessionID: r.SessionID, Time: r.Time.UTC(), EnergyWh: r.EnergyWh, PowerW: r.PowerW,
			CurrentA: r.CurrentA, SoC: r.Soc, Context: r.Context,
		}
	}
	return out, nil
}

// CDR returns one of the tenant's CDRs.
func (s *Store) CDR(ctx context.Context, tenantID, id string) (evbill.CDR, error) {
	r, err := s.q.CDR(ctx, db.CDRParams{TenantID: tenantID, ID: id})
	if err != nil {
		return evbill.CDR{}, readErr(err, "CDR", id)
	}
	return cdr(r), nil
}

// CDRBySession returns the CDR of one of the tenant's sessions; ENOTFOUND
// also when the session has none (yet, or because it was not priced).
func (s *Store) CDRBySession(ctx context.Context, tenantID, sessionID string) (evbill.CDR, error) {
	r, err := s.q.CDRBySession(ctx, db.CDRBySessionParams{TenantID: tenantID, SessionID: sessionID})
	if err != nil {
		return evbill.CDR{}, readErr(err, "CDR of session", sessionID)
	}
	return cdr(r), nil
}

// ListCDRs returns a page of the tenant's CDRs, ordered by ID.
func (s *Store) ListCDRs(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.CDR, error) {
	rows, err := s.q.ListCDRs(ctx, db.ListCDRsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("postgres: list CDRs: %w", err)
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
		p, err := s.q.EventPosition(ctx, id)
		if err != nil {
			return 0, readErr(err, "event", id)
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	rows, err := s.q.PendingEvents(ctx, db.PendingEventsParams{After: pos, Lim: int32(evbill.Page{Limit: limit}.Size())})
	if err != nil {
		return nil, fmt.Errorf("postgres: pending events: %w", err)
	}
	out := make([]evbill.Event, len(rows))
	for i, r := range rows {
		out[i] = evbill.Event{
			ID: r.ID, TenantID: r.TenantID, Type: r.Type, Payload: json.RawMessage(bytesOrNil(r.Payload)),
			CreatedAt: r.CreatedAt.UTC(),
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
