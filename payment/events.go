package payment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

// EventStore is what HandleEvent needs of a store: the payment and its
// record of gateway events, the ledger, to see which of a dispute's
// entries are posted, and the sessions, to flag the disputed one.
type EventStore interface {
	evbill.PaymentStore
	evbill.LedgerStore
	evbill.SessionStore
}

// Payment codes (FailureCode) a dispute leaves on its payment, furthest
// last: a payment shows the furthest its disputes are known to have gone.
// They are the same words as the session flags.
const (
	CodeChargeback     = evbill.FlagChargeback
	CodeChargebackWon  = evbill.FlagChargebackWon
	CodeChargebackLost = evbill.FlagChargebackLost
)

// maxEventAttempts bounds how often HandleEvent decides again after the
// store refused what it decided because another delivery got there first.
const maxEventAttempts = 3

// HandleEvent applies a verified gateway event to its payment and records
// the event with it, once, with the same outcome whatever order a
// gateway delivers a payment's events in and however often. Gateways
// promise neither order nor a single delivery: Stripe may send a
// dispute's closing before its opening, or one event twice at once, and
// the worker's own record of a capture may come after the gateway's
// confirmation of it. The rules:
//
//   - hold.expired releases a payment that is still held. A payment no
//     longer held (captured, released, or being captured or released) is
//     not moved: the worker's capture or release already says what became
//     of the hold, and a capture it is making fails on the lapsed hold by
//     itself. The event is recorded only.
//   - payment.captured, payment.released, payment.refunded and
//     payment.failed confirm, or foretell, what the worker records from
//     its own call's answer; they are recorded only, so one that arrives
//     before that record changes nothing.
//   - Money of a dispute is keyed by the dispute (the gateway's dispute ID,
//     or the payment when the gateway names none), never by the event: an
//     event ID tells a repeated delivery, not a second notification of the
//     same dispute.
//   - dispute.opened posts the chargeback, "dispute:<gateway>:<dispute>",
//     of the amount taken back; if that entry is there already (a second
//     opening, or the closing came first and posted it) it posts nothing.
//   - dispute.closed won posts the opening first when it is not there (the
//     money was taken back before it came back, whichever was heard
//     first), then the return, "dispute_won:<gateway>:<dispute>", of
//     exactly what the opening took, so the two always cancel out.
//   - dispute.closed lost posts the opening when it is not there, and
//     nothing more: the money stays taken.
//   - Every dispute event flags the payment's session chargeback, and a
//     closing chargeback_won or chargeback_lost, and sets the payment's
//     FailureCode to the furthest known (CodeChargebackLost, else
//     CodeChargebackWon, else CodeChargeback), for an operator to see; it
//     replaces a code of another kind (exceeds_hold), which the payment's
//     log keeps. Flags are only ever added, so the set is the same in any
//     order.
//   - A dispute event without an amount moves no money and is only
//     marked. The order does not matter as long as a dispute's events
//     carry its amount, as Stripe's and the sandbox's do: a closing without
//     one, heard first, would leave nothing for the opening to find.
//
// The money and the record of the event are one transaction; the marks
// follow and are made again by every delivery, so a failure between the
// two is mended by the gateway's next delivery of the event. An event
// about no payment of evbill's is acknowledged and changes nothing.
func HandleEvent(ctx context.Context, store EventStore, gateway string, ev evbill.GatewayEvent, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if ev.Type == evbill.GatewayEventIgnored || ev.Reference == "" {
		return nil
	}
	p, err := store.PaymentByReference(ctx, gateway, ev.Reference)
	if evbill.ErrorCode(err) == evbill.ENOTFOUND {
		log.Warn("gateway event about an unknown payment", "gateway", gateway, "event", ev.ID, "type", ev.Type, "reference", ev.Reference)
		return nil
	}
	if err != nil {
		return err
	}
	if ev.Currency != "" && ev.Currency != p.Currency {
		// Posted in the payment's currency all the same: a gateway reports
		// a dispute in the currency of the charge.
		log.Warn("gateway event in another currency than its payment", "gateway", gateway, "event", ev.ID, "currency", ev.Currency, "payment", p.ID, "payment_currency", p.Currency)
	}
	h := eventHandler{store: store, gateway: gateway, ev: ev, log: log,
		reason: "gateway event " + ev.Type + " " + ev.ID, dispute: disputeOf(gateway, ev, p)}
	if err := h.record(ctx, p); err != nil {
		return err
	}
	if isDispute(ev.Type) {
		return h.mark(ctx, p)
	}
	return nil
}

