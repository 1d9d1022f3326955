package payment

import (
	"context"
	"net/http"
	"time"

	"github.com/evbill/evbill"
)

// Balance "gateways": a prepaid wallet and a postpaid account move no money
// outside evbill, so their holds and captures are records in evbill alone.
// Going through the same payment states as a card keeps one flow: the
// session's payment is settled from its CDR, and the capture posts the
// ledger entry (a wallet debit, or a charge to the driver's receivable).
const (
	Wallet  = "wallet"
	Account = "account"
)

// balanceGateway answers every call at once with the request's amounts.
type balanceGateway struct{ name string }

func (g balanceGateway) Name() string { return g.name }

func (g balanceGateway) Hold(_ context.Context, r evbill.HoldRequest) (evbill.GatewayPayment, error) {
	return evbill.GatewayPayment{Reference: g.name + "_" + r.IdempotencyKey, Status: evbill.GatewayHeld, Amount: r.Amount, Currency: r.Currency}, nil
}

func (g balanceGateway) Capture(_ context.Context, r evbill.CaptureRequest) (evbill.GatewayPayment, error) {
	return evbill.GatewayPayment{Reference: r.Reference, Status: evbill.GatewayCaptured, Amount: r.Amount, CapturedAmount: r.Amount, Currency: r.Currency}, nil
}

func (g balanceGateway) Release(_ context.Context, r evbill.ReleaseRequest) (evbill.GatewayPayment, error) {
	return evbill.GatewayPayment{Reference: r.Reference, Status: evbill.GatewayReleased}, nil
}

func (g balanceGateway) Refund(_ context.Context, r evbill.RefundRequest) (evbill.GatewayRefund, error) {
	return evbill.GatewayRefund{Reference: g.name + "_" + r.IdempotencyKey, Payment: r.Reference, Amount: r.Amount, Currency: r.Currency}, nil
}

func (g balanceGateway) ParseWebhook(http.Header, []byte, time.Time) (evbill.GatewayEvent, error) {
	return evbill.GatewayEvent{}, &evbill.GatewayError{Outcome: evbill.OutcomeRejected, Code: "no_webhooks", Message: g.name + " sends no notifications"}
}

// gateway returns the gateway of p: the configured one, or a balance one.
func (w *Worker) gateway(name string) evbill.Gateway {
	switch name {
	case Wallet, Account:
		return balanceGateway{name}
	}
	return w.Gateways[name]
}
