package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/sqlite/internal/db"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ evbill.LedgerStore = (*Store)(nil)

// PostEntry stores a balanced entry, creating the accounts it names; see
// evbill.LedgerStore.
func (s *Store) PostEntry(ctx context.Context, e *evbill.LedgerEntry) error {
	if err := required("tenant_id", e.TenantID); err != nil {
		return err
	}
	if err := e.Check(); err != nil {
		return err
	}
	return s.tx(ctx, func(q *db.Queries) error { return postEntry(ctx, q, e) })
}

// postEntry writes e inside the caller's transaction, so that a money
// event's state change and its entry commit together. The postings go
// first and the entry last, the order the schema's triggers check.
func postEntry(ctx context.Context, q *db.Queries, e *evbill.LedgerEntry) error {
	e.ID = evbill.NewID(evbill.PrefixEntry)
	e.CreatedAt = now()
	at := e.CreatedAt.UnixMicro()
	for i, p := range e.Postings {
		a, err := ensureAccount(ctx, q, e.TenantID, p, at)
		if err != nil {
			return err
		}
		if a.Type != p.AccountType {
			return evbill.Errorf(evbill.EINVALID, "ledger entry %q: account %s is a %s account, not %s", e.Key, p.Account, a.Type, p.AccountType)
		}
		if err := q.InsertLedgerPosting(ctx, db.InsertLedgerPostingParams{
			TenantID: e.TenantID, EntryID: e.ID, Line: int64(i), AccountID: a.ID, Currency: p.Currency, Amount: p.Amount,
		}); err != nil {
			return ledgerErr(ctx, q, err)
		}
	}
	err := q.InsertLedgerEntry(ctx, db.InsertLedgerEntryParams{
		TenantID: e.TenantID, ID: e.ID, Key: e.Key, Kind: e.Kind, Reference: e.Reference,
		Description: e.Description, CreatedAt: at,
	})
	if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return writeErr(ctx, q, "post ledger entry", err, []unique{{
			columns: "ledger_entries.tenant_id, ledger_entries.key", msg: fmt.Sprintf("ledger entry %q is already posted", e.Key)}}, nil)
	}
	return ledgerErr(ctx, q, err)
}

// ensureAccount returns the tenant's account that p posts to, creating it
// on first use. The transaction holds the write lock, so no one else can
// create it between the lookup and the insert.
func ensureAccount(ctx context.Context, q *db.Queries, tenantID string, p evbill.Posting, at int64) (db.LedgerAccount, error) {
	a, err := q.LedgerAccountByCode(ctx, db.LedgerAccountByCodeParams{TenantID: tenantID, Code: p.Account, Currency: p.Currency})
	switch {
	case err == nil:
		return a, nil
	case !errors.Is(err, sql.ErrNoRows):
		return a, fmt.Errorf("sqlite: ledger account %s: %w", p.Account, err)
	}
	a, err = q.InsertLedgerAccount(ctx, db.InsertLedgerAccountParams{
		TenantID: tenantID, ID: evbill.NewID(evbill.PrefixAccount), Code: p.Account,
		Currency: p.Currency, Type: p.AccountType, CreatedAt: at,
	})
	return a, writeErr(ctx, q, "post ledger entry", err, nil, []ref{refTenant(tenantID)})
}

// ledgerErr words the schema's own refusals (its triggers raise "ledger:
// …") as EINVALID; anything else goes through writeErr.
func ledgerErr(ctx context.Context, q *db.Queries, err error) error {
	if err == nil {
		return nil
	}
	if msg := err.Error(); strings.Contains(msg, "ledger: ") {
		return evbill.Errorf(evbill.EINVALID, "%s", msg[strings.Index(msg, "ledger: "):])
	}
	return writeErr(ctx, q, "post ledger entry", err, nil, nil)
}

// LedgerEntryByKey returns the tenant's entry with key, with its postings.
func (s *Store) LedgerEntryByKey(ctx context.Context, tenantID, key string) (evbill.LedgerEntry, error) {
	r, err := s.r.LedgerEntryByKey(ctx, db.LedgerEntryByKeyParams{TenantID: tenantID, Key: key})
	if err != nil {
		return evbill.LedgerEntry{}, readErr(err, "ledger entry", key)
	}
	out, err := s.withPostings(ctx, tenantID, []db.LedgerEntry{r})
	if err != nil {
		return evbill.LedgerEntry{}, err
	}
	return out[0], nil
}

