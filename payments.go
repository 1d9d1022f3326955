package evbill

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Gateway is a card payment processor, seen the way evbill uses it: a hold
// (authorization) placed when a session starts, captured for the exact
// CDR total when it ends, the rest released; refunds of captured money;
// and the processor's own notifications (webhooks), verified.
//
// Every call that moves money takes an idempotency key derived from
// evbill's own IDs (for example "cap_" + the payment ID): a call repeated
// with the same key after a timeout, a crash or a retry is answered with
// the first call's outcome and moves nothing twice. Amounts are integer
// minor units of an ISO 4217 currency.
//
// Errors are *GatewayError. Only an error whose Outcome is
// OutcomeUnknown may have moved money; it is retried with the same key.
type Gateway interface {
	// Name identifies the gateway in records and logs: "stripe", "sandbox".
	Name() string
	// Hold reserves an amount on a payment method.
	Hold(ctx context.Context, r HoldRequest) (GatewayPayment, error)
	// Capture takes up to the held amount (a partial capture releases the
	// rest). A zero amount is not a capture: Release the hold instead.
	Capture(ctx context.Context, r CaptureRequest) (GatewayPayment, error)
	// Release cancels a hold that was not captured.
	Release(ctx context.Context, r ReleaseRequest) (GatewayPayment, error)
	// Refund returns part or all of a captured amount.
	Refund(ctx context.Context, r RefundRequest) (GatewayRefund, error)
	// ParseWebhook verifies the signature of a notification the gateway
	// sent, as of now, and returns the event it carries; a *GatewayError
	// with OutcomeRejected when the signature or the timestamp is wrong.
	ParseWebhook(header http.Header, body []byte, now time.Time) (GatewayEvent, error)
}

// HoldRequest asks a gateway to reserve Amount on PaymentMethod.
type HoldRequest struct {
	IdempotencyKey string
	Amount         int64  // minor units of Currency, > 0
	Currency       string // ISO 4217, e.g. EUR
	PaymentMethod  string // the gateway's reference to a card, e.g. pm_… or a sandbox test card
	Customer       string // the gateway's customer that owns a saved card, "" for a one-off card
	Description    string // for the operator in the gateway's dashboard; not the card statement
	Metadata       map[string]string
}

// CaptureRequest asks a gateway to take Amount of the hold Reference.
type CaptureRequest struct {
	IdempotencyKey string
	Reference      string // the hold's GatewayPayment.Reference
	Amount         int64  // minor units, 0 < Amount ≤ the held amount
	Currency       string
}

// ReleaseRequest asks a gateway to cancel the hold Reference.
type ReleaseRequest struct {
	IdempotencyKey string
	Reference      string
}

// RefundRequest asks a gateway to return Amount of the captured payment
// Reference.
type RefundRequest struct {
	IdempotencyKey string
	Reference      string
	Amount         int64 // minor units, 0 < Amount ≤ captured − refunded
	Currency       string
	Reason         string
}

// Gateway payment states, as a gateway reports a hold.
const (
	GatewayHeld     = "held"     // authorized, not captured
	GatewayCaptured = "captured" // captured (CapturedAmount of Amount)
	GatewayReleased = "released" // cancelled, or expired without capture
)

// GatewayPayment is a gateway's record of one hold.
type GatewayPayment struct {
	Reference      string // e.g. Stripe's pi_…
	Status         string // GatewayHeld, GatewayCaptured or GatewayReleased
	Amount         int64  // held
	CapturedAmount int64
	Currency       string
	ExpiresAt      time.Time // when an uncaptured hold lapses; zero if unknown
}

// GatewayRefund is a gateway's record of one refund.
type GatewayRefund struct {
	Reference string // e.g. Stripe's re_…
	Payment   string // the refunded payment's Reference
	Amount    int64
	Currency  string
}

