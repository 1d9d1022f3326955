package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/evbill/evbill"
)

// TransitionPayments makes the moves in one transaction on the writer,
// each in a savepoint of its own, so that the payment worker's batch
// costs one commit (one fsync) instead of one per payment.
func (s *Store) TransitionPayments(ctx context.Context, moves []evbill.PaymentMove) error {
	for i := range moves {
		moves[i].Err = nil
	}
	if len(moves) == 0 {
		return nil
	}
	err := s.transitionPayments(ctx, moves)
	if err != nil {
		for i := range moves {
			if moves[i].Err == nil {
				moves[i].Err = err
			}
		}
	}
	return err
}

func (s *Store) transitionPayments(ctx context.Context, moves []evbill.PaymentMove) error {
	valid := 0
	for i := range moves {
		m := &moves[i]
		if m.Err = checkTransition(m.Payment, m.From, m.Entry); m.Err == nil {
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
	sp, err := prepareSavepoints(ctx, tx)
	if err != nil {
		return err
	}
	q := s.w.WithTx(tx)
	// The stored payments are handed over only once committed: a batch
	// that fails as a whole must leave the callers' payments as they were.
	stored := make([]*evbill.Payment, len(moves))
	for i := range moves {
		m := &moves[i]
		if m.Err != nil {
			continue
		}
		if err := sp.begin(ctx); err != nil {
			return err
		}
		p := *m.Payment
		if m.Err = transition(ctx, q, &p, m.From, m.Reason, m.Entry); m.Err == nil {
			for _, ev := range m.Events {
				if m.Err = insertEvent(ctx, q, ev); m.Err != nil {
					break
				}
			}
		}
		if m.Err != nil {
			if evbill.ErrorCode(m.Err) == evbill.EINTERNAL {
				return m.Err // I/O, a full disk: the transaction may be gone
			}
			if err := sp.rollback(ctx, m.Err); err != nil {
				return err
			}
		} else {
			stored[i] = &p
		}
		if err := sp.release(ctx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	for i, p := range stored {
		if p != nil {
			*moves[i].Payment = *p
		}
	}
	return nil
}

// savepoints are a transaction's SAVEPOINT, RELEASE and ROLLBACK TO
// statements, prepared once for a batch of writes each in a savepoint of
// its own, rather than parsed once per write.
type savepoints struct{ sp, rel, back *sql.Stmt }

func prepareSavepoints(ctx context.Context, tx *sql.Tx) (*savepoints, error) {
	var s savepoints
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&s.sp, savepoint}, {&s.rel, releaseSavepoint}, {&s.back, rollbackSavepoint}} {
		var err error
		if *p.stmt, err = tx.PrepareContext(ctx, p.sql); err != nil {
			return nil, fmt.Errorf("sqlite: prepare %s: %w", p.sql, err)
		}
	}
	return &s, nil
}

func (s *savepoints) begin(ctx context.Context) error {
	if _, err := s.sp.ExecContext(ctx); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	return nil
}

// rollback undoes the write that failed with cause but keeps the
// savepoint, which release then removes. If it fails, the transaction is
// gone (SQLite rolls back the whole of it on some errors).
func (s *savepoints) rollback(ctx context.Context, cause error) error {
	if _, err := s.back.ExecContext(ctx); err != nil {
		return fmt.Errorf("sqlite: rollback to savepoint after %v: %w", cause, err)
	}
	return nil
}

func (s *savepoints) release(ctx context.Context) error {
	if _, err := s.rel.ExecContext(ctx); err != nil {
		return fmt.Errorf("sqlite: release savepoint: %w", err)
	}
	return nil
}
