// Package stripe is evbill's payment gateway over Stripe: a hold is a
// PaymentIntent confirmed with manual capture, a capture captures it, a
// release cancels it, a refund is a Refund of it, and Stripe's webhooks are
// verified and translated into evbill's gateway events.
//
// Only cards are held: a charging session needs an authorization that can
// be captured for a different, smaller amount later, which is what cards
// offer and redirect-based payment methods do not.
//
// Amounts cross this package as integer minor units and are sent to Stripe
// as such; currencies are upper case in evbill's records and lower case on
// Stripe's wire.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/evbill/evbill"
)

// DefaultBackendURL is Stripe's live API, used when Config.BackendURL is
// empty; tests point the gateway at stripe-mock or a stub instead.
const DefaultBackendURL = "https://api.stripe.com"

// DefaultTimeout bounds one HTTP attempt when Config.Timeout is zero and
// the HTTP client has no timeout of its own. It is shorter than stripe-go's
// 80 s so that a stuck attempt is abandoned and retried (with the same
// idempotency key) while the driver is still standing at the charger.
const DefaultTimeout = 30 * time.Second

// maxNetworkRetries is how many times stripe-go repeats a request after a
// connection error, a timed-out attempt or a 409/5xx without a Stripe error
// body. stripe-go sends the same Idempotency-Key on every attempt, so a
// repeat cannot move money twice; two repeats cover a dropped connection
// without holding the caller for long.
const maxNetworkRetries = 2

// maxIdempotencyKey is Stripe's limit on an Idempotency-Key; stripe-go
// refuses a longer one with an error that would otherwise look like a
// network failure.
const maxIdempotencyKey = 255

// maxMetadataValue is Stripe's limit on one metadata value, in characters.
const maxMetadataValue = 500

// Config is what New needs to talk to one Stripe account.
type Config struct {
	// SecretKey is the account's secret API key (sk_live_… or sk_test_…,
	// or a restricted key allowed PaymentIntents, Refunds, Customers and
	// SetupIntents).
	SecretKey string
	// WebhookSecret is the signing secret (whsec_…) of the webhook
	// endpoint whose notifications ParseWebhook verifies; without it every
	// notification is rejected.
	WebhookSecret string
	// BackendURL is the API's base URL, DefaultBackendURL when empty.
	BackendURL string
	// HTTPClient makes the requests; a copy is used, so the caller's
	// client is never modified. Nil means a fresh client on Go's default
	// transport.
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt, not the whole call: stripe-go
	// retries an attempt that timed out. Zero means the HTTP client's own
	// timeout, or DefaultTimeout if it has none. A caller bounds the whole
	// call, retries included, with its context.
	Timeout time.Duration
}

// Gateway is an evbill.Gateway on one Stripe account. It is safe for
// concurrent use.
type Gateway struct {
	client        *stripego.Client
	backend       stripego.Backend
	webhookSecret string
}

var _ evbill.Gateway = (*Gateway)(nil)

// New returns a Gateway for cfg. It makes no request: a wrong key shows on
// the first call, as an OutcomeRejected error.
func New(cfg Config) (*Gateway, error) {
	if strings.TrimSpace(cfg.SecretKey) == "" {
		return nil, errors.New("stripe: Config.SecretKey is required")
	}
	base := cfg.BackendURL
	if base == "" {
		base = DefaultBackendURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("stripe: Config.BackendURL %q is not an http(s) URL", base)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("stripe: Config.Timeout %v is negative", cfg.Timeout)
	}
	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	switch {
	case cfg.Timeout > 0:
		hc.Timeout = cfg.Timeout
	case hc.Timeout == 0:
		hc.Timeout = DefaultTimeout
	}
	backend := stripego.GetBackendWithConfig(stripego.APIBackend, &stripego.BackendConfig{
		HTTPClient: &hc,
		// Every failure is returned to the caller, classified; stripe-go's
		// own logging would repeat it on stderr, outside evbill's logs.
		LeveledLogger:     &stripego.LeveledLogger{Level: stripego.LevelNull},
		MaxNetworkRetries: stripego.Int64(maxNetworkRetries),
		URL:               stripego.String(strings.TrimRight(base, "/")),
	})
	// Only the API backend is used: uploads, Connect OAuth and meter
	// events are not part of a payment gateway.
	client := stripego.NewClient(cfg.SecretKey, stripego.WithBackends(&stripego.Backends{API: backend}))
	return &Gateway{client: client, backend: backend, webhookSecret: cfg.WebhookSecret}, nil
}

