package storetest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// ReceiptEmailFullStore is a store with sessions (whose CDRs and outbox
// the receipt emails follow) and receipt emails.
type ReceiptEmailFullStore interface {
	FullStore
	evbill.ReceiptEmailStore
}

// RunReceiptEmails runs the conformance suite of evbill.ReceiptEmailStore
// as parallel subtests. Claims take due emails of every tenant and the
// cursor starts at the last event of the whole outbox, so open must give
// each subtest a store of its own (a fresh SQLite file, a fresh
// PostgreSQL schema), as for RunWebhooks.
func RunReceiptEmails(t *testing.T, open func(t *testing.T) ReceiptEmailFullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ReceiptEmailFullStore)
	}{
		{"Cursor", testReceiptEmailCursor},
		{"Add", testReceiptEmailAdd},
		{"ClaimAndRecord", testReceiptEmailClaimAndRecord},
		{"LapsedLease", testReceiptEmailLapsedLease},
		{"ConcurrentClaims", testReceiptEmailConcurrentClaims},
		{"TenantIsolation", testReceiptEmailTenantIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// sessionsMade numbers the sessions cdrsWithEvents starts, so that a
// world's sessions never look like retransmissions of one another.
var sessionsMade atomic.Int64

// cdrsWithEvents ends n sessions of the world with a CDR and its
// cdr.created event each, and returns the receipt emails the mail worker
// would make of them, in outbox order.
func cdrsWithEvents(t testing.TB, s FullStore, w sessionWorld, n int) []evbill.ReceiptEmail {
	t.Helper()
	out := make([]evbill.ReceiptEmail, n)
	for i := range out {
		k := int(sessionsMade.Add(1)) // a new retransmission key for each session
		ss := startNew(t, s, w.session(1+k%2, 100+k))
		end := endWith(ss, t0.Add(time.Duration(100+k)*time.Minute+time.Hour), "cdr.created")
		noErr(t, "EndSession", s.EndSession(context.Background(), end.Session, end.CDR, end.Events))
		out[i] = evbill.ReceiptEmail{TenantID: w.tenant.ID, CDRID: end.CDR.ID, SessionID: ss.ID, EventID: end.Events[0].ID}
	}
	return out
}

func testReceiptEmailCursor(t *testing.T, s ReceiptEmailFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	cur, err := s.ReceiptEmailCursor(ctx, "empty", true)
	noErr(t, "ReceiptEmailCursor on an empty outbox", err)
	equal(t, "at the end of an empty outbox", cur, "")

	rows := cdrsWithEvents(t, s, w, 2)
	cur, err = s.ReceiptEmailCursor(ctx, "backfill", false)
	noErr(t, "ReceiptEmailCursor", err)
	equal(t, "from the start", cur, "")
	cur, err = s.ReceiptEmailCursor(ctx, "new", true)
	noErr(t, "ReceiptEmailCursor", err)
	equal(t, "at the end", cur, rows[1].EventID)

	// A cursor, once made, stays where it is, whatever atEnd says and
	// however the outbox grows.
	cdrsWithEvents(t, s, w, 1)
	for _, c := range []struct {
		consumer string
		atEnd    bool
		want     string
	}{{"backfill", true, ""}, {"new", false, rows[1].EventID}, {"new", true, rows[1].EventID}, {"empty", true, ""}} {
		cur, err = s.ReceiptEmailCursor(ctx, c.consumer, c.atEnd)
		noErr(t, "ReceiptEmailCursor", err)
		equal(t, "cursor of "+c.consumer, cur, c.want)
	}
	_, err = s.ReceiptEmailCursor(ctx, "", true)
	wantCode(t, "no consumer", err, evbill.EINVALID, "consumer")
}

func testReceiptEmailAdd(t *testing.T, s ReceiptEmailFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	rows := cdrsWithEvents(t, s, w, 3)
	at := time.Date(2026, 4, 1, 10, 0, 0, 123456789, time.FixedZone("CEST", 7200))
	from, err := s.ReceiptEmailCursor(ctx, "c", false)
	noErr(t, "ReceiptEmailCursor", err)
	n, err := s.AddReceiptEmails(ctx, "c", from, rows[1].EventID, rows[:2], at)
	noErr(t, "AddReceiptEmails", err)
	equal(t, "added", n, 2)
	got, err := s.ReceiptEmail(ctx, w.tenant.ID, rows[0].CDRID)
	noErr(t, "ReceiptEmail", err)
	storeTime(t, "CreatedAt", got.CreatedAt)
	want := rows[0]
	want.State, want.NextAttemptAt, want.CreatedAt, want.UpdatedAt = evbill.ReceiptEmailPending, norm(at), got.CreatedAt, got.CreatedAt
	equal(t, "read back", got, want)

	// A worker that read the cursor before that move is refused, and
	// stores nothing.
	_, err = s.AddReceiptEmails(ctx, "c", from, rows[2].EventID, rows, at)
	wantCode(t, "stale cursor", err, evbill.ECONFLICT, "another worker")
	_, err = s.ReceiptEmail(ctx, w.tenant.ID, rows[2].CDRID)
	wantCode(t, "not stored", err, evbill.ENOTFOUND, "")
	cur, err := s.ReceiptEmailCursor(ctx, "c", false)
	noErr(t, "ReceiptEmailCursor", err)
	equal(t, "cursor", cur, rows[1].EventID)

	// A page read again makes no second email of a CDR.
	n, err = s.AddReceiptEmails(ctx, "c", cur, rows[2].EventID, rows, at.Add(time.Hour))
	noErr(t, "AddReceiptEmails", err)
	equal(t, "added once per CDR", n, 1)
	got, err = s.ReceiptEmail(ctx, w.tenant.ID, rows[0].CDRID)
	noErr(t, "ReceiptEmail", err)
	equal(t, "the first email is kept", got.NextAttemptAt, norm(at))
	// Events without an email (other types) still move the cursor.
	n, err = s.AddReceiptEmails(ctx, "c", rows[2].EventID, "evt_later", nil, at)
	noErr(t, "AddReceiptEmails without emails", err)
	equal(t, "added", n, 0)
	cur, _ = s.ReceiptEmailCursor(ctx, "c", false)
	equal(t, "moved", cur, "evt_later")

	bad := rows[0]
	bad.CDRID = "cdr_nobody"
	_, err = s.AddReceiptEmails(ctx, "c", cur, "evt_x", []evbill.ReceiptEmail{bad}, at)
	wantCode(t, "unknown CDR", err, evbill.EINVALID, "")
	cur, _ = s.ReceiptEmailCursor(ctx, "c", false)
	equal(t, "a refused page does not move the cursor", cur, "evt_later")
	bad = rows[0]
	bad.EventID = ""
	_, err = s.AddReceiptEmails(ctx, "c", cur, "evt_x", []evbill.ReceiptEmail{bad}, at)
	wantCode(t, "no event", err, evbill.EINVALID, "event_id")
	_, err = s.AddReceiptEmails(ctx, "", "", "x", nil, at)
	wantCode(t, "no consumer", err, evbill.EINVALID, "consumer")
}

// pendingEmails stores the rows as pending emails due at at.
func pendingEmails(t testing.TB, s ReceiptEmailFullStore, rows []evbill.ReceiptEmail, at time.Time) {
	t.Helper()
	ctx := context.Background()
	from, err := s.ReceiptEmailCursor(ctx, "setup", false)
	noErr(t, "ReceiptEmailCursor", err)
	_, err = s.AddReceiptEmails(ctx, "setup", from, rows[len(rows)-1].EventID, rows, at)
	noErr(t, "AddReceiptEmails", err)
}

func claimEmails(t testing.TB, s evbill.ReceiptEmailStore, now, lease time.Time) []evbill.ReceiptEmail {
	t.Helper()
	es, err := s.ClaimReceiptEmails(context.Background(), now, lease, evbill.MaxPageLimit)
	noErr(t, "ClaimReceiptEmails", err)
	return es
}

func byCDR(es []evbill.ReceiptEmail) map[string]evbill.ReceiptEmail {
	m := make(map[string]evbill.ReceiptEmail, len(es))
	for _, e := range es {
		m[e.CDRID] = e
	}
	return m
}

func testReceiptEmailClaimAndRecord(t *testing.T, s ReceiptEmailFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	rows := cdrsWithEvents(t, s, w, 4)
	at := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	pendingEmails(t, s, rows, at)

	equal(t, "nothing due before", len(claimEmails(t, s, at.Add(-time.Second), at.Add(time.Minute))), 0)
	lease := at.Add(5*time.Minute + 7*time.Microsecond)
	claimed := byCDR(claimEmails(t, s, at, lease))
	equal(t, "claimed", len(claimed), 4)
	for _, e := range claimed {
		equal(t, "leased until", e.NextAttemptAt, lease)
	}
	equal(t, "a leased email is not claimed again", len(claimEmails(t, s, at.Add(time.Minute), at.Add(time.Hour))), 0)

	// Sent.
	sent := claimed[rows[0].CDRID]
	stale := sent
	sentAt := at.Add(time.Second + 5)
	noErr(t, "record sent", s.RecordReceiptEmail(ctx, &sent, evbill.ReceiptEmailResult{State: evbill.ReceiptEmailSent,
		Attempted: true, Recipient: "driver@example.com", MessageID: "receipt." + rows[0].CDRID + "@example.com", SentAt: &sentAt,
		NextAttemptAt: sentAt}))
	equal(t, "state", sent.State, evbill.ReceiptEmailSent)
	equal(t, "attempts", sent.Attempts, 1)
	equal(t, "sent at", *sent.SentAt, norm(sentAt))
	storeTime(t, "UpdatedAt", sent.UpdatedAt)
	got, err := s.ReceiptEmail(ctx, w.tenant.ID, rows[0].CDRID)
	noErr(t, "ReceiptEmail", err)
	equal(t, "read back", got, sent)
	err = s.RecordReceiptEmail(ctx, &stale, evbill.ReceiptEmailResult{State: evbill.ReceiptEmailFailed, Attempted: true, LastError: "x"})
	wantCode(t, "record twice", err, evbill.ECONFLICT, "another worker")
	got, _ = s.ReceiptEmail(ctx, w.tenant.ID, rows[0].CDRID)
	equal(t, "still sent", got.State, evbill.ReceiptEmailSent)

	// Retried: an attempt, due again later; claimed again then.
	retry := claimed[rows[1].CDRID]
	again := at.Add(2 * time.Minute)
	noErr(t, "record retry", s.RecordReceiptEmail(ctx, &retry, evbill.ReceiptEmailResult{State: evbill.ReceiptEmailPending,
		Attempted: true, NextAttemptAt: again, LastError: "451 try later"}))
	equal(t, "attempts", retry.Attempts, 1)
	equal(t, "last error", retry.LastError, "451 try later")
	equal(t, "not due before its time", len(claimEmails(t, s, again.Add(-time.Microsecond), again.Add(time.Hour))), 0)
	reclaimed := claimEmails(t, s, again, again.Add(time.Minute))
	if len(reclaimed) != 1 || reclaimed[0].CDRID != rows[1].CDRID || reclaimed[0].Attempts != 1 {
		t.Fatalf("claimed after the retry: %+v", reclaimed)
	}

	// Put off (waiting for the payment): no attempt counted.
	wait := claimed[rows[2].CDRID]
	noErr(t, "record put off", s.RecordReceiptEmail(ctx, &wait, evbill.ReceiptEmailResult{State: evbill.ReceiptEmailPending,
		NextAttemptAt: at.Add(30 * time.Second)}))
	equal(t, "no attempt", wait.Attempts, 0)
	equal(t, "due", wait.NextAttemptAt, at.Add(30*time.Second))

	// Skipped, then failed: final.
	skip := claimed[rows[3].CDRID]
	noErr(t, "record skipped", s.RecordReceiptEmail(ctx, &skip, evbill.ReceiptEmailResult{State: evbill.ReceiptEmailSkipped,
		NextAttemptAt: at, LastError: "the driver has no email address"}))
	equal(t, "skipped", skip.State, evbill.ReceiptEmailSkipped)
	fail := reclaimed[0]
	noErr(t, "record failed", s.RecordReceiptEmail(ctx, &fail, evbill.ReceiptEmailResult{State: evbill.ReceiptEmailFailed,
		Attempted: true, NextAttemptAt: again, LastError: "550 no such user"}))
	equal(t, "failed", fail.State, evbill.ReceiptEmailFailed)
	equal(t, "attempts", fail.Attempts, 2)
	due := claimEmails(t, s, at.Add(time.Hour), at.Add(2*time.Hour))
	if len(due) != 1 || due[0].CDRID != rows[2].CDRID {
		t.Errorf("only the put-off email is still due; claimed %+v", due)
	}

	err = s.RecordReceiptEmail(ctx, &due[0], evbill.ReceiptEmailResult{State: "lost"})
	wantCode(t, "unknown state", err, evbill.EINVALID, "state")
	err = s.RecordReceiptEmail(ctx, &due[0], evbill.ReceiptEmailResult{State: evbill.ReceiptEmailSent, SentAt: &sentAt})
	wantCode(t, "sent without recipient", err, evbill.EINVALID, "recipient")
}

func testReceiptEmailLapsedLease(t *testing.T, s ReceiptEmailFullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	rows := cdrsWithEvents(t, s, w, 1)
	at := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	pendingEmails(t, s, rows, at)
	a := claimEmails(t, s, at, at.Add(time.Minute))
	// Worker a died, or is slow: its lease lapses and b takes the email.
	// From then on the email is b's, whatever a learns.
	b := claimEmails(t, s, at.Add(time.Minute), at.Add(2*time.Minute))
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("claims: %d then %d, want 1 and 1", len(a), len(b))
	}
	late := a[0]
	wantCode(t, "a records a retry", s.RecordReceiptEmail(ctx, &late, evbill.ReceiptEmailResult{State: evbill.ReceiptEmailPending,
		NextAttemptAt: at.Add(time.Hour), Attempted: true, LastError: "timeout"}), evbill.ECONFLICT, "")
	sentAt := at.Add(61 * time.Second)
	res := evbill.ReceiptEmailResult{State: evbill.ReceiptEmailSent, Attempted: true, Recipient: "d@example.com", SentAt: &sentAt}
	noErr(t, "b records", s.RecordReceiptEmail(ctx, &b[0], res))
	wantCode(t, "a records late", s.RecordReceiptEmail(ctx, &a[0], res), evbill.ECONFLICT, "")
	got, err := s.ReceiptEmail(ctx, w.tenant.ID, rows[0].CDRID)
	noErr(t, "ReceiptEmail", err)
	equal(t, "one attempt recorded", got.Attempts, 1)
}

func testReceiptEmailConcurrentClaims(t *testing.T, s ReceiptEmailFullStore) {
	w := newSessionWorld(t, s)
	rows := cdrsWithEvents(t, s, w, 24)
	at := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	pendingEmails(t, s, rows, at)
	var (
		mu  sync.Mutex
		got []string
		wg  sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				es, err := s.ClaimReceiptEmails(context.Background(), at, at.Add(time.Minute), 5)
				if err != nil {
					t.Error(err)
					return
				}
				if len(es) == 0 {
					return
				}
				mu.Lock()
				for _, e := range es {
					got = append(got, e.CDRID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	want := make([]string, len(rows))
	for i, r := range rows {
		want[i] = r.CDRID
	}
	slices.Sort(want)
	equal(t, "each email claimed once", got, want)
}

func testReceiptEmailTenantIsolation(t *testing.T, s ReceiptEmailFullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	rows := cdrsWithEvents(t, s, w, 1)
	pendingEmails(t, s, rows, time.Now())
	_, err := s.ReceiptEmail(ctx, other.tenant.ID, rows[0].CDRID)
	wantCode(t, "another tenant's", err, evbill.ENOTFOUND, "")
	// A CDR named under the wrong tenant does not exist there.
	bad := rows[0]
	bad.TenantID = other.tenant.ID
	from, _ := s.ReceiptEmailCursor(ctx, "setup", false)
	_, err = s.AddReceiptEmails(ctx, "setup", from, "evt_y", []evbill.ReceiptEmail{bad}, time.Now())
	wantCode(t, "another tenant's CDR", err, evbill.EINVALID, "")
}
