package evbill_test

import (
	"testing"

	"github.com/evbill/evbill"
)

// TestPaymentTransition checks the state machine's edges: the flow of a
// card payment is allowed, and nothing leaves a final state or skips the
// gateway call.
func TestPaymentTransition(t *testing.T) {
	allowed := [][2]string{
		{evbill.PaymentHoldPending, evbill.PaymentHeld},
		{evbill.PaymentHoldPending, evbill.PaymentFailed},
		{evbill.PaymentHeld, evbill.PaymentCapturePending},
		{evbill.PaymentHeld, evbill.PaymentReleasePending},
		{evbill.PaymentHeld, evbill.PaymentReleased}, // the hold expired
		{evbill.PaymentCapturePending, evbill.PaymentCaptured},
		{evbill.PaymentCapturePending, evbill.PaymentReleasePending}, // the capture was declined
		{evbill.PaymentReleasePending, evbill.PaymentReleased},
		{evbill.PaymentCaptured, evbill.PaymentPartiallyRefunded},
		{evbill.PaymentCaptured, evbill.PaymentRefunded},
		{evbill.PaymentPartiallyRefunded, evbill.PaymentRefunded},
	}
	refused := [][2]string{
		{evbill.PaymentHoldPending, evbill.PaymentCaptured}, // no capture without a hold
		{evbill.PaymentHeld, evbill.PaymentCaptured},        // no capture without the capture call
		{evbill.PaymentCaptured, evbill.PaymentCapturePending},
		{evbill.PaymentCaptured, evbill.PaymentReleased},
		{evbill.PaymentReleased, evbill.PaymentHeld},
		{evbill.PaymentFailed, evbill.PaymentHeld},
		{evbill.PaymentRefunded, evbill.PaymentPartiallyRefunded},
		{"unknown", evbill.PaymentHeld},
	}
	for _, e := range allowed {
		if err := evbill.PaymentTransition(e[0], e[1]); err != nil {
			t.Errorf("%s → %s: %v", e[0], e[1], err)
		}
	}
	for _, e := range refused {
		if err := evbill.PaymentTransition(e[0], e[1]); evbill.ErrorCode(err) != evbill.ECONFLICT {
			t.Errorf("%s → %s: %v, want ECONFLICT", e[0], e[1], err)
		}
	}
}

// TestRefundRules: a refund fits in what the capture has left, only of a
// captured payment, and the payment follows it to refunded.
func TestRefundRules(t *testing.T) {
	p := evbill.Payment{ID: "pay_1", State: evbill.PaymentCaptured, Captured: 1000}
	for _, tc := range []struct {
		p          evbill.Payment
		given, amt int64
		code       string
	}{
		{p, 0, 1000, ""},
		{p, 400, 600, ""},
		{p, 400, 601, evbill.ECONFLICT},
		{evbill.Payment{State: evbill.PaymentHeld, Captured: 0}, 0, 1, evbill.EINVALID},
		{evbill.Payment{State: evbill.PaymentRefunded, Captured: 1000, Refunded: 1000}, 1000, 1, evbill.EINVALID},
	} {
		if got := evbill.ErrorCode(evbill.CheckRefund(tc.p, tc.given, tc.amt)); got != tc.code {
			t.Errorf("CheckRefund(%s, %d, %d) = %q, want %q", tc.p.State, tc.given, tc.amt, got, tc.code)
		}
	}
	part := p.AfterRefund(400)
	if part.State != evbill.PaymentPartiallyRefunded || part.Refunded != 400 || p.Refunded != 0 {
		t.Errorf("after a part: %+v (the original %+v)", part, p)
	}
	if all := part.AfterRefund(600); all.State != evbill.PaymentRefunded || all.Refunded != 1000 {
		t.Errorf("after the rest: %+v", all)
	}
	for name, bad := range map[string]evbill.Payment{
		"no gateway":                            {TenantID: "t", Currency: "EUR", HoldAmount: 1, SiteID: "s"},
		"no amount":                             {TenantID: "t", Gateway: "g", Currency: "EUR", SiteID: "s"},
		"a session's, no site":                  {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1},
		"a top-up of nobody":                    {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, Purpose: evbill.PurposeTopUp},
		"an unknown purpose":                    {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, Purpose: "gift", SiteID: "s"},
		"a session's, of no session nor id_tag": {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, SiteID: "s"},
		"an ad-hoc one with a session":          {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, SiteID: "s", IDTag: "A", SessionID: "ses"},
		"an ad-hoc one with a driver":           {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, SiteID: "s", IDTag: "A", DriverID: "drv"},
		"a top-up with an id_tag":               {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, Purpose: evbill.PurposeTopUp, DriverID: "drv", IDTag: "A"},
		"an id_tag longer than OCPP's":          {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, SiteID: "s", IDTag: "ADHOC123456789012345X"},
	} {
		if err := bad.CheckNew(); evbill.ErrorCode(err) != evbill.EINVALID {
			t.Errorf("%s: CheckNew = %v", name, err)
		}
	}
	for name, good := range map[string]evbill.Payment{
		"a session's":                       {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, SiteID: "s", SessionID: "ses", DriverID: "drv"},
		"an ad-hoc one, before its session": {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, SiteID: "s", IDTag: "ADHOC12345678901234"},
		"a top-up":                          {TenantID: "t", Gateway: "g", Currency: "EUR", HoldAmount: 1, Purpose: evbill.PurposeTopUp, DriverID: "drv"},
	} {
		if err := good.CheckNew(); err != nil || good.State != evbill.PaymentHoldPending {
			t.Errorf("%s: CheckNew = %v, state %q", name, err, good.State)
		}
	}
}
