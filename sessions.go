package evbill

import (
	"context"
	"encoding/json"
	"time"
)

// Session states.
const (
	SessionActive  = "active"  // charging, or plugged in and not yet idle
	SessionParking = "parking" // the vehicle stopped drawing power; idle time runs
	SessionEnded   = "ended"
)

// Session flags: reasons a session is held back from blind billing.
const (
	FlagMeterBackwards    = "meter_backwards"    // a reading below an earlier one
	FlagImplausibleEnergy = "implausible_energy" // more energy than max power × time
	FlagEndedByReboot     = "ended_by_reboot"    // closed at its last sample by a BootNotification
	FlagOrphanStop        = "orphan_stop"        // a StopTransaction for a transaction we did not know
)

// Session flags that tell an operator what became of a billed session's
// payment. Unlike the flags above they never hold a session back: they
// are added after the CDR, through SessionStore.FlagSession, and a
// session keeps every one it was given, so the set says the same whatever
// order the gateway's notifications came in.
const (
	FlagChargeback     = "chargeback"      // the payer disputed the payment and the money was taken back
	FlagChargebackWon  = "chargeback_won"  // the dispute was decided for the operator: the money came back
	FlagChargebackLost = "chargeback_lost" // the dispute was decided for the payer: the money stays taken
)

// FlagSignatureInvalid marks a session whose charger sent a signed meter
// value (OCMF) that does not verify under the station's meter key: the
// reading was changed after the meter signed it, or the key on record is
// not the meter's. Like the chargeback flags it does not hold the session
// back (the CDR is priced from the OCPP readings as usual); it is written
// with the session's end and calls for a look before the bill is defended.
const FlagSignatureInvalid = "signature_invalid"

// CheckFlag reports, as an EINVALID error, whether flag cannot be kept as
// a session flag: it must be a non-empty word without commas, in UTF-8
// text without NUL bytes.
func CheckFlag(flag string) error { return checkFlags([]string{flag}) }

