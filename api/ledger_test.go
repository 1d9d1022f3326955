package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

// TestLedgerRoutes posts money events through the store and reads them back
// through the API on both engines: accounts with balances, entries with
// postings (all, and one account's), the trial balance, every role may
// read, and another tenant sees none of it.
func TestLedgerRoutes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		ls, ok := e.store.(evbill.LedgerStore)
		if !ok {
			t.Fatalf("%T is not an evbill.LedgerStore", e.store)
		}
		tn, other := e.newTenant(), e.newTenant()
		ctx := context.Background()
		sale, err := ledger.CardCaptured(tn.id, "pay_1", "sandbox", "site_1", ledger.Charge{Currency: "EUR", Total: 1361, Net: 1238})
		if err != nil {
			t.Fatal(err)
		}
		top, err := ledger.WalletToppedUp(tn.id, "top_1", "sandbox", "drv_1", "EUR", 2000)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range []*evbill.LedgerEntry{&sale, &top} {
			if err := ls.PostEntry(ctx, en); err != nil {
				t.Fatal(err)
			}
		}

		accounts := tn.readonly.do(http.MethodGet, "/api/v1/ledger/accounts", nil).must(t, http.StatusOK)
		balances := map[string]float64{}
		var vatID string
		for _, it := range accounts["items"].([]any) {
			a := it.(map[string]any)
			balances[a["code"].(string)] = a["balance"].(float64)
			if a["code"] == ledger.VATPayable {
				vatID = a["id"].(string)
			}
		}
		want := map[string]float64{"gateway_clearing:sandbox": 3361, "charging_revenue:site_1": -1238, "vat_payable": -123, "driver_wallet:drv_1": -2000}
		if len(balances) != len(want) {
			t.Fatalf("accounts %v, want %v", balances, want)
		}
		for code, b := range want {
			if balances[code] != b {
				t.Errorf("account %s balance %v, want %v", code, balances[code], b)
			}
		}

		ids, _ := items(t, tn.finance.do(http.MethodGet, "/api/v1/ledger/entries", nil).must(t, http.StatusOK))
		// Listed by ID; two entries made in one millisecond may sort
		// either way.
		want2 := []string{sale.ID, top.ID}
		slices.Sort(want2)
		if !slices.Equal(ids, want2) {
			t.Errorf("entries %v, want %v", ids, want2)
		}
		ofVAT := tn.operator.do(http.MethodGet, "/api/v1/ledger/entries?account="+vatID, nil).must(t, http.StatusOK)
		its := ofVAT["items"].([]any)
		if len(its) != 1 || its[0].(map[string]any)["key"] != "capture:pay_1" || len(its[0].(map[string]any)["postings"].([]any)) != 3 {
			t.Errorf("entries of the VAT account: %v", ofVAT)
		}

		tb := tn.admin.do(http.MethodGet, "/api/v1/ledger/trial-balance", nil).must(t, http.StatusOK)
		var debits, credits float64
		for _, l := range tb["lines"].([]any) {
			debits += l.(map[string]any)["debits"].(float64)
			credits += l.(map[string]any)["credits"].(float64)
		}
		if debits != credits || debits != 3361 {
			t.Errorf("trial balance %v: debits %v credits %v", tb, debits, credits)
		}

		if ids, _ := items(t, other.admin.do(http.MethodGet, "/api/v1/ledger/entries?account="+vatID, nil).must(t, http.StatusOK)); len(ids) != 0 {
			t.Errorf("another tenant sees entries %v", ids)
		}
		if lines := other.admin.do(http.MethodGet, "/api/v1/ledger/trial-balance", nil).must(t, http.StatusOK)["lines"].([]any); len(lines) != 0 {
			t.Errorf("another tenant's trial balance: %v", lines)
		}
		e.anon().do(http.MethodGet, "/api/v1/ledger/accounts", nil).must(t, http.StatusUnauthorized)
	})
}