// Name returns "stripe", the name evbill records with each payment.
func (g *Gateway) Name() string { return "stripe" }

// Hold creates and confirms a PaymentIntent with manual capture, so the
// card is authorized for r.Amount and nothing is taken until Capture.
//
// With r.Customer set the card is a saved one and the driver is not
// present, so the hold is made off-session: a card that would need 3-D
// Secure is declined (authentication_required) instead of waiting for a
// challenge nobody will answer. A one-off card that asks for 3-D Secure
// leaves the PaymentIntent in requires_action, which is also a decline
// here, code requires_action.
func (g *Gateway) Hold(ctx context.Context, r evbill.HoldRequest) (evbill.GatewayPayment, error) {
	if err := checkKey(r.IdempotencyKey); err != nil {
		return evbill.GatewayPayment{}, err
	}
	if r.Amount <= 0 {
		return evbill.GatewayPayment{}, rejected("invalid_amount", fmt.Sprintf("hold amount %d is not positive", r.Amount))
	}
	if r.PaymentMethod == "" {
		return evbill.GatewayPayment{}, rejected("payment_method_missing", "a hold needs a payment method")
	}
	p := &stripego.PaymentIntentCreateParams{
		Amount:        stripego.Int64(r.Amount),
		Currency:      stripego.String(strings.ToLower(r.Currency)),
		CaptureMethod: stripego.String(string(stripego.PaymentIntentCaptureMethodManual)),
		Confirm:       stripego.Bool(true),
		PaymentMethod: stripego.String(r.PaymentMethod),
		// Naming the card type keeps Stripe from enabling automatic
		// payment methods, which would demand a return_url for redirects
		// evbill never makes.
		PaymentMethodTypes: []*string{stripego.String("card")},
	}
	if r.Customer != "" {
		p.Customer = stripego.String(r.Customer)
		p.OffSession = stripego.Bool(true)
	}
	if r.Description != "" {
		p.Description = stripego.String(r.Description)
	}
	for k, v := range r.Metadata {
		p.AddMetadata(k, v)
	}
	// The charge carries capture_before, the end of the authorization.
	p.AddExpand("latest_charge")
	p.IdempotencyKey = stripego.String(r.IdempotencyKey)

	pi, err := g.client.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return evbill.GatewayPayment{}, mapError(err)
	}
	gp, ok := payment(pi)
	if ok {
		return gp, nil
	}
	return evbill.GatewayPayment{}, holdNotPlaced(pi)
}

// holdNotPlaced explains a PaymentIntent that Stripe accepted but did not
// authorize.
func holdNotPlaced(pi *stripego.PaymentIntent) error {
	switch pi.Status {
	case stripego.PaymentIntentStatusRequiresAction:
		return &evbill.GatewayError{
			Outcome: evbill.OutcomeDeclined,
			Code:    "requires_action",
			Message: fmt.Sprintf("Stripe needs the cardholder to authenticate PaymentIntent %s (3-D Secure), which a hold at the charger cannot ask for", pi.ID),
		}
	case stripego.PaymentIntentStatusProcessing:
		// The authorization is still on its way: it may yet succeed, and a
		// repeat with the same key is answered from Stripe's cache, so the
		// webhooks settle it.
		return &evbill.GatewayError{
			Outcome: evbill.OutcomeUnknown,
			Code:    "processing",
			Message: fmt.Sprintf("Stripe is still processing PaymentIntent %s", pi.ID),
		}
	}
	code := string(pi.Status)
	msg := fmt.Sprintf("Stripe left PaymentIntent %s in status %s", pi.ID, pi.Status)
	if e := pi.LastPaymentError; e != nil {
		if c := declineCode(e); c != "" {
			code = c
		}
		if e.Msg != "" {
			msg += ": " + e.Msg
		}
	}
	return &evbill.GatewayError{Outcome: evbill.OutcomeDeclined, Code: code, Message: msg}
}

