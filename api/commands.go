package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/ocpp"
)

// Chargers sends the central system's commands to connected chargers;
// *ocpp.Server implements it.
type Chargers interface {
	Call(ctx context.Context, key ocpp.StationKey, action string, req, conf any) error
}

// commandTimeout is how long the API waits for a charger's answer before
// answering 504.
const commandTimeout = 30 * time.Second

func (s *server) registerCommands() {
	if s.chargers == nil {
		return
	}
	register(s, huma.Operation{OperationID: "send-command", Method: http.MethodPost, Path: Prefix + "/stations/{id}/commands/{name}",
		Summary: "Send an OCPP command to a station",
		Description: "The body is the OCPP 1.6 request payload of the command, checked against its schema; the answer is the charger's " +
			"confirmation payload. 504 when the charger does not answer within 30 s, 409 when it is not connected, 502 when it answers with a CALLERROR.",
		Tags: []string{"Stations"}, Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusBadGateway, http.StatusGatewayTimeout}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string          `path:"id" maxLength:"64" doc:"The record's ID."`
			Name string          `path:"name" enum:"RemoteStartTransaction,RemoteStopTransaction,ChangeConfiguration,GetConfiguration,TriggerMessage,Reset,UnlockConnector"`
			Body json.RawMessage `doc:"The OCPP 1.6 request payload."`
		}) (*out[json.RawMessage], error) {
			ten := tenantOf(ctx)
			if _, err := s.store.Station(ctx, ten, in.ID); err != nil {
				return nil, err
			}
			body := in.Body
			if len(body) == 0 {
				body = json.RawMessage(`{}`)
			}
			callCtx, cancel := context.WithTimeout(ctx, commandTimeout)
			defer cancel()
			var conf json.RawMessage
			err := s.chargers.Call(callCtx, ocpp.StationKey{TenantID: ten, StationID: in.ID}, in.Name, body, &conf)
			var ce *ocpp.CallError
			switch {
			case err == nil:
				return &out[json.RawMessage]{conf}, nil
			case errors.Is(err, ocpp.ErrInvalidRequest):
				return nil, newProblem(http.StatusUnprocessableEntity, err.Error(), &huma.ErrorDetail{Location: "body", Message: err.Error()})
			case errors.Is(err, ocpp.ErrNotConnected), errors.Is(err, ocpp.ErrConnectionLost):
				return nil, newProblem(http.StatusConflict, "the station is not connected")
			case errors.Is(err, ocpp.ErrTimeout):
				return nil, newProblem(http.StatusGatewayTimeout, "the station did not answer within 30 s")
			case errors.As(err, &ce):
				return nil, newProblem(http.StatusBadGateway, "the station answered with "+string(ce.Code)+": "+ce.Description)
			case errors.Is(err, ocpp.ErrInvalidConfirmation):
				return nil, newProblem(http.StatusBadGateway, "the station's answer breaks the OCPP schema")
			}
			return nil, err
		})
}
