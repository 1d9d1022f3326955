package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evbill/evbill"
	"github.com/evbill/evbill/postgres/internal/db"
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
	rows := db.InsertLedgerPostingsParams{TenantID: e.TenantID, EntryID: e.ID}
	for i, p := range e.Postings {
		a, err := ensureAccount(ctx, q, e.TenantID, p, e)
		if err != nil {
			return err
		}
		if a.Type != p.AccountType {
			return evbill.Errorf(evbill.EINVALID, "ledger entry %q: account %s is a %s account, not %s", e.Key, p.Account, a.Type, p.AccountType)
		}
		rows.Lines = append(rows.Lines, int32(i))
		rows.AccountIds = append(rows.AccountIds, a.ID)
		rows.Currencies = append(rows.Currencies, p.Currency)
		rows.Amounts = append(rows.Amounts, p.Amount)
	}
	ids := slices.Clone(rows.AccountIds)
	slices.Sort(ids)
	if _, err := q.LockLedgerAccounts(ctx, db.LockLedgerAccountsParams{TenantID: e.TenantID, Ids: slices.Compact(ids)}); err != nil {
		return fmt.Errorf("postgres: lock ledger accounts: %w", err)
	}
	// One statement: the balance trigger runs once for the entry.
	if err := q.InsertLedgerPostings(ctx, rows); err != nil {
		return ledgerErr(err, e)
	}
	err := q.InsertLedgerEntry(ctx, db.InsertLedgerEntryParams{
		TenantID: e.TenantID, ID: e.ID, Key: e.Key, Kind: e.Kind, Reference: e.Reference,
		Description: e.Description, CreatedAt: e.CreatedAt,
	})
	return ledgerErr(err, e)
}

// ensureAccount returns the tenant's account that p posts to, creating it
// on first use; of two transactions creating it at once, the second waits
// for the first and reads its row.
func ensureAccount(ctx context.Context, q *db.Queries, tenantID string, p evbill.Posting, e *evbill.LedgerEntry) (db.LedgerAccount, error) {
	// Nearly every posting goes to an account that exists: read first,
	// since an INSERT … ON CONFLICT that finds the row costs a
	// speculative insertion and a second round trip to read it.
	a, err := q.LedgerAccountByCode(ctx, db.LedgerAccountByCodeParams{TenantID: tenantID, Code: p.Account, Currency: p.Currency})
	if err == nil {
		return a, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("postgres: ledger account %s: %w", p.Account, err)
	}
	a, err = q.InsertLedgerAccount(ctx, db.InsertLedgerAccountParams{
		TenantID: tenantID, ID: evbill.NewID(evbill.PrefixAccount), Code: p.Account,
		Currency: p.Currency, Type: p.AccountType, CreatedAt: e.CreatedAt,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		if a, err = q.LedgerAccountByCode(ctx, db.LedgerAccountByCodeParams{TenantID: tenantID, Code: p.Account, Currency: p.Currency}); err != nil {
			return a, fmt.Errorf("postgres: ledger account %s: %w", p.Account, err)
		}
		return a, nil
	}
	return a, ledgerErr(err, e)
}

// ledgerErr words the schema's own refusals (its triggers raise "ledger:
// …") as EINVALID, a reposted key as ECONFLICT, and the rest through
// writeErr.
func ledgerErr(err error, e *evbill.LedgerEntry) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Message, "ledger: ") {
		return evbill.Errorf(evbill.EINVALID, "%s", pe.Message)
	}
	return writeErr("post ledger entry", err,
		[]unique{{constraint: "ledger_entries_key_key", msg: fmt.Sprintf("ledger entry %q is already posted", e.Key)}},
		[]ref{{constraint: "ledger_accounts_tenant_fkey", field: "tenant_id", value: e.TenantID}})
}