// Capture captures r.Amount of the hold; Stripe releases the rest of the
// authorization at once. The amount is always sent: a capture without one
// would take the whole hold.
func (g *Gateway) Capture(ctx context.Context, r evbill.CaptureRequest) (evbill.GatewayPayment, error) {
	if err := checkKey(r.IdempotencyKey); err != nil {
		return evbill.GatewayPayment{}, err
	}
	if err := checkReference(r.Reference); err != nil {
		return evbill.GatewayPayment{}, err
	}
	if r.Amount <= 0 {
		return evbill.GatewayPayment{}, rejected("invalid_amount", fmt.Sprintf("capture amount %d is not positive: release the hold instead", r.Amount))
	}
	p := &stripego.PaymentIntentCaptureParams{AmountToCapture: stripego.Int64(r.Amount)}
	p.IdempotencyKey = stripego.String(r.IdempotencyKey)
	pi, err := g.client.V1PaymentIntents.Capture(ctx, r.Reference, p)
	if err != nil {
		var se *stripego.Error
		if errors.As(err, &se) && se.PaymentIntent != nil && se.PaymentIntent.Status == stripego.PaymentIntentStatusCanceled {
			// The hold is gone (expired, or released): the processor
			// refuses, and a repeat would be refused too.
			return evbill.GatewayPayment{}, &evbill.GatewayError{
				Outcome: evbill.OutcomeDeclined,
				Code:    string(se.Code),
				Message: fmt.Sprintf("PaymentIntent %s is canceled (%s): %s", se.PaymentIntent.ID, cancelReason(se.PaymentIntent), se.Msg),
				Err:     redact(se),
			}
		}
		return evbill.GatewayPayment{}, mapError(err)
	}
	return settled(pi, "capture")
}

// Release cancels the hold. A hold that Stripe already canceled (it
// expired, or an earlier release went through under another key) is
// released all the same, so the answer is the same as for a first release.
func (g *Gateway) Release(ctx context.Context, r evbill.ReleaseRequest) (evbill.GatewayPayment, error) {
	if err := checkReference(r.Reference); err != nil {
		return evbill.GatewayPayment{}, err
	}
	if len(strings.TrimSpace(r.IdempotencyKey)) > maxIdempotencyKey {
		return evbill.GatewayPayment{}, rejected("idempotency_key_too_long", fmt.Sprintf("idempotency key longer than %d characters", maxIdempotencyKey))
	}
	p := &stripego.PaymentIntentCancelParams{}
	if r.IdempotencyKey != "" {
		p.IdempotencyKey = stripego.String(r.IdempotencyKey)
	}
	pi, err := g.client.V1PaymentIntents.Cancel(ctx, r.Reference, p)
	if err != nil {
		var se *stripego.Error
		if errors.As(err, &se) && se.PaymentIntent != nil && se.PaymentIntent.Status == stripego.PaymentIntentStatusCanceled {
			if gp, ok := payment(se.PaymentIntent); ok {
				return gp, nil
			}
		}
		return evbill.GatewayPayment{}, mapError(err)
	}
	return settled(pi, "release")
}

// settled maps the PaymentIntent a capture or a release returned. Another
// status (processing, most likely) means Stripe has not finished: the
// caller repeats with the same key or waits for the webhook.
func settled(pi *stripego.PaymentIntent, call string) (evbill.GatewayPayment, error) {
	if gp, ok := payment(pi); ok {
		return gp, nil
	}
	return evbill.GatewayPayment{}, &evbill.GatewayError{
		Outcome: evbill.OutcomeUnknown,
		Code:    string(pi.Status),
		Message: fmt.Sprintf("after the %s Stripe reports PaymentIntent %s in status %s", call, pi.ID, pi.Status),
	}
}

