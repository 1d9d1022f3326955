package ledger_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

func TestChargeOfCDR(t *testing.T) {
	for _, tc := range []struct {
		name            string
		cdr             evbill.CDR
		total, net, vat int64
		err             bool
	}{
		// The OCPI example's 10 % VAT: 12.3750 excl., 13.6125 incl., charged 13.61.
		{"rounded parts", evbill.CDR{Currency: "EUR", TotalExclVAT: "12.3750", TotalInclVAT: "13.6125", AmountMinor: 1361}, 1361, 1238, 123, false},
		{"half away from zero", evbill.CDR{Currency: "EUR", TotalExclVAT: "0.0050", AmountMinor: 1}, 1, 1, 0, false},
		{"no VAT", evbill.CDR{Currency: "EUR", TotalExclVAT: "5.00", AmountMinor: 500}, 500, 500, 0, false},
		{"no minor unit", evbill.CDR{Currency: "JPY", TotalExclVAT: "100.4", AmountMinor: 110}, 110, 100, 10, false},
		{"free", evbill.CDR{Currency: "EUR", TotalExclVAT: "0.0000", AmountMinor: 0}, 0, 0, 0, false},
		{"net above total", evbill.CDR{Currency: "EUR", TotalExclVAT: "5.00", AmountMinor: 400}, 0, 0, 0, true},
		{"bad currency", evbill.CDR{Currency: "XXY", TotalExclVAT: "5.00", AmountMinor: 500}, 0, 0, 0, true},
		{"bad decimal", evbill.CDR{Currency: "EUR", TotalExclVAT: "5,00", AmountMinor: 500}, 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := ledger.ChargeOfCDR(tc.cdr)
			if tc.err {
				if evbill.ErrorCode(err) != evbill.EINVALID {
					t.Fatalf("ChargeOfCDR = %+v, %v; want EINVALID", ch, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ch.Total != tc.total || ch.Net != tc.net || ch.VAT() != tc.vat {
				t.Errorf("ChargeOfCDR = total %d net %d VAT %d; want %d %d %d", ch.Total, ch.Net, ch.VAT(), tc.total, tc.net, tc.vat)
			}
		})
	}
}

func TestRulesBalance(t *testing.T) {
	ch := ledger.Charge{Currency: "EUR", Total: 1361, Net: 1238}
	sale, err := ledger.CardCaptured("ten_1", "pay_1", "sandbox", "site_1", ch)
	if err != nil {
		t.Fatal(err)
	}
	want := []evbill.Posting{
		{Account: "gateway_clearing:sandbox", AccountType: evbill.AccountAsset, Currency: "EUR", Amount: 1361},
		{Account: "charging_revenue:site_1", AccountType: evbill.AccountRevenue, Currency: "EUR", Amount: -1238},
		{Account: "vat_payable", AccountType: evbill.AccountLiability, Currency: "EUR", Amount: -123},
	}
	if len(sale.Postings) != len(want) {
		t.Fatalf("postings %+v", sale.Postings)
	}
	for i := range want {
		if sale.Postings[i] != want[i] {
			t.Errorf("posting %d = %+v, want %+v", i, sale.Postings[i], want[i])
		}
	}
	if sale.Key != "capture:pay_1" || sale.Kind != ledger.KindCardCaptured {
		t.Errorf("key %q kind %q", sale.Key, sale.Kind)
	}
	// A charge without VAT has no VAT line, and nothing is posted for a
	// free session.
	noVAT, err := ledger.WalletDebited("ten_1", "cdr_1", "drv_1", "site_1", ledger.Charge{Currency: "EUR", Total: 500, Net: 500})
	if err != nil || len(noVAT.Postings) != 2 {
		t.Errorf("WalletDebited without VAT = %+v, %v", noVAT.Postings, err)
	}
	if _, err := ledger.AccountCharged("ten_1", "cdr_2", "acct_1", "site_1", ledger.Charge{Currency: "EUR"}); evbill.ErrorCode(err) != evbill.EINVALID {
		t.Errorf("AccountCharged of nothing: %v, want EINVALID", err)
	}
	if _, err := ledger.WalletToppedUp("ten_1", "top_1", "sandbox", "drv_1", "EUR", -5); evbill.ErrorCode(err) != evbill.EINVALID {
		t.Errorf("negative top-up: %v, want EINVALID", err)
	}
	for name, f := range map[string]func() (evbill.LedgerEntry, error){
		"top-up": func() (evbill.LedgerEntry, error) {
			return ledger.WalletToppedUp("ten_1", "top_1", "sandbox", "drv_1", "EUR", 2000)
		},
		"refund": func() (evbill.LedgerEntry, error) {
			return ledger.Refunded("ten_1", "ref_1", "site_1", ledger.GatewayClearing("sandbox"), evbill.AccountAsset, ch, 0, 500)
		},
		"dispute": func() (evbill.LedgerEntry, error) {
			return ledger.DisputeOpened("ten_1", "dp_1", "stripe", "EUR", 1361)
		},
		"dispute won": func() (evbill.LedgerEntry, error) { return ledger.DisputeWon("ten_1", "dp_1", "stripe", "EUR", 1361) },
		"fee":         func() (evbill.LedgerEntry, error) { return ledger.GatewayFee("ten_1", "fee_1", "stripe", "EUR", 25) },
	} {
		e, err := f()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if err := e.Check(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ledger.Refunded("ten_1", "ref_2", "site_1", "x", evbill.AccountAsset, ch, 1000, 400); evbill.ErrorCode(err) != evbill.EINVALID {
		t.Errorf("refund beyond the charge: %v, want EINVALID", err)
	}
}

func TestCheck(t *testing.T) {
	ok := func() evbill.LedgerEntry {
		return evbill.LedgerEntry{Key: "k", Kind: "test", Postings: []evbill.Posting{
			{Account: "a", AccountType: evbill.AccountAsset, Currency: "EUR", Amount: 5},
			{Account: "b", AccountType: evbill.AccountRevenue, Currency: "EUR", Amount: -5},
		}}
	}
	for name, mutate := range map[string]func(e *evbill.LedgerEntry){
		"no key":      func(e *evbill.LedgerEntry) { e.Key = "" },
		"no kind":     func(e *evbill.LedgerEntry) { e.Kind = "" },
		"one posting": func(e *evbill.LedgerEntry) { e.Postings = e.Postings[:1] },
		"unbalanced":  func(e *evbill.LedgerEntry) { e.Postings[1].Amount = -4 },
		"zero line": func(e *evbill.LedgerEntry) {
			e.Postings = append(e.Postings, evbill.Posting{Account: "c", AccountType: evbill.AccountAsset, Currency: "EUR"})
		},
		"bad type":       func(e *evbill.LedgerEntry) { e.Postings[0].AccountType = "equity" },
		"bad currency":   func(e *evbill.LedgerEntry) { e.Postings[0].Currency = "eur" },
		"no account":     func(e *evbill.LedgerEntry) { e.Postings[0].Account = "" },
		"two currencies": func(e *evbill.LedgerEntry) { e.Postings[1].Currency = "USD" },
		"overflow": func(e *evbill.LedgerEntry) {
			e.Postings = append(e.Postings,
				evbill.Posting{Account: "c", AccountType: evbill.AccountAsset, Currency: "EUR", Amount: 1<<63 - 1},
				evbill.Posting{Account: "d", AccountType: evbill.AccountAsset, Currency: "EUR", Amount: 1<<63 - 1})
		},
	} {
		e := ok()
		mutate(&e)
		if err := e.Check(); evbill.ErrorCode(err) != evbill.EINVALID {
			t.Errorf("%s: Check = %v, want EINVALID", name, err)
		}
	}
	e := ok()
	if err := e.Check(); err != nil {
		t.Errorf("balanced entry: %v", err)
	}
}

// TestPartsAddUp checks that however a charge is refunded in parts, the
// parts give back exactly its net and its VAT, and each part balances.
func TestPartsAddUp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := rapid.Int64Range(1, 10_000_000).Draw(t, "total")
		net := rapid.Int64Range(0, total).Draw(t, "net")
		ch := ledger.Charge{Currency: "EUR", Total: total, Net: net}
		var before, nets, vats int64
		for before < total {
			amount := rapid.Int64Range(1, total-before).Draw(t, "amount")
			p, err := ch.Part(before, amount)
			if err != nil {
				t.Fatal(err)
			}
			if p.Net < 0 || p.VAT() < 0 {
				t.Fatalf("part %+v has a negative side", p)
			}
			e, err := ledger.Refunded("ten", "r", "site", "clearing", evbill.AccountAsset, ch, before, amount)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Check(); err != nil {
				t.Fatal(err)
			}
			before += amount
			nets += p.Net
			vats += p.VAT()
		}
		if nets != ch.Net || vats != ch.VAT() {
			t.Fatalf("parts gave back net %d VAT %d of a charge of net %d VAT %d", nets, vats, ch.Net, ch.VAT())
		}
	})
}
