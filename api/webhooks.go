package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/webhook"
)

// RotationOverlap is how long a rotated-out secret keeps signing
// deliveries beside the new one, so a receiver can switch to the new
// secret without refusing a message meanwhile.
const RotationOverlap = 24 * time.Hour

// WebhookEndpoint is where the tenant's events are sent, as reads and
// lists show it: never its secrets.
type WebhookEndpoint struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Description string   `json:"description,omitempty"`
	EventTypes  []string `json:"event_types" nullable:"false" doc:"The event types sent to the endpoint; empty for every type."`
	Disabled    bool     `json:"disabled" doc:"A disabled endpoint gets no new events, and its pending deliveries end dead when due."`
	// PreviousSecretExpiresAt is when the secret replaced by the last
	// rotation stops signing, while it still does.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty" doc:"Until then deliveries are signed with the previous secret too."`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// WebhookEndpointSecret is an endpoint just created or whose secret was
// just rotated: the only responses that show its signing secret.
type WebhookEndpointSecret struct {
	WebhookEndpoint
	Secret string `json:"secret" doc:"The signing secret (whsec_…) to verify deliveries with, as Standard Webhooks libraries take it. Shown only now."`
}

type webhookEndpointCreate struct {
	URL         string   `json:"url" minLength:"1" maxLength:"2048" doc:"An http or https URL; deliveries are POSTed to it."`
	Description string   `json:"description,omitempty" maxLength:"500"`
	EventTypes  []string `json:"event_types,omitempty" maxItems:"50" doc:"The event types to send, e.g. cdr.created; absent or empty for every type."`
	Disabled    bool     `json:"disabled,omitempty"`
	Secret      string   `json:"secret,omitempty" maxLength:"200" doc:"A signing secret of your own (whsec_ and the base64 of 24 to 64 bytes); absent to have one made."`
}

// webhookEndpointPatch changes the fields present; absent fields keep
// their value. Secrets change only by rotation.
type webhookEndpointPatch struct {
	URL         *string   `json:"url,omitempty" minLength:"1" maxLength:"2048"`
	Description *string   `json:"description,omitempty" maxLength:"500"`
	EventTypes  *[]string `json:"event_types,omitempty" maxItems:"50" doc:"An empty list sends every type."`
	Disabled    *bool     `json:"disabled,omitempty"`
}

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID            string     `json:"id"`
	EndpointID    string     `json:"endpoint_id"`
	EventID       string     `json:"event_id" doc:"Sent as webhook-id, the same at every attempt: receivers deduplicate by it."`
	EventType     string     `json:"event_type"`
	State         string     `json:"state" enum:"pending,succeeded,dead" doc:"dead after the retry schedule (about three days) or when the endpoint is disabled; replay to send again."`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty" doc:"When a pending delivery is next tried."`
	LastStatus    int        `json:"last_status,omitempty" doc:"The HTTP status of the last attempt."`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// WebhookDeliveryDetail is a delivery with what was sent and every
// attempt.
type WebhookDeliveryDetail struct {
	WebhookDelivery
	Payload    json.RawMessage  `json:"payload" doc:"The event's data, sent as the data member of the body."`
	AttemptLog []WebhookAttempt `json:"attempt_log" nullable:"false"`
}

// WebhookAttempt is one try at a delivery.
type WebhookAttempt struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty" doc:"Absent when the receiver gave no answer."`
	Error      string    `json:"error,omitempty"`
	DurationUS int64     `json:"duration_us" doc:"Microseconds from sending to the answer, or to giving up."`
	Response   string    `json:"response,omitempty" doc:"The start of the receiver's answer."`
}

func webhookEndpointOut(e evbill.WebhookEndpoint) WebhookEndpoint {
	types := e.EventTypes
	if types == nil {
		types = []string{}
	}
	o := WebhookEndpoint{ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: types, Disabled: e.Disabled,
		CreatedAt: utc(e.CreatedAt), UpdatedAt: utc(e.UpdatedAt)}
	if e.PreviousSecret != "" && e.PreviousSecretExpiresAt != nil && time.Now().Before(*e.PreviousSecretExpiresAt) {
		o.PreviousSecretExpiresAt = utcPtr(e.PreviousSecretExpiresAt)
	}
	return o
}

func webhookDeliveryOut(d evbill.WebhookDelivery) WebhookDelivery {
	o := WebhookDelivery{ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, State: d.State,
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: utc(d.CreatedAt), UpdatedAt: utc(d.UpdatedAt)}
	if d.State == evbill.WebhookPending {
		o.NextAttemptAt = utcPtr(&d.NextAttemptAt)
	}
	return o
}

// checkWebhookFields reports every rule the endpoint's fields break, named
// by their location, before the store's Check would refuse the first.
func checkWebhookFields(fe *fieldErrors, e *evbill.WebhookEndpoint) {
	if err := evbill.CheckWebhookURL(e.URL); err != nil {
		fe.add("body.url", fieldMessage(err))
	}
	for i, t := range e.EventTypes {
		loc := "body.event_types[" + strconv.Itoa(i) + "]"
		if err := evbill.CheckEventType(t); err != nil {
			fe.add(loc, fieldMessage(err))
		}
		for _, u := range e.EventTypes[:i] {
			if u == t {
				fe.add(loc, "listed twice")
			}
		}
	}
}

