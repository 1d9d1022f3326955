package evbill

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook delivery states. A pending delivery is work the delivery worker
// finds in the database (the store is the queue); succeeded and dead are
// final until an operator replays the delivery.
const (
	WebhookPending   = "pending"
	WebhookSucceeded = "succeeded"
	WebhookDead      = "dead"
)

// Limits on what an endpoint holds, the same in both stores and the API.
const (
	// MaxWebhookURLLen bounds an endpoint's URL: longer URLs are refused
	// by common proxies and servers anyway.
	MaxWebhookURLLen = 2048
	// MaxWebhookEventTypes bounds an endpoint's filter; more types than
	// this are better served by no filter at all.
	MaxWebhookEventTypes = 50
	// MaxWebhookDescriptionLen bounds an endpoint's description.
	MaxWebhookDescriptionLen = 500
	// WebhookSecretPrefix starts every signing secret, as the Standard
	// Webhooks specification asks (package webhook checks the rest of the
	// format; the domain only refuses what is plainly not a secret).
	WebhookSecretPrefix = "whsec_"
)

// WebhookEndpoint is where a tenant wants its events sent: a URL, the
// event types it wants (none listed means every type), and the secrets
// its deliveries are signed with.
//
// The secrets are stored as given, not hashed like API keys: evbill must
// compute an HMAC with them at every delivery, so it needs the secret
// itself; a hash would be of no use. They are shown only when made (at
// creation and rotation) and never in lists or reads.
type WebhookEndpoint struct {
	ID          string
	TenantID    string
	URL         string
	Description string
	// EventTypes lists the event types delivered to the endpoint, each at
	// most once; empty means every type.
	EventTypes []string
	// Secret is the current signing secret ("whsec_…").
	Secret string
	// PreviousSecret is the secret Secret replaced at a rotation; until
	// PreviousSecretExpiresAt deliveries are signed with both, so the
	// receiver may switch to the new one at its own pace. Empty when none.
	PreviousSecret          string
	PreviousSecretExpiresAt *time.Time
	// Disabled stops deliveries: no new event is fanned out to the
	// endpoint, and its pending deliveries end dead when they come due.
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Wants reports whether the endpoint receives events of type t: when it is
// enabled and its filter is empty or lists t.
func (e WebhookEndpoint) Wants(t string) bool {
	return !e.Disabled && (len(e.EventTypes) == 0 || slices.Contains(e.EventTypes, t))
}

// SigningSecrets returns the secrets a delivery made at now is signed
// with: the current one first, then the previous one while it is still
// valid, which is the order the webhook package's Headers expects.
func (e WebhookEndpoint) SigningSecrets(now time.Time) []string {
	s := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		s = append(s, e.PreviousSecret)
	}
	return s
}

// Check refuses an endpoint the stores must not keep: a URL CheckWebhookURL
// refuses, a description over MaxWebhookDescriptionLen, an event type
// CheckEventType refuses or listed twice, more than MaxWebhookEventTypes
// types, a missing or malformed secret, or a previous secret without its
// expiry. Errors are EINVALID naming the field.
func (e *WebhookEndpoint) Check() error {
	if e.TenantID == "" {
		return Errorf(EINVALID, "tenant_id is required")
	}
	if err := CheckWebhookURL(e.URL); err != nil {
		return err
	}
	if len(e.Description) > MaxWebhookDescriptionLen {
		return Errorf(EINVALID, "description: at most %d bytes", MaxWebhookDescriptionLen)
	}
	if len(e.EventTypes) > MaxWebhookEventTypes {
		return Errorf(EINVALID, "event_types: at most %d types", MaxWebhookEventTypes)
	}
	for i, t := range e.EventTypes {
		if err := CheckEventType(t); err != nil {
			return err
		}
		if slices.Contains(e.EventTypes[:i], t) {
			return Errorf(EINVALID, "event_types: %q is listed twice", t)
		}
	}
	if !strings.HasPrefix(e.Secret, WebhookSecretPrefix) || len(e.Secret) > 200 {
		return Errorf(EINVALID, "secret: must be a %s secret", WebhookSecretPrefix)
	}
	if e.PreviousSecret != "" && (!strings.HasPrefix(e.PreviousSecret, WebhookSecretPrefix) || len(e.PreviousSecret) > 200) {
		return Errorf(EINVALID, "previous_secret: must be a %s secret", WebhookSecretPrefix)
	}
	if (e.PreviousSecret == "") != (e.PreviousSecretExpiresAt == nil) {
		return Errorf(EINVALID, "previous_secret and previous_secret_expires_at go together")
	}
	return nil
}

