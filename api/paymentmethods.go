package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/sandbox"
)

// PaymentMethod is how a driver pays for charging.
type PaymentMethod struct {
	DriverID  string    `json:"driver_id"`
	PayBy     string    `json:"pay_by" enum:"card,wallet,account"`
	Gateway   string    `json:"gateway,omitempty"`
	Card      string    `json:"card,omitempty" doc:"The gateway's reference to the card: Stripe's pm_…, or a sandbox test card."`
	Customer  string    `json:"customer,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

type paymentMethodBody struct {
	PayBy    string `json:"pay_by" enum:"card,wallet,account" doc:"card: a hold at the start, the CDR total captured at the end."`
	Gateway  string `json:"gateway,omitempty" maxLength:"32" doc:"For a card: stripe, or sandbox (test mode)."`
	Card     string `json:"card,omitempty" maxLength:"255" doc:"For a card: the gateway's reference (Stripe's pm_…), never a card number; the sandbox takes its test cards."`
	Customer string `json:"customer,omitempty" maxLength:"255" doc:"For a saved Stripe card: its cus_…."`
}

func paymentMethodOut(m evbill.PaymentMethod) PaymentMethod {
	return PaymentMethod{DriverID: m.DriverID, PayBy: m.PayBy, Gateway: m.Gateway, Card: m.Card, Customer: m.Customer, UpdatedAt: utc(m.UpdatedAt)}
}

// checkCard adds to fe what is wrong with a card given as gateway and
// card: evbill keeps a gateway's reference to a card, never its number,
// and the sandbox takes only its test cards.
func checkCard(fe *fieldErrors, gateway, card string) {
	switch {
	case gateway == "":
		fe.add("body.gateway", "a card needs its gateway")
	case card == "":
		fe.add("body.card", "a card needs the gateway's reference to it")
	case gateway == "sandbox":
		if err := sandbox.CheckCard(card); err != nil {
			fe.add("body.card", err.Error())
		}
	case looksLikeCardNumber(card):
		fe.add("body.card", "this looks like a card number: give the gateway's reference to the card (for Stripe, a pm_… PaymentMethod), never its number")
	}
}

// looksLikeCardNumber reports whether s could be a card number (12 to 19
// digits, spaces allowed): evbill keeps gateways' references, never card
// numbers.
func looksLikeCardNumber(s string) bool {
	d := strings.ReplaceAll(s, " ", "")
	return len(d) >= 12 && len(d) <= 19 && strings.Trim(d, "0123456789") == ""
}

func (s *server) registerPaymentMethods() {
	if s.payments == nil {
		return
	}
	register(s, huma.Operation{OperationID: "get-payment-method", Method: http.MethodGet, Path: Prefix + "/drivers/{id}/payment-method",
		Summary: "Get how a driver pays", Tags: []string{"Drivers"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64" doc:"The driver's ID."`
		}) (*out[PaymentMethod], error) {
			m, err := s.payments.PaymentMethod(ctx, tenantOf(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &out[PaymentMethod]{paymentMethodOut(m)}, nil
		})
	register(s, huma.Operation{OperationID: "set-payment-method", Method: http.MethodPut, Path: Prefix + "/drivers/{id}/payment-method",
		Summary: "Set how a driver pays", Description: "Replaces the driver's payment method. A card is a gateway's reference to it, never its number.",
		Tags: []string{"Drivers"}, Errors: []int{http.StatusNotFound}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The driver's ID."`
			Body paymentMethodBody
		}) (*out[PaymentMethod], error) {
			b := in.Body
			var fe fieldErrors
			if b.PayBy == evbill.PayByCard {
				checkCard(&fe, b.Gateway, b.Card)
			}
			if err := fe.err(); err != nil {
				return nil, err
			}
			if _, err := s.store.Driver(ctx, tenantOf(ctx), in.ID); err != nil {
				return nil, err
			}
			m := evbill.PaymentMethod{TenantID: tenantOf(ctx), DriverID: in.ID, PayBy: b.PayBy, Gateway: b.Gateway, Card: b.Card, Customer: b.Customer}
			if err := s.payments.SetPaymentMethod(ctx, &m); err != nil {
				return nil, err
			}
			return &out[PaymentMethod]{paymentMethodOut(m)}, nil
		})
}