// fieldMessage is an EINVALID message without the field name the domain
// puts first ("url: …"), since a problem names the field in its location.
func fieldMessage(err error) string {
	var e *evbill.Error
	msg := err.Error()
	if errors.As(err, &e) {
		msg = e.Message
	}
	if _, rest, ok := strings.Cut(msg, ": "); ok {
		return rest
	}
	return msg
}

func (s *server) registerWebhooks() {
	if s.webhooks == nil {
		return
	}
	const tag = "Webhooks"
	s.noReplay["POST "+Prefix+"/webhook-endpoints"] = true
	s.noReplay["POST "+Prefix+"/webhook-endpoints/{id}/rotate-secret"] = true

	register(s, huma.Operation{OperationID: "create-webhook-endpoint", Method: http.MethodPost, Path: Prefix + "/webhook-endpoints",
		Summary: "Create a webhook endpoint",
		Description: "Events of the tenant (cdr.created, …) are POSTed to the URL in the Standard Webhooks format, signed with the endpoint's secret " +
			"(webhook-id, webhook-timestamp, webhook-signature v1). The response holds the secret, which is not shown again.",
		DefaultStatus: http.StatusCreated, Tags: []string{tag}}, auth.Write,
		func(ctx context.Context, in *struct{ Body webhookEndpointCreate }) (*out[WebhookEndpointSecret], error) {
			b := in.Body
			e := evbill.WebhookEndpoint{TenantID: tenantOf(ctx), URL: b.URL, Description: b.Description, EventTypes: b.EventTypes,
				Disabled: b.Disabled, Secret: b.Secret}
			var fe fieldErrors
			checkWebhookFields(&fe, &e)
			if e.Secret == "" {
				secret, err := webhook.NewSecret()
				if err != nil {
					return nil, err
				}
				e.Secret = secret
			} else if _, err := webhook.ParseSecret(e.Secret); err != nil {
				fe.add("body.secret", "must be whsec_ followed by the standard base64 of 24 to 64 random bytes")
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			if len(e.EventTypes) == 0 {
				e.EventTypes = nil
			}
			if err := s.webhooks.CreateWebhookEndpoint(ctx, &e); err != nil {
				return nil, err
			}
			return &out[WebhookEndpointSecret]{WebhookEndpointSecret{WebhookEndpoint: webhookEndpointOut(e), Secret: e.Secret}}, nil
		})

	register(s, huma.Operation{OperationID: "list-webhook-endpoints", Method: http.MethodGet, Path: Prefix + "/webhook-endpoints",
		Summary: "List webhook endpoints", Tags: []string{tag}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[WebhookEndpoint]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.WebhookEndpoint, error) {
				return s.webhooks.ListWebhookEndpoints(ctx, tenantOf(ctx), p)
			}, func(r evbill.WebhookEndpoint) string { return r.ID }, webhookEndpointOut)
		})

	register(s, huma.Operation{OperationID: "get-webhook-endpoint", Method: http.MethodGet, Path: Prefix + "/webhook-endpoints/{id}",
		Summary: "Get a webhook endpoint", Tags: []string{tag}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[WebhookEndpoint], error) {
			e, err := s.webhooks.WebhookEndpoint(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[WebhookEndpoint]{webhookEndpointOut(e)}, nil
		})

	register(s, huma.Operation{OperationID: "update-webhook-endpoint", Method: http.MethodPatch, Path: Prefix + "/webhook-endpoints/{id}",
		Summary: "Change a webhook endpoint", Description: "Changes the fields present in the body; absent fields keep their value.",
		Tags: []string{tag}, Errors: []int{http.StatusNotFound}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The record's ID."`
			Body webhookEndpointPatch
		}) (*out[WebhookEndpoint], error) {
			defer s.records.lock(tenantOf(ctx) + "\x00" + in.ID)()
			e, err := s.webhooks.WebhookEndpoint(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			b := in.Body
			set(&e.URL, b.URL)
			set(&e.Description, b.Description)
			set(&e.EventTypes, b.EventTypes)
			set(&e.Disabled, b.Disabled)
			var fe fieldErrors
			checkWebhookFields(&fe, &e)
			if err := fe.err(); err != nil {
				return nil, err
			}
			if len(e.EventTypes) == 0 {
				e.EventTypes = nil
			}
			if err := s.webhooks.UpdateWebhookEndpoint(ctx, &e); err != nil {
				return nil, err
			}
			return &out[WebhookEndpoint]{webhookEndpointOut(e)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-webhook-endpoint", Method: http.MethodDelete, Path: Prefix + "/webhook-endpoints/{id}",
		Summary:       "Delete a webhook endpoint",
		Description:   "Deletes the endpoint with its deliveries and their attempts. To stop deliveries and keep the history, disable it instead.",
		DefaultStatus: http.StatusNoContent, Tags: []string{tag}, Errors: []int{http.StatusNotFound}}, auth.Write,
		func(ctx context.Context, in *idParam) (*struct{}, error) {
			if err := s.webhooks.DeleteWebhookEndpoint(ctx, tenantOf(ctx), in.ID); err != nil {
				return nil, err
			}
			return &struct{}{}, nil
		})

	register(s, huma.Operation{OperationID: "rotate-webhook-secret", Method: http.MethodPost, Path: Prefix + "/webhook-endpoints/{id}/rotate-secret",
		Summary: "Rotate a webhook endpoint's secret",
		Description: "Makes a new signing secret and returns it. For 24 hours deliveries carry signatures under both the new and the previous secret, " +
			"so the receiver can switch at its own pace; a secret rotated out before is dropped at once.",
		Tags: []string{tag}, Errors: []int{http.StatusNotFound}}, auth.Write,
		func(ctx context.Context, in *idParam) (*out[WebhookEndpointSecret], error) {
			defer s.records.lock(tenantOf(ctx) + "\x00" + in.ID)()
			e, err := s.webhooks.WebhookEndpoint(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			secret, err := webhook.NewSecret()
			if err != nil {
				return nil, err
			}
			until := time.Now().Add(RotationOverlap)
			e.PreviousSecret, e.PreviousSecretExpiresAt, e.Secret = e.Secret, &until, secret
			if err := s.webhooks.UpdateWebhookEndpoint(ctx, &e); err != nil {
				return nil, err
			}
			return &out[WebhookEndpointSecret]{WebhookEndpointSecret{WebhookEndpoint: webhookEndpointOut(e), Secret: secret}}, nil
		})

	register(s, huma.Operation{OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: Prefix + "/webhook-endpoints/{id}/deliveries",
		Summary: "List an endpoint's deliveries", Description: "Oldest first; ?state=dead lists what needs a replay.",
		Tags: []string{tag}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID     string `path:"id" maxLength:"64" doc:"The endpoint's ID."`
			State  string `query:"state" enum:"pending,succeeded,dead" doc:"Only deliveries in this state."`
			Cursor string `query:"cursor" maxLength:"200" doc:"The next_cursor of the previous page; empty for the first page."`
			Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"The largest number of items to return."`
		}) (*out[ListBody[WebhookDelivery]], error) {
			if _, err := s.webhooks.WebhookEndpoint(ctx, tenantOf(ctx), in.ID); err != nil {
				return nil, err
			}
			return page(listParams{Cursor: in.Cursor, Limit: in.Limit}, func(p evbill.Page) ([]evbill.WebhookDelivery, error) {
				return s.webhooks.ListWebhookDeliveries(ctx, tenantOf(ctx), in.ID, in.State, p)
			}, func(r evbill.WebhookDelivery) string { return r.ID }, webhookDeliveryOut)
		})

	register(s, huma.Operation{OperationID: "get-webhook-delivery", Method: http.MethodGet, Path: Prefix + "/webhook-deliveries/{id}",
		Summary: "Get a webhook delivery with its attempts", Tags: []string{tag}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *idParam) (*out[WebhookDeliveryDetail], error) {
			d, err := s.webhooks.WebhookDelivery(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return s.webhookDeliveryDetail(ctx, d)
		})

	register(s, huma.Operation{OperationID: "replay-webhook-delivery", Method: http.MethodPost, Path: Prefix + "/webhook-deliveries/{id}/replay",
		Summary: "Send a delivery again",
		Description: "Puts a succeeded or dead delivery back to pending, due now, with the retry schedule started over; the worker sends it " +
			"with the same webhook-id. 409 when it is pending already.",
		DefaultStatus: http.StatusAccepted, Tags: []string{tag}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, auth.Write,
		func(ctx context.Context, in *idParam) (*out[WebhookDeliveryDetail], error) {
			d, err := s.webhooks.ReplayWebhookDelivery(ctx, tenantOf(ctx), in.ID, time.Now())
			if err != nil {
				return nil, err
			}
			return s.webhookDeliveryDetail(ctx, d)
		})
}

func (s *server) webhookDeliveryDetail(ctx context.Context, d evbill.WebhookDelivery) (*out[WebhookDeliveryDetail], error) {
	atts, err := s.webhooks.WebhookAttempts(ctx, d.TenantID, d.ID)
	if err != nil {
		return nil, err
	}
	o := WebhookDeliveryDetail{WebhookDelivery: webhookDeliveryOut(d), Payload: d.Payload, AttemptLog: make([]WebhookAttempt, len(atts))}
	if len(o.Payload) == 0 {
		o.Payload = json.RawMessage("null")
	}
	for i, a := range atts {
		o.AttemptLog[i] = WebhookAttempt{N: a.N, At: utc(a.At), StatusCode: a.StatusCode, Error: a.Error,
			DurationUS: a.Duration.Microseconds(), Response: a.Response}
	}
	return &out[WebhookDeliveryDetail]{o}, nil
}
