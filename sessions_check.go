package evbill

import (
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Check validates a session write before it reaches a store, the same for
// every engine: exactly one kind of write, the references it needs, text
// that both SQLite and PostgreSQL accept, numbers PostgreSQL's integer
// holds, states that fit the write. Stores call it on each write of a batch.
func (w *SessionWrite) Check() error {
	return checkWrite(w)
}

func checkWrite(w *SessionWrite) error {
	n := 0
	for _, set := range []bool{w.Start != nil, w.Samples != nil, w.Update != nil, w.End != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return Errorf(EINVALID, "exactly one of Start, Samples, Update and End must be set")
	}
	if w.Payment != nil {
		if w.Start == nil {
			return Errorf(EINVALID, "a payment is written with its session's Start")
		}
		if err := checkSessionPayment(w.Start, w.Payment); err != nil {
			return err
		}
	}
	switch {
	case w.Start != nil:
		return checkStart(w.Start)
	case w.Samples != nil:
		return checkSamples(w.Samples)
	case w.Update != nil:
		return checkUpdate(w.Update)
	}
	return checkEnd(w.End)
}

func checkStart(s *Session) error {
	if err := required("tenant_id", s.TenantID, "station_id", s.StationID); err != nil {
		return err
	}
	if err := checkText("tenant_id", s.TenantID, "station_id", s.StationID, "id_tag", s.IDTag,
		"token_id", s.TokenID, "driver_id", s.DriverID, "group_id", s.GroupID, "tariff_id", s.TariffID,
		"meter_start_wh", s.MeterStartWh, "meter_stop_wh", s.MeterStopWh, "stop_reason", s.StopReason); err != nil {
		return err
	}
	if err := fitsInt32("connector_number", s.ConnectorNumber); err != nil {
		return err
	}
	if err := fitsInt32("tariff_version", s.TariffVersion); err != nil {
		return err
	}
	if s.StartedAt.IsZero() {
		return Errorf(EINVALID, "started_at is required")
	}
	state := s.State
	if state == "" {
		state = SessionActive
	}
	if err := checkState(state, SessionActive, SessionParking, SessionEnded); err != nil {
		return err
	}
	if (state == SessionEnded) != (s.StoppedAt != nil) {
		return Errorf(EINVALID, "stopped_at must be set exactly when the state is ended")
	}
	switch {
	case s.TariffID == "" && s.TariffVersion != 0:
		return Errorf(EINVALID, "tariff_version %d is set without a tariff_id", s.TariffVersion)
	case s.TariffID != "" && s.TariffVersion < 1:
		return Errorf(EINVALID, "tariff_version is required with tariff_id %q", s.TariffID)
	}
	return checkFlags(s.Flags)
}

func checkSamples(sw *SampleWrite) error {
	if err := required("tenant_id", sw.TenantID, "session_id", sw.SessionID); err != nil {
		return err
	}
	if err := checkText("tenant_id", sw.TenantID, "session_id", sw.SessionID); err != nil {
		return err
	}
	for i, m := range sw.Samples {
		if m.Time.IsZero() {
			return Errorf(EINVALID, "sample %d: time is required", i)
		}
		if err := checkText("energy_wh", m.EnergyWh, "power_w", m.PowerW, "current_a", m.CurrentA, "soc", m.SoC, "context", m.Context); err != nil {
			return Errorf(EINVALID, "sample %d: %s", i, err.Error())
		}
	}
	for i, e := range sw.Events {
		if e.TenantID != sw.TenantID {
			return Errorf(EINVALID, "event %d: tenant %q is not the write's", i, e.TenantID)
		}
		if e.ID == "" || e.CreatedAt.IsZero() || len(e.Payload) == 0 {
			return Errorf(EINVALID, "event %d: id, created_at and payload are required", i)
		}
		if err := CheckEventType(e.Type); err != nil {
			return Errorf(EINVALID, "event %d: %s", i, err.Error())
		}
	}
	if m := sw.Mark; m != nil {
		if err := checkText("mark energy_wh", m.EnergyWh); err != nil {
			return err
		}
		if m.Charge < 0 {
			return Errorf(EINVALID, "mark charge cannot be negative")
		}
	}
	for i, v := range sw.Signed {
		if v.Time.IsZero() {
			return Errorf(EINVALID, "signed value %d: time is required", i)
		}
		if v.Raw == "" {
			return Errorf(EINVALID, "signed value %d: the record is required", i)
		}
		if err := checkText("context", v.Context, "record", v.Raw); err != nil {
			return Errorf(EINVALID, "signed value %d: %s", i, err.Error())
		}
	}
	return nil
}

func checkUpdate(s *Session) error {
	if err := required("tenant_id", s.TenantID, "id", s.ID); err != nil {
		return err
	}
	if err := checkText("tenant_id", s.TenantID, "id", s.ID); err != nil {
		return err
	}
	if s.State == SessionEnded {
		return Errorf(EINVALID, "state ended is set by ending the session, with its CDR, not by an update")
	}
	if err := checkState(s.State, SessionActive, SessionParking); err != nil {
		return err
	}
	return checkFlags(s.Flags)
}

func checkEnd(e *EndWrite) error {
	s := e.Session
	if s == nil {
		return Errorf(EINVALID, "the ended session is required")
	}
	if err := required("tenant_id", s.TenantID, "id", s.ID); err != nil {
		return err
	}
	if s.StoppedAt == nil {
		return Errorf(EINVALID, "stopped_at is required to end a session")
	}
	if err := checkText("tenant_id", s.TenantID, "id", s.ID, "meter_stop_wh", s.MeterStopWh, "stop_reason", s.StopReason); err != nil {
		return err
	}
	if err := checkFlags(s.Flags); err != nil {
		return err
	}
	if c := e.CDR; c != nil {
		if c.TenantID != "" && c.TenantID != s.TenantID {
			return Errorf(EINVALID, "the CDR's tenant_id %q is not the session's", c.TenantID)
		}
		if c.SessionID != "" && c.SessionID != s.ID {
			return Errorf(EINVALID, "the CDR's session_id %q is not the ended session %q", c.SessionID, s.ID)
		}
		if err := checkText("CDR id", c.ID, "currency", c.Currency, "total_excl_vat", c.TotalExclVAT, "total_incl_vat", c.TotalInclVAT); err != nil {
			return err
		}
	}
	for i, ev := range e.Events {
		if ev.TenantID != "" && ev.TenantID != s.TenantID {
			return Errorf(EINVALID, "event %d: tenant_id %q is not the session's", i, ev.TenantID)
		}
		if ev.Type == "" {
			return Errorf(EINVALID, "event %d: type is required", i)
		}
		if err := checkText("id", ev.ID, "type", ev.Type); err != nil {
			return Errorf(EINVALID, "event %d: %s", i, err.Error())
		}
	}
	return nil
}

// checkFlags rejects a flag that the comma-joined column could not give
// back as it was.
func checkFlags(flags []string) error {
	for _, f := range flags {
		if f == "" || strings.Contains(f, ",") {
			return Errorf(EINVALID, "flag %q is not valid: a flag is a non-empty word without commas", f)
		}
		if err := checkText("flag", f); err != nil {
			return err
		}
	}
	return nil
}

// checkText rejects a NUL byte or invalid UTF-8 in any of the named
// strings (pairs of field name and value): PostgreSQL's text refuses
// them, and both engines must accept the same writes.
func checkText(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if v := pairs[i+1]; !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return Errorf(EINVALID, "%s must be UTF-8 text without NUL bytes", pairs[i])
		}
	}
	return nil
}

func checkState(state string, allowed ...string) error {
	if slices.Contains(allowed, state) {
		return nil
	}
	return Errorf(EINVALID, "state %q is not one of %s", state, strings.Join(allowed, ", "))
}

// required rejects an empty reference before it reaches the database,
// where it would only show up as a reference to a record "" that does not
// exist.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return Errorf(EINVALID, "%s is required", pairs[i])
		}
	}
	return nil
}

// fitsInt32 rejects a number that PostgreSQL's integer cannot hold, in
// both stores, so that they accept the same values.
func fitsInt32(field string, v int) error {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return Errorf(EINVALID, "%s %d is out of range", field, v)
	}
	return nil
}

// checkSessionPayment checks the payment a Start carries as CreatePayment
// would, before the session (and so its ID) exists.
func checkSessionPayment(s *Session, p *Payment) error {
	if p.TenantID != s.TenantID || p.DriverID != s.DriverID {
		return Errorf(EINVALID, "a session's payment is of the session's tenant and driver")
	}
	if p.Purpose != "" && p.Purpose != PurposeSession {
		return Errorf(EINVALID, "a payment written with a Start pays for that session")
	}
	probe := *p
	probe.SessionID = "ses_pending"
	return probe.CheckNew()
}
