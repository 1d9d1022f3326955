package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evbill/evbill"
)

// RunFlags runs the conformance suite of SessionStore.FlagSession, the
// annotations given to sessions after the fact (a chargeback on a billed
// session), as parallel subtests of t. Like RunSessions it makes its own
// tenants, so it can share a database with other runs.
func RunFlags(t *testing.T, open func(t *testing.T) FullStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s FullStore)
	}{
		{"Open", testFlagOpenSession},
		{"Ended", testFlagEndedSession},
		{"Refusals", testFlagRefusals},
		{"Concurrent", testFlagConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// testFlagOpenSession: a running session keeps its flags and takes the new
// one after them, once however often it is given; nothing else changes,
// UpdatedAt included, so the reboot sweep does not take an annotation for
// news from the charger.
func testFlagOpenSession(t *testing.T, s FullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	in := w.session(1, 0)
	in.Flags = []string{evbill.FlagEndedByReboot}
	ss := startNew(t, s, in)
	for range 2 {
		noErr(t, "FlagSession", s.FlagSession(ctx, w.tenant.ID, ss.ID, evbill.FlagChargeback))
	}
	got, err := s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	want := ss
	want.Flags = []string{evbill.FlagEndedByReboot, evbill.FlagChargeback}
	equal(t, "the flagged open session", got, want)
	stale, err := s.StaleOpenSessions(ctx, evbill.FlagEndedByReboot, ss.UpdatedAt.Add(time.Microsecond), 1000)
	noErr(t, "StaleOpenSessions", err)
	if !slices.ContainsFunc(stale, func(x evbill.Session) bool { return x.ID == ss.ID }) {
		t.Errorf("a flag made the open session look fresh to the reboot sweep")
	}
}

// testFlagEndedSession: an ended session takes flags, once each, after
// the ones it ended with; its UpdatedAt moves, its CDR and everything else
// stay, and it stays ended.
func testFlagEndedSession(t *testing.T, s FullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	ss := startNew(t, s, w.session(1, 0))
	end := endWith(ss, t0.Add(time.Hour), "cdr.created")
	end.Session.Flags = []string{evbill.FlagMeterBackwards}
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	ended := *end.Session
	cdrBefore, err := s.CDRBySession(ctx, w.tenant.ID, ss.ID)
	noErr(t, "CDRBySession", err)

	for _, f := range []string{evbill.FlagChargeback, evbill.FlagChargebackWon, evbill.FlagChargeback, evbill.FlagChargebackWon} {
		noErr(t, "FlagSession "+f, s.FlagSession(ctx, w.tenant.ID, ss.ID, f))
	}
	got, err := s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	storeTime(t, "UpdatedAt", got.UpdatedAt)
	if got.UpdatedAt.Before(ended.UpdatedAt) {
		t.Errorf("UpdatedAt went back from %v to %v", ended.UpdatedAt, got.UpdatedAt)
	}
	want := ended
	want.Flags = []string{evbill.FlagMeterBackwards, evbill.FlagChargeback, evbill.FlagChargebackWon}
	want.UpdatedAt = got.UpdatedAt
	equal(t, "the flagged ended session", got, want)
	cdrAfter, err := s.CDRBySession(ctx, w.tenant.ID, ss.ID)
	noErr(t, "CDRBySession", err)
	equal(t, "the CDR of the flagged session", cdrAfter, cdrBefore)
	if string(cdrAfter.Document) != string(cdrBefore.Document) {
		t.Errorf("the CDR document changed: %s", cdrAfter.Document)
	}
	late := got
	late.State = evbill.SessionActive
	wantCode(t, "UpdateSession of the flagged ended session", s.UpdateSession(ctx, &late), evbill.ECONFLICT, "")
}

// testFlagRefusals: a missing session, another tenant's, a missing ID and
// a flag the comma-joined column could not keep are refused, and nothing
// changes.
func testFlagRefusals(t *testing.T, s FullStore) {
	ctx := t.Context()
	w, other := newSessionWorld(t, s), newSessionWorld(t, s)
	ss := startNew(t, s, w.session(1, 0))
	theirs := startNew(t, s, other.session(1, 0))
	wantCode(t, "a missing session", s.FlagSession(ctx, w.tenant.ID, "ses_missing", evbill.FlagChargeback), evbill.ENOTFOUND, "")
	wantCode(t, "another tenant's session", s.FlagSession(ctx, w.tenant.ID, theirs.ID, evbill.FlagChargeback), evbill.ENOTFOUND, "")
	wantCode(t, "no tenant", s.FlagSession(ctx, "", ss.ID, evbill.FlagChargeback), evbill.EINVALID, "tenant_id")
	wantCode(t, "no session", s.FlagSession(ctx, w.tenant.ID, "", evbill.FlagChargeback), evbill.EINVALID, "session_id")
	for _, bad := range []string{"", "a,b", "x\x00", "\xff"} {
		wantCode(t, fmt.Sprintf("flag %q", bad), s.FlagSession(ctx, w.tenant.ID, ss.ID, bad), evbill.EINVALID, "flag")
	}
	got, err := s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	equal(t, "the session after refused flags", got, ss)
	got, err = s.Session(ctx, other.tenant.ID, theirs.ID)
	noErr(t, "Session", err)
	equal(t, "the other tenant's session", got, theirs)
}

// testFlagConcurrent: flags given at once, each several times, all land,
// each once.
func testFlagConcurrent(t *testing.T, s FullStore) {
	ctx := t.Context()
	w := newSessionWorld(t, s)
	ss := startNew(t, s, w.session(1, 0))
	end := endWith(ss, t0.Add(time.Hour), "cdr.created")
	noErr(t, "EndSession", s.EndSession(ctx, end.Session, end.CDR, end.Events))
	flags := make([]string, 8)
	for i := range flags {
		flags[i] = fmt.Sprintf("flag_%d", i)
	}
	var wg sync.WaitGroup
	for range 3 {
		for _, f := range flags {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.FlagSession(context.Background(), w.tenant.ID, ss.ID, f); err != nil {
					t.Errorf("FlagSession %s: %v", f, err)
				}
			}()
		}
	}
	wg.Wait()
	got, err := s.Session(ctx, w.tenant.ID, ss.ID)
	noErr(t, "Session", err)
	sorted := slices.Sorted(slices.Values(got.Flags))
	equal(t, "flags given at once, three times each", sorted, flags)
}