// CheckWebhookURL refuses a URL evbill should not post to: anything but an
// absolute http or https URL with a host, at most MaxWebhookURLLen bytes.
// Credentials in the URL are refused because endpoints are shown to every
// API key of the tenant, readonly ones included; a fragment because it is
// never sent. Errors are EINVALID naming the url field.
func CheckWebhookURL(raw string) error {
	if raw == "" || len(raw) > MaxWebhookURLLen {
		return Errorf(EINVALID, "url: must be an http or https URL of at most %d bytes", MaxWebhookURLLen)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return Errorf(EINVALID, "url: not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return Errorf(EINVALID, "url: the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return Errorf(EINVALID, "url: a host is required")
	case u.User != nil:
		return Errorf(EINVALID, "url: must not hold credentials (user:password@); authenticate by the signature")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return Errorf(EINVALID, "url: must not have a fragment (#…)")
	case strings.ContainsAny(raw, " \t\r\n"):
		return Errorf(EINVALID, "url: must not contain spaces")
	}
	return nil
}

// CheckEventType refuses an event type that is not the hierarchical,
// dot-separated list of [a-zA-Z0-9_] identifiers the Standard Webhooks
// specification recommends (cdr.created), at most 100 bytes.
func CheckEventType(t string) error {
	if t == "" || len(t) > 100 {
		return Errorf(EINVALID, "event_types: %q must be 1 to 100 characters", t)
	}
	for part := range strings.SplitSeq(t, ".") {
		if part == "" {
			return Errorf(EINVALID, "event_types: %q has an empty part", t)
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				return Errorf(EINVALID, "event_types: %q may hold only letters, digits, _ and .", t)
			}
		}
	}
	return nil
}

