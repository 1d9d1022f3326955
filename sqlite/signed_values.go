package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
)

// addSignedValues stores the signed meter values of a sample write and
// returns how many were new. Like the readings, each statement inserts
// only into an open session and skips a record already stored, so none
// fails on its own and the write needs no savepoint.
func addSignedValues(ctx context.Context, q *db.Queries, sw *evbill.SampleWrite, now time.Time) (int64, error) {
	inserted := int64(0)
	for _, v := range sw.Signed {
		sum := sha256.Sum256([]byte(v.Raw))
		n, err := q.InsertSignedValue(ctx, db.InsertSignedValueParams{
			TenantID: sw.TenantID, SessionID: sw.SessionID, Time: normalize(v.Time).UnixMicro(),
			Context: v.Context, Raw: v.Raw, RawSha256: sum[:], CreatedAt: now.UnixMicro(),
		})
		if err != nil {
			return 0, writeErr(ctx, q, "add signed values", err, nil, nil)
		}
		inserted += n
	}
	return inserted, nil
}

// SignedValues returns the signed meter values of one of the tenant's
// sessions in the order they were received; ENOTFOUND when the session
// does not exist. As with Samples, only an empty answer costs a second
// query.
func (s *Store) SignedValues(ctx context.Context, tenantID, sessionID string) ([]evbill.SignedValue, error) {
	rows, err := s.r.SignedValues(ctx, db.SignedValuesParams{TenantID: tenantID, SessionID: sessionID})
	if err != nil {
		return nil, fmt.Errorf("sqlite: signed values: %w", err)
	}
	if len(rows) == 0 {
		if _, err := s.r.SessionState(ctx, db.SessionStateParams{TenantID: tenantID, ID: sessionID}); err != nil {
			return nil, readErr(err, "session", sessionID)
		}
	}
	out := make([]evbill.SignedValue, len(rows))
	for i, r := range rows {
		out[i] = evbill.SignedValue{
			SessionID: sessionID, Seq: i + 1, Time: fromMicros(r.Time), Context: r.Context,
			Raw: r.Raw, CreatedAt: fromMicros(r.CreatedAt),
		}
	}
	return out, nil
}