// eventHandler applies one event.
type eventHandler struct {
	store   EventStore
	gateway string
	ev      evbill.GatewayEvent
	log     *slog.Logger
	reason  string // for the payment's log
	dispute string // the dispute's identity in ledger keys
}

func isDispute(typ string) bool {
	return typ == evbill.GatewayEventDisputeOpened || typ == evbill.GatewayEventDisputeClosed
}

// disputeOf is the identity a dispute's ledger entries are keyed by: the
// gateway's dispute ID, with the gateway's name since two gateways' IDs
// could meet in one tenant's ledger; or, from a gateway that names no
// dispute, the payment, of which there is then one dispute.
func disputeOf(gateway string, ev evbill.GatewayEvent, p evbill.Payment) string {
	if ev.Dispute == "" {
		return p.ID
	}
	return gateway + ":" + ev.Dispute
}

// record decides what the event changes, from what is stored now, and
// records the event with it. When the store refuses because another
// delivery moved the payment or posted the entry meanwhile, it decides
// again on what that delivery left, so the event is still recorded, and
// with nothing done twice; a refusal of a decision that changes nothing
// is the event itself recorded before.
func (h *eventHandler) record(ctx context.Context, p evbill.Payment) error {
	for attempt := 1; ; attempt++ {
		next, entry, err := h.decide(ctx, p)
		if err != nil {
			return err
		}
		from := p.State
		err = h.store.RecordGatewayEvent(ctx, h.gateway, h.ev, &next, from, h.reason, entry)
		switch {
		case err == nil:
			h.log.Info("gateway event applied", "gateway", h.gateway, "event", h.ev.ID, "type", h.ev.Type, "payment", p.ID,
				"state", next.State, "entry", entryKey(entry))
			return nil
		case evbill.ErrorCode(err) != evbill.ECONFLICT:
			return err
		case (entry != nil || next.State != from) && attempt < maxEventAttempts:
			if p, err = h.store.Payment(ctx, p.TenantID, p.ID); err != nil {
				return err
			}
			continue
		}
		h.log.Info("gateway event already recorded", "gateway", h.gateway, "event", h.ev.ID, "type", h.ev.Type, "payment", p.ID, "err", err)
		return nil
	}
}

func entryKey(e *evbill.LedgerEntry) string {
	if e == nil {
		return ""
	}
	return e.Key
}

// decide returns the payment as the event leaves it and the ledger entry
// to post with the event's record, by the rules of HandleEvent. A won
// dispute whose opening is not posted posts it here, on its own: keyed
// by the dispute, it is posted once however many deliveries try.
func (h *eventHandler) decide(ctx context.Context, p evbill.Payment) (evbill.Payment, *evbill.LedgerEntry, error) {
	next := p
	switch h.ev.Type {
	case evbill.GatewayEventHoldExpired:
		if p.State == evbill.PaymentHeld {
			next.State, next.FailureCode = evbill.PaymentReleased, "hold_expired"
		}
		return next, nil, nil
	case evbill.GatewayEventDisputeOpened:
		if h.ev.Amount <= 0 {
			return next, nil, nil
		}
		_, opened, err := h.opening(ctx, p)
		if err != nil || opened {
			return next, nil, err
		}
		e, err := h.openingEntry(p)
		return next, e, err
	case evbill.GatewayEventDisputeClosed:
		taken, opened, err := h.opening(ctx, p)
		if err != nil {
			return next, nil, err
		}
		if !opened && h.ev.Amount <= 0 {
			return next, nil, nil // nothing was taken that we know of, and nothing to take
		}
		if h.ev.DisputeStatus != evbill.GatewayDisputeWon {
			// Lost: the money stays where the opening put it.
			if opened {
				return next, nil, nil
			}
			e, err := h.openingEntry(p)
			return next, e, err
		}
		if !opened {
			if taken, err = h.postOpening(ctx, p); err != nil {
				return next, nil, err
			}
		}
		if _, err := h.store.LedgerEntryByKey(ctx, p.TenantID, wonKey(h.dispute)); err == nil {
			return next, nil, nil
		} else if evbill.ErrorCode(err) != evbill.ENOTFOUND {
			return next, nil, err
		}
		if h.ev.Amount > 0 && h.ev.Amount != taken {
			h.log.Warn("a won dispute returns another amount than its opening took; the ledger returns what it took",
				"gateway", h.gateway, "event", h.ev.ID, "dispute", h.dispute, "taken", taken, "returned", h.ev.Amount)
		}
		e, err := ledger.DisputeWon(p.TenantID, h.dispute, h.gateway, p.Currency, taken)
		if err != nil {
			return next, nil, err
		}
		h.describe(&e, p)
		return next, &e, nil
	}
	return next, nil, nil
}