// Refund returns r.Amount of a captured payment. Stripe accepts only three
// reasons; r.Reason picks one of them when it names it (requested by
// customer otherwise), and the text itself is kept in the refund's
// metadata under "reason" so the dashboard shows why.
func (g *Gateway) Refund(ctx context.Context, r evbill.RefundRequest) (evbill.GatewayRefund, error) {
	if err := checkKey(r.IdempotencyKey); err != nil {
		return evbill.GatewayRefund{}, err
	}
	if err := checkReference(r.Reference); err != nil {
		return evbill.GatewayRefund{}, err
	}
	if r.Amount <= 0 {
		return evbill.GatewayRefund{}, rejected("invalid_amount", fmt.Sprintf("refund amount %d is not positive", r.Amount))
	}
	p := &stripego.RefundCreateParams{
		PaymentIntent: stripego.String(r.Reference),
		Amount:        stripego.Int64(r.Amount),
		Reason:        stripego.String(string(refundReason(r.Reason))),
	}
	if text := strings.TrimSpace(r.Reason); text != "" {
		p.AddMetadata("reason", truncate(text, maxMetadataValue))
	}
	p.IdempotencyKey = stripego.String(r.IdempotencyKey)
	re, err := g.client.V1Refunds.Create(ctx, p)
	if err != nil {
		return evbill.GatewayRefund{}, mapError(err)
	}
	switch re.Status {
	case stripego.RefundStatusFailed, stripego.RefundStatusCanceled:
		code := string(re.FailureReason)
		if code == "" {
			code = "refund_" + string(re.Status)
		}
		return evbill.GatewayRefund{}, &evbill.GatewayError{
			Outcome: evbill.OutcomeDeclined,
			Code:    code,
			Message: fmt.Sprintf("Stripe reports refund %s of PaymentIntent %s as %s", re.ID, r.Reference, re.Status),
		}
	}
	gr := evbill.GatewayRefund{
		Reference: re.ID,
		Payment:   r.Reference,
		Amount:    re.Amount,
		Currency:  strings.ToUpper(string(re.Currency)),
	}
	if re.PaymentIntent != nil && re.PaymentIntent.ID != "" {
		gr.Payment = re.PaymentIntent.ID
	}
	return gr, nil
}

// refundReason returns the one of Stripe's refund reasons that text names
// ("duplicate", "fraudulent", in any case, with spaces, hyphens or
// underscores), and requested_by_customer for anything else. Fraudulent is
// chosen only when asked for by name, because Stripe then blocks the card
// in Radar.
func refundReason(text string) stripego.RefundReason {
	norm := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return r
	}, strings.ToLower(strings.TrimSpace(text)))
	switch stripego.RefundReason(norm) {
	case stripego.RefundReasonDuplicate:
		return stripego.RefundReasonDuplicate
	case stripego.RefundReasonFraudulent:
		return stripego.RefundReasonFraudulent
	}
	return stripego.RefundReasonRequestedByCustomer
}

// CreateCustomer creates the Stripe customer that a driver's saved cards
// belong to, and returns its ID (cus_…) for HoldRequest.Customer and
// CreateSetupIntent. The idempotency key makes a repeated sign-up create
// one customer, not two; empty lets stripe-go make one per call.
func (g *Gateway) CreateCustomer(ctx context.Context, email, name, idempotencyKey string) (string, error) {
	if len(strings.TrimSpace(idempotencyKey)) > maxIdempotencyKey {
		return "", rejected("idempotency_key_too_long", fmt.Sprintf("idempotency key longer than %d characters", maxIdempotencyKey))
	}
	p := &stripego.CustomerCreateParams{}
	if email != "" {
		p.Email = stripego.String(email)
	}
	if name != "" {
		p.Name = stripego.String(name)
	}
	if idempotencyKey != "" {
		p.IdempotencyKey = stripego.String(idempotencyKey)
	}
	c, err := g.client.V1Customers.Create(ctx, p)
	if err != nil {
		return "", mapError(err)
	}
	return c.ID, nil
}

