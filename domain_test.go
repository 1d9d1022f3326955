package evbill_test

import (
	"math"
	"strings"
	"testing"

	"github.com/evbill/evbill"
)

// TestTenantPaymentsCheck checks the bounds at their edges: each refusal
// is EINVALID and names the field, so that the API can point at it.
func TestTenantPaymentsCheck(t *testing.T) {
	ok := []evbill.TenantPayments{
		{},
		{CardHold: evbill.MinCardHold},
		{CardHold: evbill.MaxCardHold, WalletMinimum: evbill.MaxWalletMinimum, AccountLimit: evbill.MaxAccountLimit},
		{WalletMinimum: 1, AccountLimit: 1},
	}
	for _, p := range ok {
		if err := p.Check(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := map[string][]evbill.TenantPayments{
		"card_hold": {
			{CardHold: -1}, {CardHold: 1}, {CardHold: evbill.MinCardHold - 1},
			{CardHold: evbill.MaxCardHold + 1}, {CardHold: math.MinInt64}, {CardHold: math.MaxInt64},
		},
		"wallet_minimum": {{WalletMinimum: -1}, {WalletMinimum: evbill.MaxWalletMinimum + 1}, {WalletMinimum: math.MinInt64}},
		"account_limit":  {{AccountLimit: -1}, {AccountLimit: evbill.MaxAccountLimit + 1}, {AccountLimit: math.MaxInt64}},
	}
	for field, ps := range bad {
		for _, p := range ps {
			err := p.Check()
			if evbill.ErrorCode(err) != evbill.EINVALID || !strings.Contains(err.Error(), field) {
				t.Errorf("%+v: %v, want EINVALID naming %s", p, err, field)
			}
		}
	}
}
