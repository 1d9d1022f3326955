package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/ledger"
)

// LedgerFullStore is a store with the ledger.
type LedgerFullStore interface {
	evbill.Store
	evbill.LedgerStore
}

// RunLedger runs the conformance suite of evbill.LedgerStore. raw, when
// not nil, opens a plain connection to the same database, with which the
// suite checks that the database itself (not only the store's code)
// refuses unbalanced, appended, changed and deleted ledger rows.
func RunLedger(t *testing.T, open func(t *testing.T) LedgerFullStore, raw func(t *testing.T, s LedgerFullStore) *sql.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s LedgerFullStore)
	}{
		{"PostAndRead", testLedgerPostAndRead},
		{"Refusals", testLedgerRefusals},
		{"Concurrent", testLedgerConcurrent},
		{"TenantIsolation", testLedgerTenantIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
	if raw != nil {
		t.Run("DatabaseRules", func(t *testing.T) {
			s := open(t)
			testLedgerDatabaseRules(t, s, raw(t, s))
		})
	}
}

func sale(t testing.TB, tenantID, payment string, total, net int64) evbill.LedgerEntry {
	t.Helper()
	e, err := ledger.CardCaptured(tenantID, payment, "sandbox", "site_1", ledger.Charge{Currency: "EUR", Total: total, Net: net})
	noErr(t, "CardCaptured", err)
	return e
}

// checkBalances compares every maintained balance with its postings.
func checkBalances(t testing.TB, s LedgerFullStore, tenantID string) {
	t.Helper()
	ctx := context.Background()
	sums, err := s.PostingSums(ctx, tenantID)
	noErr(t, "PostingSums", err)
	accounts, err := s.ListLedgerAccounts(ctx, tenantID, evbill.Page{Limit: evbill.MaxPageLimit})
	noErr(t, "ListLedgerAccounts", err)
	if len(accounts) != len(sums) {
		t.Errorf("%d accounts, %d posting sums", len(accounts), len(sums))
	}
	for _, a := range accounts {
		if got := sums[[2]string{a.Code, a.Currency}]; got != a.Balance {
			t.Errorf("account %s %s: balance %d, postings sum to %d", a.Code, a.Currency, a.Balance, got)
		}
	}
}

func testLedgerPostAndRead(t *testing.T, s LedgerFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	e := sale(t, tn.ID, "pay_1", 1361, 1238)
	noErr(t, "PostEntry", s.PostEntry(ctx, &e))
	hasPrefix(t, "entry ID", e.ID, evbill.PrefixEntry)
	storeTime(t, "entry CreatedAt", e.CreatedAt)
	top, err := ledger.WalletToppedUp(tn.ID, "top_1", "sandbox", "drv_1", "EUR", 5000)
	noErr(t, "WalletToppedUp", err)
	noErr(t, "PostEntry top-up", s.PostEntry(ctx, &top))

	got, err := s.LedgerEntryByKey(ctx, tn.ID, "capture:pay_1")
	noErr(t, "LedgerEntryByKey", err)
	equal(t, "entry read back", got.Postings, e.Postings)
	equal(t, "entry kind", got.Kind, ledger.KindCardCaptured)
	equal(t, "entry ID", got.ID, e.ID)

	clearing, err := s.LedgerAccount(ctx, tn.ID, ledger.GatewayClearing("sandbox"), "EUR")
	noErr(t, "LedgerAccount", err)
	equal(t, "clearing balance", clearing.Balance, int64(1361+5000))
	equal(t, "clearing type", clearing.Type, evbill.AccountAsset)
	vat, err := s.LedgerAccount(ctx, tn.ID, ledger.VATPayable, "EUR")
	noErr(t, "LedgerAccount vat", err)
	equal(t, "VAT balance", vat.Balance, int64(-123))
	_, err = s.LedgerAccount(ctx, tn.ID, ledger.VATPayable, "USD")
	wantCode(t, "account in another currency", err, evbill.ENOTFOUND, "")

	// Listed by ID; two entries made in one millisecond may sort either
	// way.
	first, second := e, top
	if second.ID < first.ID {
		first, second = second, first
	}
	all, err := s.ListLedgerEntries(ctx, tn.ID, "", evbill.Page{})
	noErr(t, "ListLedgerEntries", err)
	if len(all) != 2 || all[0].ID != first.ID || all[1].ID != second.ID || len(all[1].Postings) != len(second.Postings) {
		t.Fatalf("ListLedgerEntries = %+v", all)
	}
	page, err := s.ListLedgerEntries(ctx, tn.ID, "", evbill.Page{After: first.ID, Limit: 1})
	noErr(t, "ListLedgerEntries page 2", err)
	if len(page) != 1 || page[0].ID != second.ID {
		t.Errorf("page after the first = %+v", page)
	}
	ofVAT, err := s.ListLedgerEntries(ctx, tn.ID, vat.ID, evbill.Page{})
	noErr(t, "ListLedgerEntries of VAT", err)
	if len(ofVAT) != 1 || ofVAT[0].ID != e.ID || len(ofVAT[0].Postings) != 3 {
		t.Errorf("entries of the VAT account = %+v", ofVAT)
	}

	tb, err := s.TrialBalance(ctx, tn.ID)
	noErr(t, "TrialBalance", err)
	var debits, credits int64
	for _, l := range tb {
		debits += l.Debits
		credits += l.Credits
	}
	if debits != credits || debits != 1361+5000 {
		t.Errorf("trial balance %+v: debits %d, credits %d", tb, debits, credits)
	}
	checkBalances(t, s, tn.ID)
}

func testLedgerRefusals(t *testing.T, s LedgerFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	e := sale(t, tn.ID, "pay_1", 1000, 900)
	noErr(t, "PostEntry", s.PostEntry(ctx, &e))
	again := sale(t, tn.ID, "pay_1", 1000, 900)
	wantCode(t, "the same key again", s.PostEntry(ctx, &again), evbill.ECONFLICT, "already posted")

	bad := sale(t, tn.ID, "pay_2", 1000, 900)
	bad.Postings[0].Amount = 999
	wantCode(t, "unbalanced", s.PostEntry(ctx, &bad), evbill.EINVALID, "sum to")
	typ := sale(t, tn.ID, "pay_3", 1000, 900)
	typ.Postings[1].AccountType = evbill.AccountAsset // charging_revenue exists as revenue
	wantCode(t, "an account under another type", s.PostEntry(ctx, &typ), evbill.EINVALID, "revenue account")
	stranger := sale(t, "ten_nobody", "pay_4", 1000, 900)
	wantCode(t, "unknown tenant", s.PostEntry(ctx, &stranger), evbill.EINVALID, "")
	_, err := s.LedgerEntryByKey(ctx, tn.ID, "capture:pay_2")
	wantCode(t, "refused entry", err, evbill.ENOTFOUND, "")
	checkBalances(t, s, tn.ID)
	entries, err := s.ListLedgerEntries(ctx, tn.ID, "", evbill.Page{})
	noErr(t, "ListLedgerEntries", err)
	equal(t, "entries after refusals", len(entries), 1)
}

// testLedgerConcurrent posts to the same accounts from many goroutines:
// every balance must still equal its postings, and a key posted by many
// at once is posted once.
func testLedgerConcurrent(t *testing.T, s LedgerFullStore) {
	ctx := t.Context()
	tn := newTenant(t, s)
	var wg sync.WaitGroup
	var mu sync.Mutex
	posted := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				e := sale(t, tn.ID, fmt.Sprintf("pay_%d_%d", i, j), int64(100+j), int64(90+j))
				if err := s.PostEntry(ctx, &e); err != nil {
					t.Errorf("PostEntry: %v", err)
				}
				same := sale(t, tn.ID, "shared", 500, 400)
				if err := s.PostEntry(ctx, &same); err == nil {
					mu.Lock()
					posted++
					mu.Unlock()
				} else if evbill.ErrorCode(err) != evbill.ECONFLICT {
					t.Errorf("PostEntry shared: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	equal(t, "times the shared key was posted", posted, 1)
	checkBalances(t, s, tn.ID)
	clearing, err := s.LedgerAccount(ctx, tn.ID, ledger.GatewayClearing("sandbox"), "EUR")
	noErr(t, "LedgerAccount", err)
	equal(t, "clearing balance", clearing.Balance, int64(16*(100*10+45)+500))
}

func testLedgerTenantIsolation(t *testing.T, s LedgerFullStore) {
	ctx := t.Context()
	a, b := newTenant(t, s), newTenant(t, s)
	ea := sale(t, a.ID, "pay_1", 1000, 900)
	noErr(t, "PostEntry a", s.PostEntry(ctx, &ea))
	eb := sale(t, b.ID, "pay_1", 700, 600) // the same key in another tenant
	noErr(t, "PostEntry b", s.PostEntry(ctx, &eb))
	_, err := s.LedgerEntryByKey(ctx, b.ID, "capture:pay_1")
	noErr(t, "b's entry", err)
	got, err := s.ListLedgerEntries(ctx, b.ID, "", evbill.Page{})
	noErr(t, "ListLedgerEntries b", err)
	if len(got) != 1 || got[0].ID != eb.ID {
		t.Errorf("b sees %+v", got)
	}
	accA, err := s.LedgerAccount(ctx, a.ID, ledger.GatewayClearing("sandbox"), "EUR")
	noErr(t, "a's account", err)
	ofA, err := s.ListLedgerEntries(ctx, b.ID, accA.ID, evbill.Page{})
	noErr(t, "b listing a's account", err)
	equal(t, "entries b sees through a's account", len(ofA), 0)
	checkBalances(t, s, a.ID)
	checkBalances(t, s, b.ID)
}

// testLedgerDatabaseRules goes around the store: the database must refuse
// on its own what would corrupt the ledger.
func testLedgerDatabaseRules(t *testing.T, s LedgerFullStore, raw *sql.DB) {
	ctx := t.Context()
	tn := newTenant(t, s)
	e := sale(t, tn.ID, "pay_1", 1000, 900)
	noErr(t, "PostEntry", s.PostEntry(ctx, &e))
	acc, err := s.LedgerAccount(ctx, tn.ID, ledger.VATPayable, "EUR")
	noErr(t, "LedgerAccount", err)
	for name, stmts := range map[string][]string{
		"change a posting":   {"UPDATE ledger_postings SET amount = amount + 1 WHERE tenant_id = $1"},
		"delete a posting":   {"DELETE FROM ledger_postings WHERE tenant_id = $1"},
		"change an entry":    {"UPDATE ledger_entries SET kind = 'x' WHERE tenant_id = $1"},
		"delete an entry":    {"DELETE FROM ledger_entries WHERE tenant_id = $1"},
		"append a posting":   {"INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount) SELECT tenant_id, entry_id, 9, account_id, currency, 5 FROM ledger_postings WHERE tenant_id = $1 AND line = 0"},
		"unbalanced entry":   {"INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount) VALUES ($1, 'ent_x', 0, '" + acc.ID + "', 'EUR', 5)", "INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount) VALUES ($1, 'ent_x', 1, '" + acc.ID + "', 'EUR', -4)", "INSERT INTO ledger_entries (tenant_id, id, key, kind, reference, description, created_at) VALUES ($1, 'ent_x', 'k', 'k', '', '', 1)"},
		"postings, no entry": {"INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount) VALUES ($1, 'ent_y', 0, '" + acc.ID + "', 'EUR', 5)", "INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount) VALUES ($1, 'ent_y', 1, '" + acc.ID + "', 'EUR', -5)"},
		"wrong currency":     {"INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount) VALUES ($1, 'ent_z', 0, '" + acc.ID + "', 'USD', 5)"},
	} {
		tx, err := raw.BeginTx(ctx, nil)
		noErr(t, "begin", err)
		var failed error
		for _, q := range stmts {
			if _, failed = tx.ExecContext(ctx, q, tn.ID); failed != nil {
				break
			}
		}
		if failed == nil {
			failed = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
		if failed == nil {
			t.Errorf("%s: the database accepted it", name)
		}
	}
	checkBalances(t, s, tn.ID)
	got, err := s.LedgerEntryByKey(ctx, tn.ID, "capture:pay_1")
	noErr(t, "entry after the attempts", err)
	equal(t, "postings after the attempts", got.Postings, e.Postings)
}
