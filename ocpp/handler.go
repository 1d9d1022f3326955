package ocpp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Handler is the central system's business logic for the messages a
// charge point sends: one method per OCPP 1.6 Core action. The server
// calls it after the payload has passed schema validation, so every
// required field is present and every enum holds one of its values.
//
// The server calls the methods of one connection one at a time, in the
// order the charger sent its CALLs; calls for different connections run
// concurrently. ctx is cancelled when the connection closes: a handler
// that must finish a durable write regardless should detach it
// (context.WithoutCancel), the charger will resend transaction messages it
// got no answer to anyway.
//
// A returned error becomes the CALLERROR the charger receives: a
// *CallError (see Errorf) chooses its code and description; any other
// error is answered as InternalError with a generic description, and
// logged, so that internal details do not reach chargers. Returning a nil
// confirmation with a nil error is answered as InternalError too. A
// confirmation that breaks its schema (an enum value not in the list, a
// string too long) is not sent: the charger receives InternalError and
// the violation is logged, so a bug here cannot confuse a charger.
//
// Times in confirmations are written as RFC 3339 with the time's own
// offset and precision: pass UTC times truncated to the second or the
// millisecond, as many chargers parse no more than three fractional
// digits.
//
// A handler may call Conn.Call (for example ChangeConfiguration after a
// BootNotification): the connection keeps reading while a handler runs,
// so the charger's answer is received. OCPP expects a charger to answer a
// central system's CALLs only once its BootNotification was accepted,
// though, so that one is better sent after returning.
type Handler interface {
	BootNotification(ctx context.Context, c *Conn, req *BootNotificationReq) (*BootNotificationConf, error)
	Heartbeat(ctx context.Context, c *Conn, req *HeartbeatReq) (*HeartbeatConf, error)
	StatusNotification(ctx context.Context, c *Conn, req *StatusNotificationReq) (*StatusNotificationConf, error)
	Authorize(ctx context.Context, c *Conn, req *AuthorizeReq) (*AuthorizeConf, error)
	StartTransaction(ctx context.Context, c *Conn, req *StartTransactionReq) (*StartTransactionConf, error)
	StopTransaction(ctx context.Context, c *Conn, req *StopTransactionReq) (*StopTransactionConf, error)
	MeterValues(ctx context.Context, c *Conn, req *MeterValuesReq) (*MeterValuesConf, error)
	DataTransfer(ctx context.Context, c *Conn, req *DataTransferReq) (*DataTransferConf, error)
}

// OtherHandler may be implemented by a Handler to answer the actions OCPP
// 1.6 defines that Handler has no method for (FirmwareStatusNotification,
// DiagnosticsStatusNotification, SecurityEventNotification, …). The
// payload has passed the action's schema; the returned value is marshalled
// with encoding/json and must pass the action's .conf schema. Return a
// *CallError with NotSupported for an action the handler does not take.
// Without it, such actions are answered NotSupported. payload is valid only
// until HandleOther returns (its buffer is reused): copy what must outlive
// the call.
type OtherHandler interface {
	HandleOther(ctx context.Context, c *Conn, action string, payload json.RawMessage) (any, error)
}

// route decodes a validated payload, calls the Handler method and returns
// its confirmation.
type route func(ctx context.Context, h Handler, c *Conn, payload []byte) (any, error)

// handle makes the route of one Handler method, decoding its request with
// encoding/json.
func handle[Req, Conf any](method func(Handler, context.Context, *Conn, *Req) (*Conf, error)) route {
	return handleWith(func(b []byte, req *Req) error { return json.Unmarshal(b, req) }, method)
}

// handleWith makes the route of one Handler method with its own decoder.
func handleWith[Req, Conf any](decode func([]byte, *Req) error, method func(Handler, context.Context, *Conn, *Req) (*Conf, error)) route {
	return func(ctx context.Context, h Handler, c *Conn, payload []byte) (any, error) {
		req := new(Req)
		if err := decode(payload, req); err != nil {
			// Validation accepted it, so this is a gap between the
			// validator and the decoder: say so rather than blame the
			// charger's syntax.
			return nil, &CallError{Code: TypeConstraintViolation, Description: err.Error()}
		}
		conf, err := method(h, ctx, c, req)
		if err != nil {
			return nil, err
		}
		if conf == nil {
			return nil, errNoConfirmation
		}
		return conf, nil
	}
}

var errNoConfirmation = errors.New("handler returned neither a confirmation nor an error")