// opening returns the amount the dispute's posted opening took back, and
// whether it is posted.
func (h *eventHandler) opening(ctx context.Context, p evbill.Payment) (int64, bool, error) {
	e, err := h.store.LedgerEntryByKey(ctx, p.TenantID, openingKey(h.dispute))
	switch evbill.ErrorCode(err) {
	case "":
	case evbill.ENOTFOUND:
		return 0, false, nil
	default:
		return 0, false, err
	}
	for _, ps := range e.Postings {
		if ps.Account == ledger.Chargebacks && ps.Amount > 0 {
			return ps.Amount, true, nil
		}
	}
	return 0, false, evbill.Errorf(evbill.EINTERNAL, "ledger entry %q takes nothing back into %s", e.Key, ledger.Chargebacks)
}

// postOpening posts the dispute's opening on its own, for a closing that
// came before it, and returns what it took: the event's amount, or, when
// another delivery posted it first, what that one took.
func (h *eventHandler) postOpening(ctx context.Context, p evbill.Payment) (int64, error) {
	e, err := h.openingEntry(p)
	if err != nil {
		return 0, err
	}
	err = h.store.PostEntry(ctx, e)
	if evbill.ErrorCode(err) == evbill.ECONFLICT {
		taken, opened, err := h.opening(ctx, p)
		if err == nil && !opened {
			err = evbill.Errorf(evbill.EINTERNAL, "ledger entry %q was refused as posted before, and is not there", e.Key)
		}
		return taken, err
	}
	if err != nil {
		return 0, err
	}
	h.log.Info("dispute closed before its opening was heard: opening posted", "gateway", h.gateway, "event", h.ev.ID, "dispute", h.dispute, "payment", p.ID)
	return h.ev.Amount, nil
}

func (h *eventHandler) openingEntry(p evbill.Payment) (*evbill.LedgerEntry, error) {
	e, err := ledger.DisputeOpened(p.TenantID, h.dispute, h.gateway, p.Currency, h.ev.Amount)
	if err != nil {
		return nil, err
	}
	h.describe(&e, p)
	return &e, nil
}

// describe points a dispute's entry at its payment, where the ledger
// package points it at the dispute: an operator reading the ledger looks
// for the payment, and the key already names the dispute. It also puts
// the postings in the order of their accounts, as each posting locks its
// account's balance: an opening and a return posted at once by two
// deliveries then lock in the same order, and cannot deadlock.
func (h *eventHandler) describe(e *evbill.LedgerEntry, p evbill.Payment) {
	e.Reference = p.ID
	e.Description = fmt.Sprintf("%s dispute %s of payment %s (event %s)", h.gateway, h.disputeName(), p.ID, h.ev.ID)
	slices.SortFunc(e.Postings, func(a, b evbill.Posting) int { return strings.Compare(a.Account, b.Account) })
}

func (h *eventHandler) disputeName() string {
	if h.ev.Dispute == "" {
		return "(unnamed)"
	}
	return h.ev.Dispute
}

// The keys ledger.DisputeOpened and ledger.DisputeWon give a dispute's
// entries.
func openingKey(dispute string) string { return "dispute:" + dispute }
func wonKey(dispute string) string     { return "dispute_won:" + dispute }