// WebhookDelivery is one event on its way to one endpoint. It carries a
// copy of the event, so that a delivery can be retried and replayed
// whatever becomes of the outbox.
type WebhookDelivery struct {
	ID             string
	TenantID       string
	EndpointID     string
	EventID        string // the webhook-id: the same at every attempt, so receivers deduplicate
	EventType      string
	Payload        json.RawMessage
	EventCreatedAt time.Time
	State          string // WebhookPending, WebhookSucceeded or WebhookDead
	// Attempts counts every attempt made, replays included; the attempt
	// log numbers them from 1.
	Attempts int
	// Failures counts the failed attempts since the delivery was made or
	// last replayed: the retry schedule reads it.
	Failures      int
	NextAttemptAt time.Time // when a pending delivery is next due
	LastStatus    int       // the HTTP status of the last attempt, 0 when it got none
	LastError     string    // why the last attempt failed, "" when it succeeded
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// WebhookAttempt is one try at a delivery, kept for the operator to see
// why a receiver refused it.
type WebhookAttempt struct {
	TenantID   string
	DeliveryID string
	N          int // 1 for the first attempt
	At         time.Time
	StatusCode int // the receiver's HTTP status, 0 when it gave none
	// Error is why the attempt failed (a status, a timeout, a refused
	// connection); "" when it succeeded.
	Error    string
	Duration time.Duration // from sending to the answer (or to giving up)
	// Response is the start of the receiver's answer, valid UTF-8,
	// for the operator to read what the receiver said.
	Response string
}

// WebhookResult is what the delivery worker learned from one attempt at a
// claimed delivery, for the store to record.
type WebhookResult struct {
	// Delivery is the delivery as claimed; the store records the attempt
	// only if it is still pending with the same Attempts, and on success
	// updates it to what was stored.
	Delivery *WebhookDelivery
	Attempt  WebhookAttempt
	// State is where the delivery goes: WebhookSucceeded, WebhookPending
	// (to be retried at NextAttemptAt) or WebhookDead.
	State         string
	NextAttemptAt time.Time
	// Err is the store's answer for this result alone: ECONFLICT when the
	// delivery was recorded or replayed meanwhile (another worker's claim
	// after a lapsed lease); the attempt is then not recorded.
	Err error
}

// WebhookStore keeps webhook endpoints, deliveries and their attempts.
// Its deliveries are the delivery worker's queue: a pending one whose
// next attempt is due is work, claimed for a lease so that two workers
// do not send it at once, and every state change is guarded by the state
// it leaves, so nothing is lost with a process and any instance can work.
type WebhookStore interface {
	// CreateWebhookEndpoint stores a new endpoint, checked by Check, and
	// sets its ID and times. EINVALID when Check refuses it or the tenant
	// does not exist.
	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// WebhookEndpoint returns one of the tenant's endpoints, secrets
	// included. ENOTFOUND when the tenant has no such endpoint.
	WebhookEndpoint(ctx context.Context, tenantID, id string) (WebhookEndpoint, error)
	// ListWebhookEndpoints returns a page of the tenant's endpoints,
	// ordered by ID.
	ListWebhookEndpoints(ctx context.Context, tenantID string, p Page) ([]WebhookEndpoint, error)
	// UpdateWebhookEndpoint stores every field of e but its ID, tenant and
	// creation time, after Check, and sets UpdatedAt. ENOTFOUND when the
	// tenant has no such endpoint.
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// DeleteWebhookEndpoint removes the endpoint with its deliveries and
	// their attempts. ENOTFOUND when the tenant has no such endpoint.
	DeleteWebhookEndpoint(ctx context.Context, tenantID, id string) error

	// WebhookCursor returns the ID of the last outbox event the consumer
	// has fanned out, "" when it has none yet: where PendingEvents
	// resumes after a restart.
	WebhookCursor(ctx context.Context, consumer string) (string, error)
	// FanOutWebhookEvents makes, in one transaction, one pending delivery
	// due at now for each of the events and each enabled endpoint of the
	// event's tenant that wants its type, skipping those that exist (one
	// delivery per endpoint and event), and moves the consumer's cursor
	// from from to to. ECONFLICT, with nothing stored, when the cursor is
	// no longer at from: another dispatcher moved it. It returns how many
	// deliveries it made.
	FanOutWebhookEvents(ctx context.Context, consumer, from, to string, events []Event, now time.Time) (int, error)

	// ClaimWebhookDeliveries returns up to limit pending deliveries, of
	// every tenant, due at or before now, the longest waiting first, and
	// moves their next attempt to leaseUntil in the same statement, so
	// another worker does not take them meanwhile and one that dies with
	// them leaves them due again once the lease lapses.
	ClaimWebhookDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]WebhookDelivery, error)
	// RecordWebhookAttempts records the attempts in one transaction (one
	// commit): for each result whose delivery is still pending with the
	// claimed Attempts, the attempt in the log and the delivery's new
	// state, next attempt, counts and last status and error. A result
	// whose delivery moved meanwhile gets ECONFLICT in its Err and changes
	// nothing. The error is for the transaction as a whole: then nothing
	// was recorded.
	RecordWebhookAttempts(ctx context.Context, results []WebhookResult) error

	// WebhookDelivery returns one of the tenant's deliveries. ENOTFOUND
	// when the tenant has no such delivery.
	WebhookDelivery(ctx context.Context, tenantID, id string) (WebhookDelivery, error)
	// ListWebhookDeliveries returns a page of the deliveries to one of the
	// tenant's endpoints, ordered by ID (oldest first), only those in
	// state when it is not "".
	ListWebhookDeliveries(ctx context.Context, tenantID, endpointID, state string, p Page) ([]WebhookDelivery, error)
	// WebhookAttempts returns the attempts at one of the tenant's
	// deliveries, oldest first.
	WebhookAttempts(ctx context.Context, tenantID, deliveryID string) ([]WebhookAttempt, error)
	// ReplayWebhookDelivery puts a succeeded or dead delivery back to
	// pending, due at now, with its failures forgotten, so the retry
	// schedule starts over. ENOTFOUND when the tenant has no such
	// delivery, ECONFLICT when it is pending already.
	ReplayWebhookDelivery(ctx context.Context, tenantID, id string, now time.Time) (WebhookDelivery, error)
}
