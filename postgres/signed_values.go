package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
)

// signedValues adds to a Samples write the statement that stores its
// signed meter values, after the readings' statement. Like that one it
// inserts only into an open session and skips records already stored, so
// it cannot fail on its own and the write stays without a savepoint; the
// readings' statement reports a missing or ended session for both.
func (o *op) signedValues(sw *evbill.SampleWrite, now time.Time) {
	n := len(sw.Signed)
	p := db.AddSignedValuesParams{
		TenantID: sw.TenantID, SessionID: sw.SessionID, Now: now,
		Times: make([]time.Time, n), Contexts: make([]string, n), Raws: make([][]byte, n), RawSha256s: make([][]byte, n),
	}
	for i, v := range sw.Signed {
		sum := sha256.Sum256([]byte(v.Raw))
		p.Times[i], p.Contexts[i], p.Raws[i], p.RawSha256s[i] = normalize(v.Time), v.Context, []byte(v.Raw), sum[:]
	}
	o.more = append(o.more, capture(func(q *db.Queries) error { return q.AddSignedValues(context.Background(), p) }))
	readSamples := o.read
	o.read = func(ctx context.Context, q *db.Queries) error {
		if err := readSamples(ctx, q); err != nil {
			return err
		}
		return q.AddSignedValues(ctx, p)
	}
}

// SignedValues returns the signed meter values of one of the tenant's
// sessions in the order they were received; ENOTFOUND when the session
// does not exist. As with Samples, only an empty answer costs a second
// query.
func (s *Store) SignedValues(ctx context.Context, tenantID, sessionID string) ([]evbill.SignedValue, error) {
	rows, err := s.q.SignedValues(ctx, db.SignedValuesParams{TenantID: tenantID, SessionID: sessionID})
	if err != nil {
		return nil, fmt.Errorf("postgres: signed values: %w", err)
	}
	if len(rows) == 0 {
		if _, err := s.q.SessionState(ctx, db.SessionStateParams{TenantID: tenantID, ID: sessionID}); err != nil {
			return nil, readErr(err, "session", sessionID)
		}
	}
	out := make([]evbill.SignedValue, len(rows))
	for i, r := range rows {
		out[i] = evbill.SignedValue{
			SessionID: sessionID, Seq: i + 1, Time: r.Time.UTC(), Context: r.Context,
			Raw: string(r.Raw), CreatedAt: r.CreatedAt.UTC(),
		}
	}
	return out, nil
}
