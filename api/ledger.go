package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/auth"
)

// LedgerAccount is one account of the tenant's double-entry ledger.
type LedgerAccount struct {
	ID        string    `json:"id"`
	Code      string    `json:"code" doc:"What the account holds, e.g. vat_payable, charging_revenue:site_…, driver_wallet:drv_…."`
	Currency  string    `json:"currency"`
	Type      string    `json:"type" enum:"asset,liability,revenue,expense"`
	Balance   int64     `json:"balance" doc:"The sum of the account's postings in minor units of the currency, debits positive, credits negative."`
	CreatedAt time.Time `json:"created_at"`
}

// Posting is one line of a ledger entry.
type Posting struct {
	Account     string `json:"account" doc:"The account's code."`
	AccountType string `json:"account_type"`
	Currency    string `json:"currency"`
	Amount      int64  `json:"amount" doc:"Minor units; debits positive, credits negative."`
}

// LedgerEntry is one balanced journal entry; entries are never changed.
type LedgerEntry struct {
	ID          string    `json:"id"`
	Key         string    `json:"key" doc:"The money event it records; a ledger holds one entry per key."`
	Kind        string    `json:"kind"`
	Reference   string    `json:"reference" doc:"The record it is about: a payment, CDR or refund."`
	Description string    `json:"description,omitempty"`
	Postings    []Posting `json:"postings"`
	CreatedAt   time.Time `json:"created_at"`
}

// TrialBalance is the tenant's balances summed by currency and account
// type; in each currency, debits equal credits.
type TrialBalance struct {
	Lines []TrialBalanceLine `json:"lines"`
}

// TrialBalanceLine is the sum of the balances of one account type in one
// currency.
type TrialBalanceLine struct {
	Currency string `json:"currency"`
	Type     string `json:"type"`
	Debits   int64  `json:"debits" doc:"The sum of positive balances, minor units."`
	Credits  int64  `json:"credits" doc:"The sum of negative balances as a positive number, minor units."`
	Accounts int    `json:"accounts"`
}

func ledgerAccountOut(a evbill.LedgerAccount) LedgerAccount {
	return LedgerAccount{ID: a.ID, Code: a.Code, Currency: a.Currency, Type: a.Type, Balance: a.Balance, CreatedAt: utc(a.CreatedAt)}
}

func ledgerEntryOut(e evbill.LedgerEntry) LedgerEntry {
	o := LedgerEntry{ID: e.ID, Key: e.Key, Kind: e.Kind, Reference: e.Reference, Description: e.Description,
		Postings: make([]Posting, len(e.Postings)), CreatedAt: utc(e.CreatedAt)}
	for i, p := range e.Postings {
		o.Postings[i] = Posting{Account: p.Account, AccountType: p.AccountType, Currency: p.Currency, Amount: p.Amount}
	}
	return o
}

func (s *server) registerLedger() {
	if s.ledger == nil {
		return
	}
	register(s, huma.Operation{OperationID: "list-ledger-accounts", Method: http.MethodGet, Path: Prefix + "/ledger/accounts",
		Summary: "List ledger accounts with their balances", Tags: []string{"Ledger"}}, auth.Read,
		func(ctx context.Context, in *listParams) (*out[ListBody[LedgerAccount]], error) {
			return page(*in, func(p evbill.Page) ([]evbill.LedgerAccount, error) {
				return s.ledger.ListLedgerAccounts(ctx, tenantOf(ctx), p)
			},
				func(r evbill.LedgerAccount) string { return r.ID }, ledgerAccountOut)
		})
	register(s, huma.Operation{OperationID: "list-ledger-entries", Method: http.MethodGet, Path: Prefix + "/ledger/entries",
		Summary: "List ledger entries with their postings", Tags: []string{"Ledger"}}, auth.Read,
		func(ctx context.Context, in *struct {
			Cursor  string `query:"cursor" maxLength:"200" doc:"The next_cursor of the previous page; empty for the first page."`
			Limit   int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"The largest number of items to return."`
			Account string `query:"account" maxLength:"64" doc:"Only the entries that post to this account (its ID)."`
		}) (*out[ListBody[LedgerEntry]], error) {
			return page(listParams{Cursor: in.Cursor, Limit: in.Limit},
				func(p evbill.Page) ([]evbill.LedgerEntry, error) {
					return s.ledger.ListLedgerEntries(ctx, tenantOf(ctx), in.Account, p)
				},
				func(r evbill.LedgerEntry) string { return r.ID }, ledgerEntryOut)
		})
	register(s, huma.Operation{OperationID: "get-trial-balance", Method: http.MethodGet, Path: Prefix + "/ledger/trial-balance",
		Summary: "Get the trial balance", Description: "Balances summed by currency and account type, from the balances the ledger keeps as it posts.",
		Tags: []string{"Ledger"}}, auth.Read,
		func(ctx context.Context, _ *struct{}) (*out[TrialBalance], error) {
			lines, err := s.ledger.TrialBalance(ctx, tenantOf(ctx))
			if err != nil {
				return nil, err
			}
			o := &out[TrialBalance]{Body: TrialBalance{Lines: make([]TrialBalanceLine, len(lines))}}
			for i, l := range lines {
				o.Body.Lines[i] = TrialBalanceLine{Currency: l.Currency, Type: l.Type, Debits: l.Debits, Credits: l.Credits, Accounts: l.Accounts}
			}
			return o, nil
		})
}
