package main

import (
	"time"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sandbox"
	"github.com/evbill/evbill/stripe"
)

// gateways makes the payment gateways the environment configures:
//   - the sandbox, evbill's built-in TEST-MODE processor with test cards,
//     unless EVBILL_SANDBOX=off; its holds survive a restart when
//     EVBILL_SANDBOX_STATE names a file;
//   - Stripe when EVBILL_STRIPE_SECRET_KEY is set, with
//     EVBILL_STRIPE_WEBHOOK_SECRET for its notifications and
//     EVBILL_STRIPE_API_URL to talk to another endpoint (stripe-mock).
func gateways(getenv func(string) string) (map[string]evbill.Gateway, error) {
	gws := map[string]evbill.Gateway{}
	if getenv("EVBILL_SANDBOX") != "off" {
		g, err := sandbox.New(sandbox.Config{StatePath: getenv("EVBILL_SANDBOX_STATE"), WebhookSecret: getenv("EVBILL_SANDBOX_WEBHOOK_SECRET")})
		if err != nil {
			return nil, evbill.Errorf(evbill.EINVALID, "sandbox gateway: %v", err)
		}
		gws[g.Name()] = g
	}
	if key := getenv("EVBILL_STRIPE_SECRET_KEY"); key != "" {
		g, err := stripe.New(stripe.Config{SecretKey: key, WebhookSecret: getenv("EVBILL_STRIPE_WEBHOOK_SECRET"),
			BackendURL: getenv("EVBILL_STRIPE_API_URL"), Timeout: 30 * time.Second})
		if err != nil {
			return nil, evbill.Errorf(evbill.EINVALID, "stripe gateway: %v", err)
		}
		gws[g.Name()] = g
	}
	return gws, nil
}