// Gateway event types, as evbill understands them whatever the gateway
// calls them.
const (
	GatewayEventHoldExpired   = "hold.expired"     // an uncaptured hold lapsed
	GatewayEventCaptured      = "payment.captured" // confirms a capture
	GatewayEventReleased      = "payment.released" // confirms a release
	GatewayEventRefunded      = "payment.refunded" // confirms a refund
	GatewayEventPaymentFailed = "payment.failed"   // an asynchronous failure of a hold or capture
	GatewayEventDisputeOpened = "dispute.opened"   // a chargeback: the money is taken back
	GatewayEventDisputeClosed = "dispute.closed"   // won (the money returns) or lost
	GatewayEventIgnored       = "ignored"          // verified, but of a kind evbill has no use for
)

// Dispute outcomes, in GatewayEvent.DisputeStatus of dispute.closed.
const (
	GatewayDisputeWon  = "won"
	GatewayDisputeLost = "lost"
)

// GatewayEvent is a verified notification from a gateway.
type GatewayEvent struct {
	ID            string // the gateway's event ID: a repeated delivery has the same
	Type          string // one of the GatewayEvent… types
	Reference     string // the payment (hold) it is about
	Amount        int64  // the amount the event moves, minor units
	Currency      string
	DisputeStatus string // for dispute.closed: GatewayDisputeWon or GatewayDisputeLost
	Dispute       string // for dispute.*: the gateway's ID of the dispute (Stripe's dp_…), the same in its opening and closing; "" if it names none
	CreatedAt     time.Time
	Raw           []byte // the body as received, kept for audit
}

// Gateway error outcomes: what a failed call did.
const (
	// OutcomeDeclined: the processor refused (card declined, insufficient
	// funds, expired hold); nothing moved, and a retry would be refused
	// too.
	OutcomeDeclined = "declined"
	// OutcomeUnknown: a timeout, a 5xx or a broken connection; the call
	// may or may not have taken effect. Retry with the same key.
	OutcomeUnknown = "unknown"
	// OutcomeRejected: the request itself is wrong (a bad reference, an
	// amount above the hold, a bad webhook signature); nothing moved.
	OutcomeRejected = "rejected"
)

// GatewayError is a failed gateway call.
type GatewayError struct {
	Outcome string // OutcomeDeclined, OutcomeUnknown or OutcomeRejected
	Code    string // the gateway's own code, e.g. card_declined, insufficient_funds
	Message string
	Err     error
}

// Error describes the failure.
func (e *GatewayError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("payment gateway: %s (%s): %s", e.Outcome, e.Code, e.Message)
	}
	return fmt.Sprintf("payment gateway: %s: %s", e.Outcome, e.Message)
}

// Unwrap returns the underlying error.
func (e *GatewayError) Unwrap() error { return e.Err }

// GatewayOutcome returns the Outcome of the first *GatewayError in err's
// chain; OutcomeUnknown for any other non-nil error (a call that failed
// for a reason nobody classified may have reached the gateway), and ""
// for nil.
func GatewayOutcome(err error) string {
	var e *GatewayError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Outcome
	}
	return OutcomeUnknown
}

// Payment states. A state ending in _pending is work for the payment
// worker: a gateway call to make (again, with the same idempotency key,
// until the gateway answers), so a crash between evbill's commit and the
// gateway's answer is recovered on restart.
const (
	PaymentHoldPending       = "hold_pending"    // a hold to place
	PaymentHeld              = "held"            // the gateway holds the amount
	PaymentCapturePending    = "capture_pending" // the CDR is in; its total to capture
	PaymentCaptured          = "captured"        // taken; posted to the ledger
	PaymentPartiallyRefunded = "partially_refunded"
	PaymentRefunded          = "refunded"        // all of the capture given back
	PaymentReleasePending    = "release_pending" // nothing to capture (a free session) or the session failed
	PaymentReleased          = "released"        // the hold is gone: released or expired
	PaymentFailed            = "failed"          // the gateway refused the hold or the capture
)

// paymentEdges are the transitions a payment may make. Refund states
// follow a capture; released and failed are final.
var paymentEdges = map[string][]string{
	PaymentHoldPending:       {PaymentHeld, PaymentFailed},
	PaymentHeld:              {PaymentCapturePending, PaymentReleasePending, PaymentReleased},
	PaymentCapturePending:    {PaymentCaptured, PaymentReleasePending, PaymentFailed},
	PaymentReleasePending:    {PaymentReleased},
	PaymentCaptured:          {PaymentPartiallyRefunded, PaymentRefunded},
	PaymentPartiallyRefunded: {PaymentPartiallyRefunded, PaymentRefunded},
}