// mark flags the session and sets the payment's code by the rules of
// HandleEvent. Flags are added in one statement each, so they are a set
// that concurrent deliveries only grow. The payment's code is the
// furthest the session's flags say; written after reading them, it could
// be overwritten by a delivery that read fewer, so mark reads again after
// writing and writes again until code and flags agree: the last writer
// has then seen every flag added before it wrote. A payment without a
// session (a top-up) has no flags to agree with and is raised to the
// event's code, never lowered.
func (h *eventHandler) mark(ctx context.Context, p evbill.Payment) error {
	flags := []string{evbill.FlagChargeback}
	switch h.ev.DisputeStatus {
	case evbill.GatewayDisputeWon:
		flags = append(flags, evbill.FlagChargebackWon)
	case evbill.GatewayDisputeLost:
		flags = append(flags, evbill.FlagChargebackLost)
	}
	if h.ev.Type == evbill.GatewayEventDisputeOpened {
		flags = flags[:1] // a closing status on an opening is noise
	}
	reason := h.reason + " (dispute " + h.disputeName() + ")"
	if p.SessionID == "" {
		code := disputeCode(flags)
		if codeRank(p.FailureCode) >= codeRank(code) {
			return nil
		}
		return h.store.FlagPayment(ctx, p.TenantID, p.ID, code, reason)
	}
	for _, f := range flags {
		if err := h.store.FlagSession(ctx, p.TenantID, p.SessionID, f); err != nil {
			return err
		}
	}
	for range maxMarkRounds {
		s, err := h.store.Session(ctx, p.TenantID, p.SessionID)
		if err != nil {
			return err
		}
		code := disputeCode(s.Flags)
		if code == "" {
			// The charging path replaced a running session's flags; a
			// disputed session has ended, so this is no dispute of ours.
			return nil
		}
		cur, err := h.store.Payment(ctx, p.TenantID, p.ID)
		if err != nil {
			return err
		}
		if cur.FailureCode == code {
			return nil
		}
		if err := h.store.FlagPayment(ctx, p.TenantID, p.ID, code, reason); err != nil {
			return err
		}
	}
	h.log.Warn("the payment's dispute code kept changing under concurrent deliveries; left as the last one wrote it",
		"gateway", h.gateway, "event", h.ev.ID, "payment", p.ID)
	return nil
}

// maxMarkRounds bounds mark's writes: each round that writes follows a
// concurrent delivery's flag, of which a dispute has at most three.
const maxMarkRounds = 5

// disputeCode is the furthest dispute code the flags say, "" for none.
func disputeCode(flags []string) string {
	code := ""
	for _, f := range flags {
		if codeRank(f) > codeRank(code) {
			code = f
		}
	}
	return code
}

// codeRank orders dispute codes by how far a dispute went; a code that is
// no dispute's ranks 0, below all of them.
func codeRank(code string) int {
	return slices.Index([]string{CodeChargeback, CodeChargebackWon, CodeChargebackLost}, code) + 1
}

// maxWebhookBody bounds a gateway notification; real ones are a few KiB.
const maxWebhookBody = 1 << 20

// Webhooks serves POST /webhooks/{gateway}: it verifies a gateway's
// notification with that gateway's own scheme and applies it
// (HandleEvent). A bad signature is 400 and changes nothing; a failure to
// apply it is 500, so that the gateway delivers it again.
type Webhooks struct {
	Store    EventStore
	Gateways map[string]evbill.Gateway
	Log      *slog.Logger
	// Now is the clock signatures are checked against; time.Now when nil.
	Now func() time.Time
}

// ServeHTTP handles one notification.
func (h *Webhooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	name := r.PathValue("gateway")
	gw := h.Gateways[name]
	if gw == nil {
		http.Error(w, "no such payment gateway", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		http.Error(w, "unreadable or too large body", http.StatusBadRequest)
		return
	}
	ev, err := gw.ParseWebhook(r.Header, body, now())
	if err != nil {
		var gerr *evbill.GatewayError
		if errors.As(err, &gerr) {
			log.Warn("refused a gateway notification", "gateway", name, "code", gerr.Code, "err", err)
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := HandleEvent(r.Context(), h.Store, name, ev, log); err != nil {
		log.Error("applying a gateway event", "gateway", name, "event", ev.ID, "err", err)
		http.Error(w, "the event could not be applied; deliver it again", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}
