package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
)

// CardSetup saves a driver's card with a gateway for later holds: the
// gateway's customer, and a setup whose client secret the driver's app
// confirms with the gateway's own client library (Stripe.js, the mobile
// SDKs), so that card numbers never reach evbill. *stripe.Gateway
// implements it.
type CardSetup interface {
	CreateCustomer(ctx context.Context, email, name, idempotencyKey string) (string, error)
	CreateSetupIntent(ctx context.Context, customerID, idempotencyKey string) (id, clientSecret string, err error)
}

// CardSetupStarted is a started card setup: the app confirms
// client_secret with the gateway, then sets the driver's payment method to
// the resulting card (pm_…) with this customer.
type CardSetupStarted struct {
	Gateway      string `json:"gateway"`
	Customer     string `json:"customer" doc:"The gateway's customer that keeps the driver's saved cards (cus_…); send it with the card to PUT …/payment-method."`
	SetupIntent  string `json:"setup_intent" doc:"The gateway's setup (seti_…)."`
	ClientSecret string `json:"client_secret" doc:"For the driver's app alone: it confirms the setup with the gateway's client library. Do not log or store it."`
}

func (s *server) registerCardSetup() {
	if s.payments == nil || len(s.cardSetup) == 0 {
		return
	}
	register(s, huma.Operation{OperationID: "start-card-setup", Method: http.MethodPost, Path: Prefix + "/drivers/{id}/payment-method/setup",
		Summary: "Start saving a driver's card with a gateway",
		Description: "Makes (once per driver) the gateway's customer and a setup (Stripe: a SetupIntent for off-session use). " +
			"The driver's app confirms the client secret with the gateway's client library, which takes the card; then " +
			"PUT /api/v1/drivers/{id}/payment-method {\"pay_by\":\"card\",\"gateway\":…,\"card\":\"pm_…\",\"customer\":…} makes the driver pay with it. " +
			"502 when the gateway refuses or does not answer.",
		Tags: []string{"Drivers"}, Errors: []int{http.StatusNotFound, http.StatusBadGateway}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The driver's ID."`
			Body struct {
				Gateway string `json:"gateway" maxLength:"32" doc:"A gateway that saves cards: stripe."`
			}
		}) (*out[CardSetupStarted], error) {
			gw, ok := s.cardSetup[in.Body.Gateway]
			if !ok {
				var fe fieldErrors
				fe.add("body.gateway", "gateway "+strconv.Quote(in.Body.Gateway)+" saves no cards here (the sandbox takes its test card numbers directly)")
				return nil, fe.err()
			}
			d, err := s.store.Driver(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			customer := ""
			switch m, err := s.payments.PaymentMethod(ctx, d.TenantID, d.ID); {
			case err == nil && m.Gateway == in.Body.Gateway:
				customer = m.Customer
			case err != nil && evbill.ErrorCode(err) != evbill.ENOTFOUND:
				return nil, err
			}
			if customer == "" {
				// Keyed by the driver: a retried or repeated setup makes one
				// customer, not one per try.
				if customer, err = gw.CreateCustomer(ctx, d.Email, d.Name, "cus_"+d.TenantID+"_"+d.ID); err != nil {
					return nil, gatewayProblem(err)
				}
			}
			id, secret, err := gw.CreateSetupIntent(ctx, customer, "seti_"+evbill.NewID("setup"))
			if err != nil {
				return nil, gatewayProblem(err)
			}
			return &out[CardSetupStarted]{CardSetupStarted{Gateway: in.Body.Gateway, Customer: customer, SetupIntent: id, ClientSecret: secret}}, nil
		})
}

// gatewayProblem is the answer to a gateway call that failed: 502, with
// the gateway's reason, since the request itself was fine.
func gatewayProblem(err error) error {
	var ge *evbill.GatewayError
	if errors.As(err, &ge) {
		return newProblem(http.StatusBadGateway, ge.Error())
	}
	return newProblem(http.StatusBadGateway, "payment gateway: "+err.Error())
}
