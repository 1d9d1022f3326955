package stripe

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/internal/timedhmac"
)

// WebhookTolerance is how far the timestamp Stripe signs with a
// notification may be from the time ParseWebhook is given, either way. It
// is Stripe's own default: a captured notification replayed later than
// that is refused even though its signature is genuine.
const WebhookTolerance = 300 * time.Second

// SignatureHeader is the header Stripe signs its notifications in.
const SignatureHeader = "Stripe-Signature"

// ParseWebhook verifies the Stripe-Signature of body as of now and returns
// the event it carries, in evbill's terms.
//
// The signature is checked here rather than by stripe-go, which reads the
// clock itself and also refuses events of another API version than its
// own; evbill passes the time so tests and replays are exact, and reads
// only a few long-standing fields, so an endpoint pinned to another API
// version still parses. A genuine notification of a kind evbill has no
// use for comes back as GatewayEventIgnored, so the handler can
// acknowledge it and Stripe stops resending it.
//
// Stripe's events map as follows; Reference is always the PaymentIntent
// (a charge's, a refund's or a dispute's payment_intent), and an event
// without one is ignored:
//
//   - payment_intent.succeeded: payment.captured, Amount the amount received
//   - payment_intent.canceled: payment.released, or hold.expired when Stripe
//     canceled it itself (cancellation_reason automatic)
//   - payment_intent.payment_failed: payment.failed
//   - charge.refunded: payment.refunded, Amount what this refund added to
//     the charge's amount_refunded
//   - refund.created with status succeeded, refund.updated to succeeded:
//     payment.refunded, Amount the refund's
//   - charge.dispute.created: dispute.opened, except for inquiries
//     (warning_* statuses), which take nothing back
//   - charge.dispute.closed won or lost: dispute.closed with that status
//
// Both dispute events name the dispute (Dispute, its dp_… ID), which
// evbill keys the chargeback's ledger entries by: Stripe may deliver the
// closing before the opening, or either twice.
//   - anything else, payment_intent.amount_capturable_updated included
//     (Hold's own answer tells evbill of a hold): ignored
//
// charge.refunded and the refund.* events report the same refund, so a
// webhook endpoint should be subscribed to one family, not both, or evbill
// is told of each refund twice.
func (g *Gateway) ParseWebhook(header http.Header, body []byte, now time.Time) (evbill.GatewayEvent, error) {
	if err := verifySignature(header.Get(SignatureHeader), body, g.webhookSecret, now); err != nil {
		return evbill.GatewayEvent{}, err
	}
	return parseEvent(body)
}

// verifySignature checks Stripe's v1 scheme (see package timedhmac) and
// words a refusal with Stripe's codes.
func verifySignature(header string, body []byte, secret string, now time.Time) error {
	if secret == "" {
		// An empty key would let anyone sign.
		return rejected("webhook_secret_unset", "no webhook signing secret is configured")
	}
	err := timedhmac.Verify(header, body, []byte(secret), now, WebhookTolerance)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, timedhmac.ErrMissing):
		return rejected("signature_missing", "no "+SignatureHeader+" header")
	case errors.Is(err, timedhmac.ErrMalformed):
		return rejected("signature_header_invalid", "the "+SignatureHeader+" header: "+err.Error())
	case errors.Is(err, timedhmac.ErrMismatch):
		return rejected("signature_invalid", "no "+SignatureHeader+" signature matches the body")
	}
	return rejected("timestamp_out_of_tolerance", err.Error())
}

// event is the part of a Stripe event evbill reads.
type event struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Object   object   `json:"object"`
		Previous previous `json:"previous_attributes"`
	} `json:"data"`
}

// object holds the fields evbill reads from a PaymentIntent, a Charge, a
// Refund or a Dispute, the objects its events carry.
type object struct {
	ID                 string `json:"id"`
	Object             string `json:"object"`
	Amount             int64  `json:"amount"`
	AmountReceived     int64  `json:"amount_received"`
	AmountRefunded     int64  `json:"amount_refunded"`
	Currency           string `json:"currency"`
	Status             string `json:"status"`
	CancellationReason string `json:"cancellation_reason"`
	PaymentIntent      idRef  `json:"payment_intent"`
}

// previous holds the values an update replaced, as far as evbill reads
// them; nil where the update did not change the field.
type previous struct {
	AmountRefunded *int64  `json:"amount_refunded"`
	Status         *string `json:"status"`
}

