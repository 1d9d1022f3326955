package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/charging"
	"github.com/evbill/evbill/internal/sse"
)

// SessionEnd is the last event of a session's stream: its final figures
// and the CDR whose total the driver pays.
type SessionEnd struct {
	LiveSession
	CDR         *CDR   `json:"cdr,omitempty" doc:"The session's CDR; absent when it ended unpriced (flagged for review, or without a tariff)."`
	ReceiptPath string `json:"receipt_path,omitempty" doc:"The CDR's itemized receipt in this API (GET), when the session has a CDR."`
}

// receiptRoute is the route of a CDR's receipt, which the ended event
// links to when this API serves it.
const receiptRoute = Prefix + "/cdrs/{id}/receipt"

// Event names of GET /sessions/{id}/events.
const (
	eventSnapshot = "snapshot"
	eventUpdate   = "update"
	eventEnded    = "ended"
)

// registerSessionEvents adds GET /sessions/{id}/events, a session's
// figures as Server-Sent Events. It goes through register like every
// route (the key, its role, the tenant); its body is a stream, which
// huma documents from the event schemas given here.
func (s *server) registerSessionEvents() {
	schemas := s.api.OpenAPI().Components.Schemas
	event := func(name, doc string, data reflect.Type) *huma.Schema {
		return &huma.Schema{Title: "Event " + name, Description: doc, Type: huma.TypeObject, Required: []string{"event", "data"},
			Properties: map[string]*huma.Schema{
				"event": {Type: huma.TypeString, Enum: []any{name}},
				"data":  schemas.Schema(data, true, name),
			}}
	}
	live, end := reflect.TypeFor[LiveSession](), reflect.TypeFor[SessionEnd]()
	stream := &huma.Schema{Title: "Server-Sent Events", Type: huma.TypeArray,
		Description: "A text/event-stream: each item is one event, its data one line of JSON. Comments (lines starting with a colon) are heartbeats.",
		Items: &huma.Schema{OneOf: []*huma.Schema{
			event(eventSnapshot, "First: the session as GET /sessions/{id} shows it, read from the database when the stream opens.", live),
			event(eventUpdate, "After each change the charger reports (a reading, a change of state): the session as GET /sessions/{id} shows it.", live),
			event(eventEnded, "Last: the ended session's final figures and its CDR. The server then closes the stream.", end),
		}}}
	register(s, huma.Operation{OperationID: "follow-session", Method: http.MethodGet, Path: Prefix + "/sessions/{id}/events",
		Summary: "Follow a session live",
		Description: "Server-Sent Events: a `snapshot` of the live figures, an `update` after each change the charger reports, " +
			"and `ended` with the CDR's total when the session ends, after which the stream closes. A comment every 15 s keeps the " +
			"connection open. Updates are coalesced: a client that reads slowly gets the latest figures, never a backlog. " +
			"The stream may also close early (the server restarts, the database does not answer); reopen it to get a fresh snapshot.",
		Tags: []string{"Sessions"}, Errors: []int{http.StatusNotFound},
		Responses: map[string]*huma.Response{"200": {Description: "The session's events.",
			Content: map[string]*huma.MediaType{"text/event-stream": {Schema: stream}}}},
	}, auth.Read, func(ctx context.Context, in *idParam) (*huma.StreamResponse, error) {
		tenantID := tenantOf(ctx)
		updates, cancel := s.charging.Subscribe(tenantID, in.ID)
		// The first update is read from the store after subscribing, so
		// nothing is missed between it and the stream; a session that
		// does not exist (in this tenant) is 404 before the stream opens.
		var first charging.Update
		select {
		case <-ctx.Done():
			cancel()
			return nil, ctx.Err()
		case u, open := <-updates:
			if !open {
				cancel()
				return nil, newProblem(http.StatusServiceUnavailable, "the server is shutting down")
			}
			first = u
		}
		if first.Err != nil {
			cancel()
			return nil, first.Err
		}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			defer cancel()
			s.streamSession(hc, first, updates)
		}}, nil
	})
}

// streamSession writes the session's events: first as the snapshot, then
// what arrives on updates, until the session ends, the client goes away
// or the broker ends the subscription.
func (s *server) streamSession(hc huma.Context, first charging.Update, updates <-chan charging.Update) {
	r, w := humago.Unwrap(hc)
	st, err := sse.Start(w)
	if err != nil {
		return
	}
	// Every subscriber of the session is sent the same bytes, made once
	// per update: the snapshot's and updates' LiveSession, the end's
	// SessionEnd.
	type key struct {
		s   *server
		end bool
	}
	encode := func(u charging.Update, end bool) ([]byte, error) {
		return u.Encoded(key{s, end}, func() ([]byte, error) {
			o, err := s.liveOut(*u.Live)
			if err != nil {
				return nil, err
			}
			if !end {
				return json.Marshal(o)
			}
			e := SessionEnd{LiveSession: o}
			if u.CDR != nil {
				c := cdrOut(*u.CDR)
				e.CDR = &c
				if s.api.OpenAPI().Paths[receiptRoute] != nil {
					e.ReceiptPath = Prefix + "/cdrs/" + c.ID + "/receipt"
				}
			}
			return json.Marshal(e)
		})
	}
	name := eventSnapshot
	send := func(u charging.Update) (bool, error) {
		if u.Err != nil {
			// The figures cannot be read now: the client reopens the
			// stream (EventSource does by itself) and starts afresh.
			s.log.WarnContext(r.Context(), "session stream: reading the session", slog.String("session", first.Live.Session.ID), slog.Any("err", u.Err))
			return true, nil
		}
		// An ended session's stream still opens with its snapshot.
		if !u.Ended() || name == eventSnapshot {
			b, err := encode(u, false)
			if err != nil {
				s.log.ErrorContext(r.Context(), "session stream: formatting the session", slog.String("session", u.Live.Session.ID), slog.Any("err", err))
				return true, nil
			}
			if err := st.Event(name, b); err != nil {
				return true, err
			}
			name = eventUpdate
		}
		if !u.Ended() {
			return false, nil
		}
		b, err := encode(u, true)
		if err != nil {
			s.log.ErrorContext(r.Context(), "session stream: formatting the session", slog.String("session", u.Live.Session.ID), slog.Any("err", err))
			return true, nil
		}
		return true, st.Event(eventEnded, b)
	}
	if done, err := send(first); done || err != nil {
		return
	}
	_ = sse.Relay(r.Context(), st, updates, sse.Heartbeat, send)
}