// routes are the actions the Handler interface takes.
var routes = map[string]route{
	ActionBootNotification:   handle(Handler.BootNotification),
	ActionHeartbeat:          handle(Handler.Heartbeat),
	ActionStatusNotification: handle(Handler.StatusNotification),
	ActionAuthorize:          handle(Handler.Authorize),
	ActionStartTransaction:   handle(Handler.StartTransaction),
	ActionStopTransaction:    handle(Handler.StopTransaction),
	ActionMeterValues:        handleWith(decodeMeterValuesReq, Handler.MeterValues),
	ActionDataTransfer:       handle(Handler.DataTransfer),
}

// csmsOnly are the actions only a central system sends. A charger sending
// one is answered NotSupported without looking at the payload: we know
// the action, we do not take it.
var csmsOnly = map[string]bool{
	"CancelReservation": true, "CertificateSigned": true, "ChangeAvailability": true,
	"ChangeConfiguration": true, "ClearCache": true, "ClearChargingProfile": true,
	"DeleteCertificate": true, "ExtendedTriggerMessage": true, "GetCompositeSchedule": true,
	"GetConfiguration": true, "GetDiagnostics": true, "GetInstalledCertificateIds": true,
	"GetLocalListVersion": true, "GetLog": true, "InstallCertificate": true,
	"RemoteStartTransaction": true, "RemoteStopTransaction": true, "ReserveNow": true,
	"Reset": true, "SendLocalList": true, "SetChargingProfile": true,
	"SignedUpdateFirmware": true, "TriggerMessage": true, "UnlockConnector": true,
	"UpdateFirmware": true,
}

// answer turns one incoming CALL frame into the bytes of its answer, a
// CALLRESULT or a CALLERROR, appended to dst. perr is the frame's parse
// error, if any. It never panics: a panicking handler is answered
// InternalError and logged with its stack.
func (s *Server) answer(ctx context.Context, c *Conn, dst []byte, f *Frame, perr *CallError) []byte {
	if perr != nil {
		return AppendCallError(dst, f.UniqueID, perr)
	}
	conf, cerr := s.dispatch(ctx, c, f)
	if cerr != nil {
		return AppendCallError(dst, f.UniqueID, cerr)
	}
	start := len(dst)
	dst = append(dst, "[3,"...)
	dst = appendString(dst, f.UniqueID)
	dst = append(dst, ',')
	payloadStart := len(dst)
	dst, err := appendJSON(dst, conf)
	if err == nil {
		if verr := ValidateConfirmation(f.Action, dst[payloadStart:]); verr != nil {
			err = verr
		}
	}
	if err != nil {
		s.logger().Error("ocpp: handler produced an invalid confirmation",
			"action", f.Action, "chargePointId", c.chargePointID(), "err", err)
		return AppendCallError(dst[:start], f.UniqueID, &CallError{Code: InternalError, Description: "the central system produced an invalid confirmation"})
	}
	return append(dst, ']')
}

// dispatch validates f's payload and runs its handler, returning the
// confirmation or the CALLERROR to answer.
func (s *Server) dispatch(ctx context.Context, c *Conn, f *Frame) (conf any, cerr *CallError) {
	r := routes[f.Action]
	other, hasOther := s.Handler.(OtherHandler)
	if r == nil {
		switch {
		case !KnownAction(f.Action):
			return nil, &CallError{Code: NotImplemented, Description: fmt.Sprintf("action %q is not an OCPP 1.6 action", f.Action)}
		case csmsOnly[f.Action] || !hasOther:
			return nil, &CallError{Code: NotSupported, Description: fmt.Sprintf("action %s is not supported by this central system", f.Action)}
		}
	}
	if verr := ValidateRequest(f.Action, f.Payload); verr != nil {
		return nil, verr
	}
	defer func() {
		if p := recover(); p != nil {
			s.logger().Error("ocpp: handler panicked", "action", f.Action,
				"chargePointId", c.chargePointID(), "panic", p, "stack", string(debug.Stack()))
			conf, cerr = nil, &CallError{Code: InternalError, Description: "internal error"}
		}
	}()
	var err error
	if r != nil {
		conf, err = r(ctx, s.Handler, c, f.Payload)
	} else {
		conf, err = other.HandleOther(ctx, c, f.Action, f.Payload)
		if err == nil && conf == nil {
			err = errNoConfirmation
		}
	}
	if err == nil {
		return conf, nil
	}
	var ce *CallError
	if errors.As(err, &ce) {
		return nil, ce
	}
	s.logger().Error("ocpp: handler failed", "action", f.Action, "chargePointId", c.chargePointID(), "err", err)
	return nil, &CallError{Code: InternalError, Description: "internal error"}
}

// appendJSON appends v marshalled with encoding/json. A json.RawMessage is
// appended as it is.
func appendJSON(dst []byte, v any) ([]byte, error) {
	switch m := v.(type) {
	case json.RawMessage:
		return append(dst, m...), nil
	case *json.RawMessage:
		return append(dst, *m...), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