// ListLedgerEntries returns a page of the tenant's entries by ID, with
// their postings; with account (an account ID) set, those posting to it.
func (s *Store) ListLedgerEntries(ctx context.Context, tenantID, account string, p evbill.Page) ([]evbill.LedgerEntry, error) {
	var rows []db.LedgerEntry
	var err error
	if account == "" {
		rows, err = s.r.ListLedgerEntries(ctx, db.ListLedgerEntriesParams{TenantID: tenantID, After: p.After, Lim: int64(p.Size())})
	} else {
		rows, err = s.r.ListLedgerEntriesOfAccount(ctx, db.ListLedgerEntriesOfAccountParams{
			TenantID: tenantID, After: p.After, AccountID: account, Lim: int64(p.Size())})
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list ledger entries: %w", err)
	}
	return s.withPostings(ctx, tenantID, rows)
}

// withPostings reads the postings of entries in one query.
func (s *Store) withPostings(ctx context.Context, tenantID string, rows []db.LedgerEntry) ([]evbill.LedgerEntry, error) {
	out := make([]evbill.LedgerEntry, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	index := make(map[string]int, len(rows))
	for i, r := range rows {
		out[i] = evbill.LedgerEntry{ID: r.ID, TenantID: r.TenantID, Key: r.Key, Kind: r.Kind, Reference: r.Reference,
			Description: r.Description, CreatedAt: fromMicros(r.CreatedAt)}
		index[r.ID] = i
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	ps, err := s.r.LedgerPostingsOfEntries(ctx, db.LedgerPostingsOfEntriesParams{TenantID: tenantID, EntryIds: ids})
	if err != nil {
		return nil, fmt.Errorf("sqlite: ledger postings: %w", err)
	}
	for _, p := range ps {
		if i, ok := index[p.EntryID]; ok {
			out[i].Postings = append(out[i].Postings, evbill.Posting{Account: p.Code, AccountType: p.Type, Currency: p.Currency, Amount: p.Amount})
		}
	}
	return out, nil
}

func ledgerAccount(r db.LedgerAccount) evbill.LedgerAccount {
	return evbill.LedgerAccount{ID: r.ID, TenantID: r.TenantID, Code: r.Code, Currency: r.Currency, Type: r.Type,
		Balance: r.Balance, CreatedAt: fromMicros(r.CreatedAt)}
}

// ListLedgerAccounts returns a page of the tenant's accounts by ID.
func (s *Store) ListLedgerAccounts(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.LedgerAccount, error) {
	rows, err := s.r.ListLedgerAccounts(ctx, db.ListLedgerAccountsParams{TenantID: tenantID, After: p.After, Lim: int64(p.Size())})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list ledger accounts: %w", err)
	}
	out := make([]evbill.LedgerAccount, len(rows))
	for i, r := range rows {
		out[i] = ledgerAccount(r)
	}
	return out, nil
}

// LedgerAccount returns the tenant's account with code in currency.
func (s *Store) LedgerAccount(ctx context.Context, tenantID, code, currency string) (evbill.LedgerAccount, error) {
	r, err := s.r.LedgerAccountByCode(ctx, db.LedgerAccountByCodeParams{TenantID: tenantID, Code: code, Currency: currency})
	if err != nil {
		return evbill.LedgerAccount{}, readErr(err, "ledger account", code+" "+currency)
	}
	return ledgerAccount(r), nil
}

// TrialBalance sums the tenant's maintained balances by currency and type.
func (s *Store) TrialBalance(ctx context.Context, tenantID string) ([]evbill.TrialBalanceLine, error) {
	rows, err := s.r.TrialBalance(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: trial balance: %w", err)
	}
	out := make([]evbill.TrialBalanceLine, len(rows))
	for i, r := range rows {
		out[i] = evbill.TrialBalanceLine{Currency: r.Currency, Type: r.Type, Debits: r.Debits, Credits: r.Credits, Accounts: int(r.Accounts)}
	}
	return out, nil
}

// PostingSums recomputes the tenant's balances from the postings.
func (s *Store) PostingSums(ctx context.Context, tenantID string) (map[[2]string]int64, error) {
	rows, err := s.r.LedgerPostingSums(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: posting sums: %w", err)
	}
	out := make(map[[2]string]int64, len(rows))
	for _, r := range rows {
		out[[2]string{r.Code, r.Currency}] = r.Total
	}
	return out, nil
}