// CreateSetupIntent starts saving a card for customerID, for holds made
// later while the driver is away (off-session). The client secret goes to
// the driver's browser, where Stripe.js collects and authenticates the
// card; the saved card's pm_… then arrives with the setup_intent.succeeded
// event or from the browser.
func (g *Gateway) CreateSetupIntent(ctx context.Context, customerID, idempotencyKey string) (id, clientSecret string, err error) {
	if customerID == "" {
		return "", "", rejected("customer_missing", "a setup intent needs a customer")
	}
	if len(strings.TrimSpace(idempotencyKey)) > maxIdempotencyKey {
		return "", "", rejected("idempotency_key_too_long", fmt.Sprintf("idempotency key longer than %d characters", maxIdempotencyKey))
	}
	p := &stripego.SetupIntentCreateParams{
		Customer:           stripego.String(customerID),
		Usage:              stripego.String(string(stripego.SetupIntentUsageOffSession)),
		PaymentMethodTypes: []*string{stripego.String("card")},
	}
	if idempotencyKey != "" {
		p.IdempotencyKey = stripego.String(idempotencyKey)
	}
	si, err := g.client.V1SetupIntents.Create(ctx, p)
	if err != nil {
		return "", "", mapError(err)
	}
	return si.ID, si.ClientSecret, nil
}

// payment maps a PaymentIntent to evbill's record of a hold; false when
// its status is not one of a hold's three states.
func payment(pi *stripego.PaymentIntent) (evbill.GatewayPayment, bool) {
	gp := evbill.GatewayPayment{
		Reference: pi.ID,
		Amount:    pi.Amount,
		Currency:  strings.ToUpper(string(pi.Currency)),
	}
	if c := pi.LatestCharge; c != nil && c.PaymentMethodDetails != nil && c.PaymentMethodDetails.Card != nil && c.PaymentMethodDetails.Card.CaptureBefore > 0 {
		gp.ExpiresAt = time.Unix(c.PaymentMethodDetails.Card.CaptureBefore, 0).UTC()
	}
	switch pi.Status {
	case stripego.PaymentIntentStatusRequiresCapture:
		gp.Status = evbill.GatewayHeld
		// A partial authorization holds less than was asked for.
		if pi.AmountCapturable > 0 {
			gp.Amount = pi.AmountCapturable
		}
	case stripego.PaymentIntentStatusSucceeded:
		gp.Status = evbill.GatewayCaptured
		gp.CapturedAmount = pi.AmountReceived
	case stripego.PaymentIntentStatusCanceled:
		gp.Status = evbill.GatewayReleased
	default:
		return evbill.GatewayPayment{}, false
	}
	return gp, true
}

func cancelReason(pi *stripego.PaymentIntent) string {
	if pi.CancellationReason == "" {
		return "no reason given"
	}
	return string(pi.CancellationReason)
}

// checkKey refuses a money-moving call without a usable idempotency key:
// without one a repeat after a timeout could hold or capture twice.
func checkKey(key string) error {
	k := strings.TrimSpace(key)
	switch {
	case k == "":
		return rejected("idempotency_key_missing", "a call that moves money needs an idempotency key")
	case len(k) > maxIdempotencyKey:
		return rejected("idempotency_key_too_long", fmt.Sprintf("idempotency key longer than %d characters", maxIdempotencyKey))
	}
	return nil
}

func checkReference(ref string) error {
	if strings.TrimSpace(ref) == "" {
		return rejected("reference_missing", "no PaymentIntent reference given")
	}
	return nil
}

func rejected(code, msg string) error {
	return &evbill.GatewayError{Outcome: evbill.OutcomeRejected, Code: code, Message: msg}
}

// truncate cuts s to at most n characters, on a character boundary.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