// PaymentTransition reports, as an ECONFLICT error, whether a payment in
// state from may not move to state to.
func PaymentTransition(from, to string) error {
	for _, s := range paymentEdges[from] {
		if s == to {
			return nil
		}
	}
	return Errorf(ECONFLICT, "a payment that is %s cannot become %s", from, to)
}

// Payment is the money side of one charging session paid by card (or of
// a wallet top-up): a hold placed through a gateway, captured for the
// exact CDR total, the rest released, and refunds of the capture. Its
// state changes only through PaymentStore.TransitionPayment, each logged,
// and the one that moves money posts its ledger entry in the same
// transaction.
type Payment struct {
	ID            string
	TenantID      string
	SessionID     string // the session it pays; "" for a top-up, and for an ad-hoc payment until a session claims it
	Purpose       string // PurposeSession or PurposeTopUp
	DriverID      string // "" for an ad-hoc card payment
	IDTag         string // an ad-hoc payment's OCPP idTag, by which its session claims it (ClaimAdHocPayment); "" otherwise
	SiteID        string // whose revenue the capture is; "" for a top-up
	Gateway       string // Gateway.Name()
	PaymentMethod string // the gateway's reference to the card
	Customer      string // the gateway's customer, for a saved card
	Reference     string // the gateway's reference to the hold, once placed
	Currency      string
	HoldAmount    int64 // asked for and, once held, held
	CaptureAmount int64 // the CDR total to capture, set with capture_pending
	CaptureNet    int64 // its part excluding VAT, for the ledger
	Captured      int64
	Refunded      int64
	State         string
	FailureCode   string // the gateway's code of the last refusal
	Attempts      int    // gateway calls of the current pending state that ended without an answer
	NextAttemptAt time.Time
	HoldExpiresAt *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// What a payment pays for.
const (
	PurposeSession = "session" // a charging session, captured from its CDR
	PurposeTopUp   = "topup"   // a wallet top-up, captured as soon as it is held
)

// PaymentChange is one logged transition of a payment.
type PaymentChange struct {
	PaymentID string
	From, To  string
	Reason    string
	At        time.Time
}

// PaymentStore keeps payments, their refunds and drivers' payment
// methods. A payment's state is its work queue: the payment worker takes
// the ones in a pending state that are due.
type PaymentStore interface {
	RefundStore
	GatewayEventStore
	// CreatePayment stores a new payment in state hold_pending, due now.
	// ECONFLICT when the session already has one.
	CreatePayment(ctx context.Context, p *Payment) error
	Payment(ctx context.Context, tenantID, id string) (Payment, error)
	PaymentBySession(ctx context.Context, tenantID, sessionID string) (Payment, error)
	// DuePayments returns up to limit payments of every tenant in a
	// pending state whose next attempt is at or before now, the longest
	// waiting first.
	DuePayments(ctx context.Context, now time.Time, limit int) ([]Payment, error)
	// TransitionPayment stores p, whose State is the new state, if the
	// stored payment is still in state from and may move to it
	// (PaymentTransition); logs the change with reason; and posts entry,
	// when not nil, in the same transaction: all or nothing. ECONFLICT
	// when the stored state is no longer from (another worker moved it)
	// or the move is not allowed.
	TransitionPayment(ctx context.Context, p *Payment, from, reason string, entry *LedgerEntry) error
	// TransitionPayments makes many transitions in one transaction (one
	// commit, one fsync), each as TransitionPayment would and each in a
	// savepoint of its own: a move that fails sets its Err and is undone
	// alone, the others are stored. Moves are applied in order, so two
	// moves of one payment chain. The error is for the transaction as a
	// whole (the database failed): then nothing was stored, and every
	// move without an error of its own carries it.
	TransitionPayments(ctx context.Context, moves []PaymentMove) error
	// RetryPayment records an attempt that ended without an answer and
	// when to try again; the state stays.
	RetryPayment(ctx context.Context, tenantID, id string, attempts int, next time.Time) error
	// PaymentChanges returns the payment's transitions, oldest first.
	PaymentChanges(ctx context.Context, tenantID, id string) ([]PaymentChange, error)
	// ExpiringHolds returns up to limit held payments, of every tenant,
	// whose hold lapses before the given time and that are not yet
	// flagged hold_expiring, the soonest first.
	ExpiringHolds(ctx context.Context, before time.Time, limit int) ([]Payment, error)
	// FlagPayment sets the payment's FailureCode without changing its
	// state, and logs it with reason, for a person to look at.
	FlagPayment(ctx context.Context, tenantID, id, code, reason string) error
	// ClaimAdHocPayment gives the session sessionID the tenant's ad-hoc
	// payment of idTag, if that payment is held and no session has claimed
	// it yet, and logs the claim; it returns the claimed payment. The
	// conditions guard the one statement that claims, so of two sessions
	// started with one idTag only one gets the payment, and a payment the
	// worker is releasing cannot be claimed. ENOTFOUND when there is no
	// such payment: none was made, it is not held (yet, or any more), or
	// a session claimed it already.
	ClaimAdHocPayment(ctx context.Context, tenantID, idTag, sessionID string) (Payment, error)
	// ReleaseAdHocPayment moves the tenant's held ad-hoc payment id that no
	// session has claimed to release_pending, due now, with FailureCode
	// code, and logs the move with reason. The conditions guard the one
	// statement that moves it, so a payment a session claimed a moment
	// before is never released. ENOTFOUND when the tenant has no ad-hoc
	// payment id; ECONFLICT when it is not held or a session claimed it.
	ReleaseAdHocPayment(ctx context.Context, tenantID, id, code, reason string) (Payment, error)
	// UnclaimedAdHocPayments returns up to limit held ad-hoc payments, of
	// every tenant, that no session claimed and none can claim any more:
	// made before createdBefore, or whose token is blocked, expired or
	// expires at or before now. The oldest come first.
	UnclaimedAdHocPayments(ctx context.Context, createdBefore, now time.Time, limit int) ([]Payment, error)
	// AdHocPayment returns the ad-hoc payment id of whichever tenant has
	// it; ENOTFOUND when no tenant has an ad-hoc payment id. It serves the
	// public pay page, where the payment's unguessable ID is the only
	// credential: only ad-hoc payments are found, so no other payment is
	// ever shown to a browser.
	AdHocPayment(ctx context.Context, id string) (Payment, error)
	// AdHocPaymentByIDTag returns the tenant's ad-hoc payment of idTag;
	// ENOTFOUND when there is none.
	AdHocPaymentByIDTag(ctx context.Context, tenantID, idTag string) (Payment, error)
	// SetPaymentMethod stores how a driver pays, replacing what was there.
	// EINVALID when the driver does not exist or the method breaks Check.
	SetPaymentMethod(ctx context.Context, m *PaymentMethod) error
	// PaymentMethod returns how the tenant's driver pays; ENOTFOUND when
	// the driver has no payment method.
	PaymentMethod(ctx context.Context, tenantID, driverID string) (PaymentMethod, error)
	// SettleablePayments returns up to limit held payments, of every
	// tenant, whose session has ended: captures (or releases) to start.
	SettleablePayments(ctx context.Context, limit int) ([]Settleable, error)
}

// PaymentMove is one transition of TransitionPayments: Payment, whose
// State is the new state, moves from From, logged with Reason, posting
// Entry when not nil. Err is the move's own outcome; on success Payment
// is the stored payment.
type PaymentMove struct {
	Payment *Payment
	From    string
	Reason  string
	Entry   *LedgerEntry
	// Events are more outbox events of the move (wallet.low_balance),
	// stored in its savepoint: with the move or not at all.
	Events []Event
	Err    error
}

// Settleable is a held payment of an ended session and the session's CDR,
// whose total it is to capture; CDR.ID is "" when the session ended
// without one (held back from billing). The CDR carries its ID and
// amounts, not its document.
type Settleable struct {
	Payment Payment
	CDR     CDR
}

// How a driver pays.
const (
	PayByCard    = "card"    // a hold at the start, the CDR total captured at the end
	PayByWallet  = "wallet"  // a prepaid balance (to come)
	PayByAccount = "account" // a postpaid account, invoiced monthly (to come)
)

// PaymentMethod is how one driver pays for charging. A driver without one
// is billed by the operator some other way, as before payments existed.
type PaymentMethod struct {
	TenantID  string
	DriverID  string
	PayBy     string // PayByCard, PayByWallet or PayByAccount
	Gateway   string // for a card: the gateway that keeps it
	Card      string // for a card: the gateway's reference (pm_…, or a sandbox test card)
	Customer  string // for a saved card: the gateway's customer
	UpdatedAt time.Time
}

// Check reports the first rule the method breaks, as an EINVALID error.
func (m *PaymentMethod) Check() error {
	switch m.PayBy {
	case PayByCard:
		if m.Gateway == "" || m.Card == "" {
			return Errorf(EINVALID, "a card payment method needs its gateway and card")
		}
	case PayByWallet, PayByAccount:
	default:
		return Errorf(EINVALID, "pay_by %q is not card, wallet or account", m.PayBy)
	}
	return nil
}

// Refund states.
const (
	RefundPending   = "pending"   // the gateway call is to be made (again)
	RefundSucceeded = "succeeded" // the money went back; posted to the ledger
	RefundFailed    = "failed"    // the gateway refused
)

// Refund gives back part or all of a captured payment: a credit note on
// its CDR. It is made pending and the payment worker calls the gateway
// with a key derived from its ID; its success updates the payment and
// posts the ledger entry in one transaction.
type Refund struct {
	ID            string
	TenantID      string
	PaymentID     string
	CDRID         string
	Amount        int64 // minor units of the payment's currency
	Reason        string
	State         string
	Reference     string // the gateway's reference, once refunded
	FailureCode   string
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// RefundStore keeps refunds.
type RefundStore interface {
	// CreateRefund stores a pending refund of the payment of the tenant's
	// CDR r.CDRID, due now, filling PaymentID: EINVALID when the CDR was
	// not paid by a captured card payment or the amount is not positive,
	// ECONFLICT when it exceeds what the capture has left after the other
	// refunds that have not failed.
	CreateRefund(ctx context.Context, r *Refund) error
	Refund(ctx context.Context, tenantID, id string) (Refund, error)
	// DueRefunds returns up to limit pending refunds of every tenant whose
	// next attempt is due, the longest waiting first.
	DueRefunds(ctx context.Context, now time.Time, limit int) ([]Refund, error)
	// CompleteRefund records the gateway's answer to a pending refund:
	// r.State succeeded (with entry, the ledger entry, posted, and the
	// payment's refunded amount and state moved) or failed, all in one
	// transaction; ECONFLICT when the refund is no longer pending.
	CompleteRefund(ctx context.Context, r *Refund, entry *LedgerEntry) error
	// RetryRefund records an attempt that got no answer and the next one.
	RetryRefund(ctx context.Context, tenantID, id string, attempts int, next time.Time) error
}

// CheckRefundEnd reports, as an EINVALID error, what is wrong with the
// end of a refund: a success needs its ledger entry, of the refund's
// tenant; a failure has none.
func CheckRefundEnd(r *Refund, entry *LedgerEntry) error {
	switch r.State {
	case RefundSucceeded:
		if entry == nil {
			return Errorf(EINVALID, "refund %q succeeded without its ledger entry", r.ID)
		}
		if entry.TenantID != r.TenantID {
			return Errorf(EINVALID, "the ledger entry of refund %q is another tenant's", r.ID)
		}
		return entry.Check()
	case RefundFailed:
		if entry != nil {
			return Errorf(EINVALID, "failed refund %q has a ledger entry", r.ID)
		}
		return nil
	}
	return Errorf(EINVALID, "a refund ends succeeded or failed, not %q", r.State)
}

// GatewayEventStore records verified gateway notifications, each once.
type GatewayEventStore interface {
	// PaymentByReference finds the payment, of any tenant, that gateway
	// knows by reference; ENOTFOUND when none.
	PaymentByReference(ctx context.Context, gateway, reference string) (Payment, error)
	// RecordGatewayEvent stores ev for the payment p and, in the same
	// transaction, applies what it means: when p.State differs from from,
	// the payment's transition (checked as in TransitionPayment), and the
	// ledger entry when not nil. ECONFLICT with nothing changed when the
	// gateway's event was already recorded: a repeated delivery.
	RecordGatewayEvent(ctx context.Context, gateway string, ev GatewayEvent, p *Payment, from, reason string, entry *LedgerEntry) error
}

// MaxIDTag is the longest OCPP 1.6 idTag (a CiString20).
const MaxIDTag = 20

// AdHocWindow is how long an ad-hoc payment waits for its session: the
// guest token the pay page makes expires then, and the payment worker
// releases a hold that no session claimed by then.
const AdHocWindow = 15 * time.Minute

// CheckNew reports, as an EINVALID error, the first rule a payment about
// to be created breaks, and fills its defaults: the purpose (a session's
// payment unless said otherwise) and a fresh payment's state and amounts.
func (p *Payment) CheckNew() error {
	if p.TenantID == "" || p.Gateway == "" || p.Currency == "" {
		return Errorf(EINVALID, "a payment needs its tenant_id, gateway and currency")
	}
	if p.HoldAmount <= 0 {
		return Errorf(EINVALID, "hold_amount must be positive, not %d", p.HoldAmount)
	}
	if p.Purpose == "" {
		p.Purpose = PurposeSession
	}
	switch {
	case p.Purpose == PurposeTopUp && (p.SessionID != "" || p.DriverID == ""):
		return Errorf(EINVALID, "a top-up is of a driver's wallet, not of a session")
	case p.Purpose == PurposeSession && p.SiteID == "":
		return Errorf(EINVALID, "site_id is required: a session's payment is revenue of its site")
	case p.Purpose != PurposeSession && p.Purpose != PurposeTopUp:
		return Errorf(EINVALID, "purpose %q is not session or topup", p.Purpose)
	case p.IDTag != "" && (p.Purpose != PurposeSession || p.SessionID != "" || p.DriverID != ""):
		// The guest's card is taken before the charger starts: the session
		// comes later, by its idTag, and a guest is nobody's driver.
		return Errorf(EINVALID, "an ad-hoc payment (id_tag) is a session's, made before the session and without a driver")
	case len(p.IDTag) > MaxIDTag:
		return Errorf(EINVALID, "id_tag %q is longer than OCPP's %d characters", p.IDTag, MaxIDTag)
	case p.Purpose == PurposeSession && p.SessionID == "" && p.IDTag == "":
		return Errorf(EINVALID, "a session's payment needs its session_id, or the id_tag by which its session will claim it")
	}
	p.State, p.Attempts, p.CaptureAmount, p.CaptureNet, p.Captured, p.Refunded = PaymentHoldPending, 0, 0, 0, 0, 0
	return nil
}

// CheckRefund reports whether a refund of amount fits the payment p, of
// which given is already refunded or being refunded: EINVALID unless p is
// captured (wholly or partly refunded), ECONFLICT beyond the capture.
func CheckRefund(p Payment, given, amount int64) error {
	if p.State != PaymentCaptured && p.State != PaymentPartiallyRefunded {
		return Errorf(EINVALID, "payment %q is %s: only a captured payment is refunded", p.ID, p.State)
	}
	if given+amount > p.Captured {
		return Errorf(ECONFLICT, "a refund of %d would exceed the capture of %d: %d is refunded or being refunded", amount, p.Captured, given)
	}
	return nil
}

// AfterRefund returns p once amount more of it has gone back: partially
// refunded, or refunded when nothing of the capture is left.
func (p Payment) AfterRefund(amount int64) Payment {
	p.Refunded += amount
	p.State = PaymentPartiallyRefunded
	if p.Refunded == p.Captured {
		p.State = PaymentRefunded
	}
	return p
}
