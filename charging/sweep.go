package charging

import (
	"context"
	"time"

	"github.com/evbill/evbill"
)

// DefaultRebootGrace is how long a session flagged by a reboot waits for
// its charger before the sweep ends it. A charger replays its queued
// StopTransaction within minutes of reconnecting; an hour leaves room for
// a slow reconnect and a long queue, and is short enough that the driver's
// bill does not wait a day.
const DefaultRebootGrace = time.Hour

// SweepRebooted ends the sessions a rebooted charger never came back to:
// open, flagged ended_by_reboot, unchanged for grace, and with no reading
// newer than that. Each ends at its last reading, priced, with reason
// "Reboot", exactly as if the charger had started a new transaction on the
// connector. A session whose charger still sends readings newer than the
// cut-off survived the reboot: its flag is cleared instead. It returns how
// many sessions it ended. Several instances may sweep at once: a session
// one of them ended is a conflict for the others, and skipped.
func (s *Service) SweepRebooted(ctx context.Context, grace time.Duration) (int, error) {
	cutoff := s.now().Add(-grace)
	ended := 0
	for {
		stale, err := s.store.StaleOpenSessions(ctx, evbill.FlagEndedByReboot, cutoff, evbill.MaxPageLimit)
		if err != nil {
			return ended, err
		}
		progress := false
		for i := range stale {
			done, err := s.sweepOne(ctx, &stale[i], cutoff)
			switch {
			case err == nil:
				progress = true
				if done {
					ended++
				}
			case evbill.ErrorCode(err) == evbill.EINTERNAL:
				return ended, err // the database: the next sweep tries again
			default:
				// This session cannot be ended as it is (its records say
				// why); it must not hold back the ones behind it.
				s.log.Error("sweep: a session of a rebooted charger cannot be ended", "tenant", stale[i].TenantID, "session", stale[i].ID, "err", err)
			}
		}
		// Every session of a full page that made progress is now ended or
		// unflagged, so the next page holds others; a page where none
		// could would come back the same.
		if len(stale) < evbill.MaxPageLimit || !progress {
			return ended, nil
		}
	}
}

// sweepOne ends one stale flagged session, or clears its flag when
// readings newer than the cut-off show the transaction survived the
// reboot. ended reports which.
func (s *Service) sweepOne(ctx context.Context, sess *evbill.Session, cutoff time.Time) (ended bool, err error) {
	samples, err := s.store.Samples(ctx, sess.TenantID, sess.ID)
	if err != nil {
		return false, err
	}
	if n := len(samples); n > 0 && samples[n-1].Time.After(cutoff) {
		sess.Flags = withoutFlag(sess.Flags, evbill.FlagEndedByReboot)
		if _, err := s.commit.do(ctx, evbill.SessionWrite{Update: sess}); err != nil && evbill.ErrorCode(err) != evbill.ECONFLICT {
			return false, err
		}
		return false, nil
	}
	at, meter := lastReading(sess, samples, s.now())
	end, err := s.end(ctx, sess, samples, at, meter, "Reboot")
	if err != nil {
		return false, err
	}
	switch _, err := s.commit.do(ctx, evbill.SessionWrite{End: end}); {
	case err == nil:
		s.broker.Publish(sess.TenantID, sess.ID)
		s.log.Info("ended a session its rebooted charger never stopped", "tenant", sess.TenantID, "session", sess.ID, "at", at)
		return true, nil
	case evbill.ErrorCode(err) == evbill.ECONFLICT:
		return false, nil // another instance ended it
	default:
		return false, err
	}
}

// RunSweeper calls SweepRebooted every interval until ctx ends, logging
// failures: a database outage delays the sweep, it does not stop it.
func (s *Service) RunSweeper(ctx context.Context, every, grace time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.SweepRebooted(ctx, grace); err != nil && ctx.Err() == nil {
			s.log.Warn("sweeping sessions of rebooted chargers", "err", err)
		}
	}
}
