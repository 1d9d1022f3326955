package postgres

import (
	"context"
	"fmt"

	"github.com/evbill/evbill"
)

// subtransactionsPerTx bounds the savepoints of one transaction: past 64
// a backend's cache of subtransaction IDs overflows and every other
// session's visibility checks slow down (see ApplySessionWrites).
const subtransactionsPerTx = 64

// TransitionPayments makes the moves in transactions of up to 64, each
// move in a savepoint of its own, so that the payment worker's batch
// costs a commit per 64 payments instead of one each.
func (s *Store) TransitionPayments(ctx context.Context, moves []evbill.PaymentMove) error {
	for i := range moves {
		m := &moves[i]
		m.Err = checkTransition(m.Payment, m.From, m.Entry)
	}
	for start := 0; start < len(moves); start += subtransactionsPerTx {
		chunk := moves[start:min(start+subtransactionsPerTx, len(moves))]
		if err := s.transitionPayments(ctx, chunk); err != nil {
			// This chunk and the ones after it are not stored.
			for i := start; i < len(moves); i++ {
				if moves[i].Err == nil {
					moves[i].Err = err
				}
			}
			return err
		}
	}
	return nil
}

func (s *Store) transitionPayments(ctx context.Context, moves []evbill.PaymentMove) error {
	pending := 0
	for i := range moves {
		if moves[i].Err == nil {
			pending++
		}
	}
	if pending == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	q := s.q.WithTx(tx)
	// Moves that write outbox events take its lock first, as every
	// writer of events does.
	lock := false
	for _, m := range moves {
		if m.Err == nil {
			_, reported := evbill.PaymentEvent(evbill.Payment{State: m.Payment.State})
			lock = lock || reported || len(m.Events) > 0
		}
	}
	if lock {
		if err := q.LockOutbox(ctx); err != nil {
			return fmt.Errorf("postgres: lock outbox: %w", err)
		}
	}
	// The stored payments are handed over only once committed: a chunk
	// that fails as a whole must leave the callers' payments as they were.
	stored := make([]*evbill.Payment, len(moves))
	for i := range moves {
		m := &moves[i]
		if m.Err != nil {
			continue
		}
		if _, err := tx.Exec(ctx, savepoint); err != nil {
			return fmt.Errorf("postgres: savepoint: %w", err)
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
				return m.Err
			}
			if _, err := tx.Exec(ctx, rollbackAndReleaseSP); err != nil {
				return fmt.Errorf("postgres: rollback to savepoint after %v: %w", m.Err, err)
			}
			continue
		}
		stored[i] = &p
		if _, err := tx.Exec(ctx, releaseSavepoint); err != nil {
			return fmt.Errorf("postgres: release savepoint: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	for i, p := range stored {
		if p != nil {
			*moves[i].Payment = *p
		}
	}
	return nil
}