// Session is one OCPP transaction on a connector: what the charger
// reported, in the charger's own timestamps, and what it will be billed
// under. TransactionID is the integer evbill gave the charger; the
// (StationID, ConnectorNumber, IDTag, MeterStartWh, StartedAt) of the
// StartTransaction identify a retransmission.
type Session struct {
	ID               string
	TenantID         string
	StationID        string
	ConnectorNumber  int
	TransactionID    int64
	IDTag            string
	TokenID          string // "" when the idTag is not a known token
	DriverID         string
	GroupID          string
	TariffID         string // the tariff in force at the start, "" if none applied
	TariffVersion    int
	MeterStartWh     string // exact decimal, Wh
	MeterStopWh      string // exact decimal, Wh; "" while running
	StartedAt        time.Time
	ParkingStartedAt *time.Time
	StoppedAt        *time.Time
	State            string
	StopReason       string // OCPP Reason, or "Reboot"
	Flags            []string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// MeterSample is one meter reading of a session. Values are exact decimal
// strings as the charger sent them, converted to Wh, W and A; "" when the
// charger did not send that measurand.
type MeterSample struct {
	SessionID string
	Time      time.Time
	EnergyWh  string
	PowerW    string
	CurrentA  string
	SoC       string
	Context   string // OCPP ReadingContext, e.g. Sample.Periodic, Transaction.End
}

// CDR is the sealed, priced record of an ended session: the OCPI 2.2.1 CDR
// document and the engine's breakdown. CDRs are never changed; a
// correction is a credit note (to come).
type CDR struct {
	ID           string
	TenantID     string
	SessionID    string
	Currency     string
	TotalExclVAT string // exact decimal, 4 places, as in the OCPI document
	TotalInclVAT string
	AmountMinor  int64 // the amount to charge, in minor units of Currency
	Document     json.RawMessage
	Breakdown    json.RawMessage
	CreatedAt    time.Time
}

// Event is an outbox entry, written in the same transaction as the change
// it announces and delivered later (webhooks, live stream, email).
type Event struct {
	ID        string
	TenantID  string
	Type      string // e.g. cdr.created, session.started
	Payload   json.RawMessage
	CreatedAt time.Time
}

// SessionWrite is one write of the OCPP path. Exactly one of Start,
// Samples, Update and End is set. ApplySessionWrites commits many of them
// in one transaction (group commit): thousands of chargers' messages cost
// one fsync, not one each.
type SessionWrite struct {
	Start   *Session // StartSession; Created tells a new session from a retransmission
	Created bool
	// Payment, with Start, is the session's payment (a card hold, a
	// wallet's or an account's), stored in the same transaction as the
	// session, so a session never exists without the payment it was
	// started with. A retransmitted start whose session has a payment
	// already stores none. Once committed, Payment is the stored payment
	// and PaymentCreated is set; SessionID is the store's to fill.
	Payment        *Payment
	PaymentCreated bool
	Samples        *SampleWrite // AddSamples
	Update         *Session     // UpdateSession
	End            *EndWrite    // EndSession
	Err            error        // this write's own error; it does not stop the others
}

// SampleWrite is the readings of one session to store.
type SampleWrite struct {
	TenantID  string
	SessionID string
	Samples   []MeterSample
	// Signed are the signed meter values that came with the readings,
	// stored in the same transaction; a record the session already has
	// (the same text) is a retransmission and ignored. Only their Time,
	// Context and Raw are read: the session is the write's, and the store
	// numbers and dates them.
	Signed []SignedValue
	// Events go into the outbox, and Mark (when set) replaces the
	// session's mark, in the same transaction, only when the write
	// stored at least one reading or signed value: a retransmitted
	// MeterValues announces nothing twice. They are a running session's
	// session.updated and hold.nearly_exhausted, each event the
	// write's tenant's.
	Events []Event
	Mark   *SessionMark
}

// SessionMark is what the outbox last told of a running session, kept
// with the session so that the throttle of its session.updated events
// and its one hold.nearly_exhausted hold across reconnects, restarts and
// gateway nodes, not only in one process's memory. A session with no
// mark stored has the zero SessionMark: nothing told since its start.
type SessionMark struct {
	// UpdatedAsOf is the time of the reading the last session.updated
	// was as of; zero when none was sent.
	UpdatedAsOf time.Time
	// EnergyWh is the meter register then, an exact decimal in Wh.
	EnergyWh string
	// Charge is the running charge then, in minor units of the
	// session's tariff currency.
	Charge int64
	// HoldWarned reports that hold.nearly_exhausted was sent.
	HoldWarned bool
}

// SignedValue is a signed meter value a charger sent for a session: an
// OCMF record ("OCMF|{…}|{…}") from a sampledValue of format SignedData,
// kept exactly as received, since its signature covers those bytes and
// a driver's transparency software must be given the same. It is checked
// at the session's end and on the receipt, never rewritten.
type SignedValue struct {
	// SessionID is the session the charger sent the record for.
	SessionID string
	// Seq is the record's place among the session's signed values in the
	// order they were received, from 1.
	Seq int
	// Time is the timestamp of the MeterValue that carried the record.
	Time time.Time
	// Context is the sampledValue's OCPP ReadingContext, e.g.
	// Transaction.Begin; "" when the charger left it out.
	Context string
	// Raw is the record: the sampledValue's value, the JSON string's
	// decoded text, as received.
	Raw string
	// CreatedAt is when evbill stored it.
	CreatedAt time.Time
}

// EndWrite is an ended session with its CDR and events.
type EndWrite struct {
	Session *Session
	CDR     *CDR
	Events  []Event
}

// SessionStore keeps sessions, their meter samples, CDRs and the outbox.
// Writes that belong together (a session's end, its CDR and its
// cdr.created event) go in one transaction through EndSession.
type SessionStore interface {
	// ApplySessionWrites applies the writes in one transaction, each in a
	// savepoint of its own: a write that fails sets its Err and is undone
	// alone; the rest commit. The error is for the transaction as a whole
	// (the database failed): then nothing was stored.
	ApplySessionWrites(ctx context.Context, writes []SessionWrite) error

	// StartSession stores a new session with the next transaction ID of
	// the tenant. If a session with the same station, connector, idTag,
	// meter start and start time exists, it is returned unchanged and
	// created is false: a retransmitted StartTransaction.
	StartSession(ctx context.Context, s *Session) (created bool, err error)
	SessionByTransaction(ctx context.Context, tenantID, stationID string, transactionID int64) (Session, error)
	Session(ctx context.Context, tenantID, id string) (Session, error)
	// OpenSessions returns the station's sessions that have not ended.
	OpenSessions(ctx context.Context, tenantID, stationID string) ([]Session, error)
	// StaleOpenSessions returns up to limit open sessions of every tenant
	// that carry flag and have not changed since before, oldest change
	// first: what a sweep ends when a charger never comes back to them.
	StaleOpenSessions(ctx context.Context, flag string, before time.Time, limit int) ([]Session, error)
	ListSessions(ctx context.Context, tenantID string, p Page) ([]Session, error)
	// AddSamples stores readings; a reading at a time the session already
	// has is ignored (retransmission), so samples stay one per instant.
	// ECONFLICT when the session has ended: its readings are final.
	AddSamples(ctx context.Context, tenantID, sessionID string, samples []MeterSample) error
	// Samples returns the session's readings ordered by time.
	Samples(ctx context.Context, tenantID, sessionID string) ([]MeterSample, error)
	// SessionMark returns the session's mark (see SampleWrite.Mark); the
	// zero SessionMark when none was stored; ENOTFOUND when the tenant
	// has no such session.
	SessionMark(ctx context.Context, tenantID, sessionID string) (SessionMark, error)
	// SignedValues returns the session's signed meter values in the order
	// they were received, each Raw exactly as stored; ENOTFOUND when the
	// tenant has no such session.
	SignedValues(ctx context.Context, tenantID, sessionID string) ([]SignedValue, error)
	// UpdateSession stores state, parking start and flags.
	UpdateSession(ctx context.Context, s *Session) error
	// FlagSession adds flag to the tenant's session sessionID, in one
	// statement, unless the session has it already; whatever the
	// session's state, since a flag is an annotation and not billing data:
	// an ended session takes one and its CDR stays as sealed. A running
	// session's UpdatedAt is left alone (it is the reboot sweep's evidence
	// that the charger still reports, which an annotation is not); an
	// ended one's moves. The charging path owns a running session's flags:
	// an UpdateSession from a copy read before replaces them. ENOTFOUND
	// when the tenant has no such session, EINVALID when CheckFlag refuses
	// the flag.
	FlagSession(ctx context.Context, tenantID, sessionID, flag string) error
	// EndSession stores the ended session, its CDR and the events in one
	// transaction. ECONFLICT if the session has already ended.
	EndSession(ctx context.Context, s *Session, cdr *CDR, events []Event) error
	CDR(ctx context.Context, tenantID, id string) (CDR, error)
	CDRBySession(ctx context.Context, tenantID, sessionID string) (CDR, error)
	ListCDRs(ctx context.Context, tenantID string, p Page) ([]CDR, error)
	// PendingEvents returns undelivered outbox events in order.
	PendingEvents(ctx context.Context, after string, limit int) ([]Event, error)
}