// LedgerEntryByKey returns the tenant's entry with key, with its postings.
func (s *Store) LedgerEntryByKey(ctx context.Context, tenantID, key string) (evbill.LedgerEntry, error) {
	r, err := s.q.LedgerEntryByKey(ctx, db.LedgerEntryByKeyParams{TenantID: tenantID, Key: key})
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
		rows, err = s.q.ListLedgerEntries(ctx, db.ListLedgerEntriesParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	} else {
		rows, err = s.q.ListLedgerEntriesOfAccount(ctx, db.ListLedgerEntriesOfAccountParams{
			TenantID: tenantID, After: p.After, AccountID: account, Lim: limit(p)})
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: list ledger entries: %w", err)
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
	ids := make([]string, len(rows))
	for i, r := range rows {
		out[i] = evbill.LedgerEntry{ID: r.ID, TenantID: r.TenantID, Key: r.Key, Kind: r.Kind, Reference: r.Reference,
			Description: r.Description, CreatedAt: r.CreatedAt.UTC()}
		index[r.ID] = i
		ids[i] = r.ID
	}
	ps, err := s.q.LedgerPostingsOfEntries(ctx, db.LedgerPostingsOfEntriesParams{TenantID: tenantID, EntryIds: ids})
	if err != nil {
		return nil, fmt.Errorf("postgres: ledger postings: %w", err)
	}
	for _, p := range ps {
		i := index[p.EntryID]
		out[i].Postings = append(out[i].Postings, evbill.Posting{Account: p.Code, AccountType: p.Type, Currency: p.Currency, Amount: p.Amount})
	}
	return out, nil
}

func ledgerAccount(r db.LedgerAccount) evbill.LedgerAccount {
	return evbill.LedgerAccount{ID: r.ID, TenantID: r.TenantID, Code: r.Code, Currency: r.Currency, Type: r.Type,
		Balance: r.Balance, CreatedAt: r.CreatedAt.UTC()}
}

// ListLedgerAccounts returns a page of the tenant's accounts by ID.
func (s *Store) ListLedgerAccounts(ctx context.Context, tenantID string, p evbill.Page) ([]evbill.LedgerAccount, error) {
	rows, err := s.q.ListLedgerAccounts(ctx, db.ListLedgerAccountsParams{TenantID: tenantID, After: p.After, Lim: limit(p)})
	if err != nil {
		return nil, fmt.Errorf("postgres: list ledger accounts: %w", err)
	}
	out := make([]evbill.LedgerAccount, len(rows))
	for i, r := range rows {
		out[i] = ledgerAccount(r)
	}
	return out, nil
}

// LedgerAccount returns the tenant's account with code in currency.
func (s *Store) LedgerAccount(ctx context.Context, tenantID, code, currency string) (evbill.LedgerAccount, error) {
	r, err := s.q.LedgerAccountByCode(ctx, db.LedgerAccountByCodeParams{TenantID: tenantID, Code: code, Currency: currency})
	if err != nil {
		return evbill.LedgerAccount{}, readErr(err, "ledger account", code+" "+currency)
	}
	return ledgerAccount(r), nil
}

// TrialBalance sums the tenant's maintained balances by currency and type.
func (s *Store) TrialBalance(ctx context.Context, tenantID string) ([]evbill.TrialBalanceLine, error) {
	rows, err := s.q.TrialBalance(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: trial balance: %w", err)
	}
	out := make([]evbill.TrialBalanceLine, len(rows))
	for i, r := range rows {
		out[i] = evbill.TrialBalanceLine{Currency: r.Currency, Type: r.Type, Debits: r.Debits, Credits: r.Credits, Accounts: int(r.Accounts)}
	}
	return out, nil
}

// PostingSums recomputes the tenant's balances from the postings.
func (s *Store) PostingSums(ctx context.Context, tenantID string) (map[[2]string]int64, error) {
	rows, err := s.q.LedgerPostingSums(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: posting sums: %w", err)
	}
	out := make(map[[2]string]int64, len(rows))
	for _, r := range rows {
		out[[2]string{r.Code, r.Currency}] = r.Total
	}
	return out, nil
}