// idRef is a reference Stripe sends either as an ID or, expanded, as the
// object itself.
type idRef string

// UnmarshalJSON accepts an ID, an object with an id, or null.
func (r *idRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*r = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = idRef(s)
		return nil
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*r = idRef(o.ID)
	return nil
}

// parseEvent maps a verified Stripe event to evbill's event. Each Stripe
// event becomes at most one evbill event, and an event that moves no money
// for evbill, or is about a payment evbill did not make (no PaymentIntent),
// is ignored.
func parseEvent(body []byte) (evbill.GatewayEvent, error) {
	var e event
	if err := json.Unmarshal(body, &e); err != nil {
		return evbill.GatewayEvent{}, &evbill.GatewayError{Outcome: evbill.OutcomeRejected, Code: "payload_invalid", Message: "the signed body is not a Stripe event: " + err.Error(), Err: err}
	}
	if e.ID == "" || e.Type == "" {
		return evbill.GatewayEvent{}, rejected("payload_invalid", "the signed body has no event id or type")
	}
	ev := evbill.GatewayEvent{
		ID:        e.ID,
		Type:      evbill.GatewayEventIgnored,
		CreatedAt: time.Unix(e.Created, 0).UTC(),
		Raw:       bytes.Clone(body),
	}
	o, prev := e.Data.Object, e.Data.Previous
	var ref string
	switch e.Type {
	case "payment_intent.succeeded":
		ev.Type, ref, ev.Amount = evbill.GatewayEventCaptured, o.ID, o.AmountReceived
	case "payment_intent.canceled":
		ev.Type, ref, ev.Amount = evbill.GatewayEventReleased, o.ID, o.Amount
		if o.CancellationReason == "automatic" {
			// Stripe canceled it because the authorization ran out.
			ev.Type = evbill.GatewayEventHoldExpired
		}
	case "payment_intent.payment_failed":
		ev.Type, ref, ev.Amount = evbill.GatewayEventPaymentFailed, o.ID, o.Amount
	case "charge.refunded":
		// amount_refunded is the total so far; this refund is what it
		// grew by. Without the previous value, the total is the best
		// figure there is.
		ev.Type, ref, ev.Amount = evbill.GatewayEventRefunded, string(o.PaymentIntent), o.AmountRefunded
		if prev.AmountRefunded != nil {
			ev.Amount = o.AmountRefunded - *prev.AmountRefunded
		}
	case "refund.created":
		// A pending refund is not a confirmed one; its refund.updated to
		// succeeded will be.
		if o.Status == "succeeded" {
			ev.Type, ref, ev.Amount = evbill.GatewayEventRefunded, string(o.PaymentIntent), o.Amount
		}
	case "refund.updated":
		// Only the update that made it succeed: a refund is also updated
		// for its metadata, and must be confirmed once.
		if o.Status == "succeeded" && prev.Status != nil && *prev.Status != "succeeded" {
			ev.Type, ref, ev.Amount = evbill.GatewayEventRefunded, string(o.PaymentIntent), o.Amount
		}
	case "charge.dispute.created":
		// warning_* statuses are inquiries: nothing has been taken back.
		if !strings.HasPrefix(o.Status, "warning_") {
			ev.Type, ref, ev.Amount, ev.Dispute = evbill.GatewayEventDisputeOpened, string(o.PaymentIntent), o.Amount, o.ID
		}
	case "charge.dispute.closed":
		switch o.Status {
		case "won":
			ev.Type, ref, ev.Amount, ev.DisputeStatus, ev.Dispute = evbill.GatewayEventDisputeClosed, string(o.PaymentIntent), o.Amount, evbill.GatewayDisputeWon, o.ID
		case "lost":
			ev.Type, ref, ev.Amount, ev.DisputeStatus, ev.Dispute = evbill.GatewayEventDisputeClosed, string(o.PaymentIntent), o.Amount, evbill.GatewayDisputeLost, o.ID
		}
		// warning_closed: an inquiry closed without a chargeback.
	}
	if ev.Type == evbill.GatewayEventIgnored || ref == "" {
		return evbill.GatewayEvent{ID: ev.ID, Type: evbill.GatewayEventIgnored, CreatedAt: ev.CreatedAt, Raw: ev.Raw}, nil
	}
	ev.Reference = ref
	ev.Currency = strings.ToUpper(o.Currency)
	return ev, nil
}
