-- An account is created on first use. Two transactions may create it at
-- once: the second waits for the first and then inserts nothing, and
-- PostEntry reads the account (LedgerAccountByCode).
-- name: InsertLedgerAccount :one
INSERT INTO ledger_accounts (tenant_id, id, code, currency, type, balance, created_at)
VALUES ($1, $2, $3, $4, $5, 0, $6)
ON CONFLICT (tenant_id, code, currency) DO NOTHING
RETURNING *;

-- name: InsertLedgerPosting :exec
INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: InsertLedgerEntry :exec
INSERT INTO ledger_entries (tenant_id, id, key, kind, reference, description, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: LedgerEntryByKey :one
SELECT * FROM ledger_entries WHERE tenant_id = $1 AND key = $2;

-- name: ListLedgerEntries :many
SELECT * FROM ledger_entries WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: ListLedgerEntriesOfAccount :many
SELECT e.* FROM ledger_entries e
WHERE e.tenant_id = @tenant_id AND e.id > @after
  AND e.id IN (SELECT p.entry_id FROM ledger_postings p WHERE p.tenant_id = @tenant_id AND p.account_id = @account_id)
ORDER BY e.id LIMIT @lim;

-- name: LedgerPostingsOfEntries :many
SELECT p.entry_id, p.line, a.code, a.type, p.currency, p.amount
FROM ledger_postings p JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
WHERE p.tenant_id = @tenant_id AND p.entry_id = ANY(@entry_ids::text[])
ORDER BY p.entry_id, p.line;

-- name: ListLedgerAccounts :many
SELECT * FROM ledger_accounts WHERE tenant_id = @tenant_id AND id > @after ORDER BY id LIMIT @lim;

-- name: LedgerAccountByCode :one
SELECT * FROM ledger_accounts WHERE tenant_id = $1 AND code = $2 AND currency = $3;

-- name: TrialBalance :many
SELECT currency, type,
    CAST(COALESCE(sum(balance) FILTER (WHERE balance > 0), 0) AS bigint) AS debits,
    CAST(COALESCE(-sum(balance) FILTER (WHERE balance < 0), 0) AS bigint) AS credits,
    count(*) AS accounts
FROM ledger_accounts WHERE tenant_id = $1
GROUP BY currency, type ORDER BY currency, type;

-- name: LedgerPostingSums :many
SELECT a.code, a.currency, CAST(COALESCE(sum(p.amount), 0) AS bigint) AS total
FROM ledger_accounts a LEFT JOIN ledger_postings p ON p.tenant_id = a.tenant_id AND p.account_id = a.id
WHERE a.tenant_id = $1
GROUP BY a.code, a.currency;

-- InsertLedgerPostings writes an entry's postings in one statement, so
-- the balance trigger (per statement) runs once per entry, not once per
-- posting.
-- name: InsertLedgerPostings :exec
INSERT INTO ledger_postings (tenant_id, entry_id, line, account_id, currency, amount)
SELECT @tenant_id::text, @entry_id::text, unnest(@lines::integer[]), unnest(@account_ids::text[]),
       unnest(@currencies::text[]), unnest(@amounts::bigint[]);

-- LockLedgerAccounts locks an entry's accounts in ID order before its
-- postings go in: the balance trigger's UPDATE would lock them in
-- whatever order its plan reads them, and two entries locking the same
-- accounts in different orders deadlock.
-- name: LockLedgerAccounts :many
SELECT id FROM ledger_accounts
WHERE tenant_id = @tenant_id::text AND id = ANY(@ids::text[])
ORDER BY id
FOR UPDATE;
