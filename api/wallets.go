package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
	"github.com/evbill/evbill/ledger"
	"github.com/evbill/evbill/money"
)

// Wallet is a driver's prepaid balance in one currency, with its history
// from the ledger.
type Wallet struct {
	DriverID string        `json:"driver_id"`
	Currency string        `json:"currency"`
	Balance  int64         `json:"balance" doc:"Minor units the wallet holds."`
	Entries  []LedgerEntry `json:"entries" doc:"The wallet's ledger entries, oldest first (top-ups, session debits, refunds)."`
}

func (s *server) registerWallets() {
	if s.payments == nil || s.ledger == nil {
		return
	}
	register(s, huma.Operation{OperationID: "get-wallet", Method: http.MethodGet, Path: Prefix + "/drivers/{id}/wallet",
		Summary: "Get a driver's wallet: balance and history", Tags: []string{"Drivers"}, Errors: []int{http.StatusNotFound}}, auth.Read,
		func(ctx context.Context, in *struct {
			ID       string `path:"id" maxLength:"64" doc:"The driver's ID."`
			Currency string `query:"currency" pattern:"^[A-Z]{3}$" default:"EUR"`
		}) (*out[Wallet], error) {
			if _, err := s.store.Driver(ctx, tenantOf(ctx), in.ID); err != nil {
				return nil, err
			}
			o := &out[Wallet]{Body: Wallet{DriverID: in.ID, Currency: in.Currency, Entries: []LedgerEntry{}}}
			a, err := s.ledger.LedgerAccount(ctx, tenantOf(ctx), ledger.DriverWallet(in.ID), in.Currency)
			if evbill.ErrorCode(err) == evbill.ENOTFOUND {
				return o, nil
			}
			if err != nil {
				return nil, err
			}
			o.Body.Balance = -a.Balance
			entries, err := s.ledger.ListLedgerEntries(ctx, tenantOf(ctx), a.ID, evbill.Page{Limit: evbill.MaxPageLimit})
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				o.Body.Entries = append(o.Body.Entries, ledgerEntryOut(e))
			}
			return o, nil
		})
	register(s, huma.Operation{OperationID: "top-up-wallet", Method: http.MethodPost, Path: Prefix + "/drivers/{id}/wallet/top-ups",
		Summary: "Top up a driver's wallet by card",
		Description: "Makes a payment that the payment worker holds on the card and captures at once; the wallet is credited " +
			"when the capture is recorded. Follow it at GET /api/v1/payments/{id}.",
		DefaultStatus: http.StatusAccepted, Tags: []string{"Drivers"}, Errors: []int{http.StatusNotFound}}, auth.Write,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64" doc:"The driver's ID."`
			Body struct {
				Amount   int64  `json:"amount" minimum:"1" doc:"Minor units of the currency."`
				Currency string `json:"currency" pattern:"^[A-Z]{3}$"`
				Gateway  string `json:"gateway" maxLength:"32" doc:"stripe, or sandbox (test mode)."`
				Card     string `json:"card" maxLength:"255" doc:"The gateway's reference to the card (Stripe's pm_…), never its number; the sandbox takes its test cards."`
				Customer string `json:"customer,omitempty" maxLength:"255"`
			}
		}) (*out[Payment], error) {
			b := in.Body
			var fe fieldErrors
			if _, err := money.ParseCurrency(b.Currency); err != nil {
				fe.add("body.currency", err.Error())
			}
			checkCard(&fe, b.Gateway, b.Card)
			if err := fe.err(); err != nil {
				return nil, err
			}
			if _, err := s.store.Driver(ctx, tenantOf(ctx), in.ID); err != nil {
				return nil, err
			}
			p := evbill.Payment{TenantID: tenantOf(ctx), Purpose: evbill.PurposeTopUp, DriverID: in.ID, Gateway: b.Gateway,
				PaymentMethod: b.Card, Customer: b.Customer, Currency: b.Currency, HoldAmount: b.Amount}
			if err := s.payments.CreatePayment(ctx, &p); err != nil {
				return nil, err
			}
			return s.paymentOut(ctx, p)
		})
}
