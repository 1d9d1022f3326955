package evbill

import (
	"context"
	"time"
)

// Ledger account types, which say on which side an account grows.
const (
	AccountAsset     = "asset"     // grows by debits: gateway clearing, receivables
	AccountLiability = "liability" // grows by credits: wallets, VAT payable
	AccountRevenue   = "revenue"   // grows by credits: charging revenue
	AccountExpense   = "expense"   // grows by debits: refunds, gateway fees, chargebacks
)

// LedgerAccount is one account of a tenant's double-entry ledger in one
// currency, named by a code such as "driver_wallet:drv_…" or
// "vat_payable" (see package ledger for the chart). Balance is the sum of
// every posting to it, debits positive, credits negative, in minor units;
// the store keeps it as postings arrive.
type LedgerAccount struct {
	ID        string
	TenantID  string
	Code      string
	Currency  string // ISO 4217
	Type      string // AccountAsset, AccountLiability, AccountRevenue or AccountExpense
	Balance   int64
	CreatedAt time.Time
}

// Posting is one line of a ledger entry: Amount minor units of Currency
// debited (positive) or credited (negative) to the account Account (a
// code), which the store creates with AccountType on first use.
type Posting struct {
	Account     string
	AccountType string
	Currency    string
	Amount      int64
}

// LedgerEntry is one balanced journal entry: its postings sum to zero in
// each currency. Entries are never changed or deleted; a correction is a
// new entry. Key makes posting idempotent: a tenant's ledger holds at most
// one entry per key (for example "capture:pay_…"), so a money event
// recorded twice is refused, not counted twice.
type LedgerEntry struct {
	ID          string
	TenantID    string
	Key         string
	Kind        string // what happened, e.g. card.captured, wallet.topped_up, cdr.refunded
	Reference   string // the record it is about: a payment, CDR or refund ID
	Description string
	Postings    []Posting
	CreatedAt   time.Time
}

// TrialBalanceLine is the sum of a tenant's account balances of one type in
// one currency.
type TrialBalanceLine struct {
	Currency string
	Type     string
	Debits   int64 // the sum of positive balances
	Credits  int64 // the sum of negative balances, as a positive number
	Accounts int   // how many accounts of the type have postings in the currency
}

// LedgerStore keeps the double-entry ledger. The database itself refuses
// an entry whose postings do not sum to zero per currency, a posting added
// to an entry after the fact, and any change or deletion of entries or
// postings.
type LedgerStore interface {
	// PostEntry stores a balanced entry with its postings, creating the
	// accounts it names, and updates their balances, in one transaction.
	// EINVALID when it does not balance or is malformed; ECONFLICT when the
	// tenant's ledger already holds an entry with its Key.
	PostEntry(ctx context.Context, e *LedgerEntry) error
	// LedgerEntryByKey returns the tenant's entry with key.
	LedgerEntryByKey(ctx context.Context, tenantID, key string) (LedgerEntry, error)
	// ListLedgerEntries returns a page of the tenant's entries by ID with
	// their postings; with account set, only those that post to it.
	ListLedgerEntries(ctx context.Context, tenantID, account string, p Page) ([]LedgerEntry, error)
	// ListLedgerAccounts returns a page of the tenant's accounts by ID.
	ListLedgerAccounts(ctx context.Context, tenantID string, p Page) ([]LedgerAccount, error)
	// LedgerAccount returns the tenant's account with code in currency.
	LedgerAccount(ctx context.Context, tenantID, code, currency string) (LedgerAccount, error)
	// TrialBalance sums the tenant's account balances by currency and type,
	// from the maintained balances: its cost grows with accounts, not
	// postings.
	TrialBalance(ctx context.Context, tenantID string) ([]TrialBalanceLine, error)
	// PostingSums recomputes every account balance of the tenant from its
	// postings, by account code and currency: the check of the maintained
	// balances.
	PostingSums(ctx context.Context, tenantID string) (map[[2]string]int64, error)
}

// Check reports the first rule the entry breaks, as an EINVALID error: a
// key and kind, at least two postings, each to a named account of a known
// type in an ISO 4217 code, none zero, and the postings of each currency
// summing to zero without overflow.
func (e *LedgerEntry) Check() error {
	switch {
	case e.Key == "":
		return Errorf(EINVALID, "ledger entry: key is required")
	case e.Kind == "":
		return Errorf(EINVALID, "ledger entry %q: kind is required", e.Key)
	case len(e.Postings) < 2:
		return Errorf(EINVALID, "ledger entry %q: needs at least two postings, has %d", e.Key, len(e.Postings))
	}
	sums := make(map[string]int64, 1)
	for i, p := range e.Postings {
		switch {
		case p.Account == "":
			return Errorf(EINVALID, "ledger entry %q: posting %d: account is required", e.Key, i)
		case !validAccountType(p.AccountType):
			return Errorf(EINVALID, "ledger entry %q: posting %d: account type %q is not asset, liability, revenue or expense", e.Key, i, p.AccountType)
		case !currencyShaped(p.Currency):
			return Errorf(EINVALID, "ledger entry %q: posting %d: currency %q is not an ISO 4217 code", e.Key, i, p.Currency)
		case p.Amount == 0:
			return Errorf(EINVALID, "ledger entry %q: posting %d to %s is zero", e.Key, i, p.Account)
		}
		s := sums[p.Currency]
		if (p.Amount > 0 && s > maxInt64-p.Amount) || (p.Amount < 0 && s < minInt64-p.Amount) {
			return Errorf(EINVALID, "ledger entry %q: postings in %s overflow", e.Key, p.Currency)
		}
		sums[p.Currency] = s + p.Amount
	}
	for cur, s := range sums {
		if s != 0 {
			return Errorf(EINVALID, "ledger entry %q: postings in %s sum to %d, not zero: debits and credits must balance", e.Key, cur, s)
		}
	}
	return nil
}

const (
	maxInt64 = 1<<63 - 1
	minInt64 = -1 << 63
)

func validAccountType(t string) bool {
	switch t {
	case AccountAsset, AccountLiability, AccountRevenue, AccountExpense:
		return true
	}
	return false
}

// currencyShaped reports whether code looks like an ISO 4217 code; which
// codes exist is the money package's business, checked where amounts are
// made.
func currencyShaped(code string) bool {
	if len(code) != 3 {
		return false
	}
	for i := range 3 {
		if code[i] < 'A' || code[i] > 'Z' {
			return false
		}
	}
	return true
}
