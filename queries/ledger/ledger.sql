-- Queries of package ledger. Writes go through the plpgsql functions of migrations
-- 00002_ledger.sql and 00003_ledger_tx.sql, one statement (one round trip) per
-- transfer or batch.

-- name: ListCurrencies :many
SELECT code, scale, kind FROM currencies ORDER BY code;

-- name: GetCurrency :one
SELECT code, scale, kind FROM currencies WHERE code = sqlc.arg(code);

-- name: AddCurrency :one
-- Adds a currency, or returns the one stored under its code (inserted false),
-- whose scale and kind stay as they are. No row: inserted concurrently by a
-- transaction this statement's snapshot missed; ask again.
WITH ins AS (
    INSERT INTO currencies (code, scale, kind) VALUES (sqlc.arg(code), sqlc.arg(scale), sqlc.arg(kind))
    ON CONFLICT (code) DO NOTHING
    RETURNING code, scale, kind
)
SELECT code, scale, kind, true AS inserted FROM ins
UNION ALL
SELECT code, scale, kind, false AS inserted FROM currencies WHERE code = sqlc.arg(code)
LIMIT 1;

-- name: SeedCurrencies :execrows
-- Adds the currencies the table lacks (db.MigrateUp, ledger.CurrencySeed); a currency that
-- exists keeps its scale and kind.
INSERT INTO currencies (code, scale, kind)
SELECT unnest(sqlc.arg(codes)::text[]), unnest(sqlc.arg(scales)::smallint[]), unnest(sqlc.arg(kinds)::text[])
ON CONFLICT (code) DO NOTHING;

-- name: EnsureAccount :one
SELECT r.id::bigint AS id, r.type::text AS type, r.normal_side::text AS normal_side, r.currency::text AS currency,
    r.allow_negative::boolean AS allow_negative, r.slots::integer AS slots
FROM ledger_ensure_account(sqlc.arg(merchant_id)::bigint, sqlc.arg(code)::text, sqlc.arg(type)::text,
    sqlc.arg(normal_side)::text, sqlc.arg(currency)::text, sqlc.arg(allow_negative)::boolean, sqlc.arg(slots)::integer) r;

-- name: Transfer :one
-- One new transfer (posted or a hold), one round trip. Raises on refusal.
SELECT r.o_id::bigint AS id, r.o_state::text AS state, r.o_created::timestamptz AS created_at,
    r.o_replayed::boolean AS replayed
FROM ledger_transfer(sqlc.arg(merchant_id)::bigint, sqlc.arg(key)::text, sqlc.arg(hash)::bytea, sqlc.arg(pending)::boolean,
    sqlc.narg(expires_at)::timestamptz, sqlc.arg(reference)::text, sqlc.arg(metadata)::jsonb,
    sqlc.arg(e_account)::bigint[], sqlc.arg(e_nslots)::integer[], sqlc.arg(e_side)::text[],
    sqlc.arg(e_amount)::numeric[], sqlc.arg(e_currency)::text[]) r;

-- name: TransferTx :one
-- Transfer in the caller's transaction: each attempt in a subtransaction, deadlocks
-- retried inside (ledger_transfer_tx); a refusal comes back in err_*.
SELECT coalesce(r.o_id, 0)::bigint AS id, coalesce(r.o_state, '')::text AS state,
    coalesce(r.o_created, 'epoch')::timestamptz AS created_at, coalesce(r.o_replayed, false)::boolean AS replayed,
    coalesce(r.n_id, '{}')::bigint[] AS n_id, coalesce(r.n_nslots, '{}')::integer[] AS n_nslots,
    coalesce(r.n_committed, '{}')::boolean[] AS n_committed,
    r.o_attempts::integer AS attempts, coalesce(r.o_retried, '')::text AS retried,
    coalesce(r.err_code, '')::text AS err_code, coalesce(r.err_message, '')::text AS err_message,
    coalesce(r.err_detail, '')::text AS err_detail, coalesce(r.err_constraint, '')::text AS err_constraint
FROM ledger_transfer_tx(sqlc.arg(merchant_id)::bigint, sqlc.arg(key)::text, sqlc.arg(hash)::bytea, sqlc.arg(pending)::boolean,
    sqlc.narg(expires_at)::timestamptz, sqlc.arg(reference)::text, sqlc.arg(metadata)::jsonb,
    sqlc.arg(e_account)::bigint[], sqlc.arg(e_nslots)::integer[], sqlc.arg(e_side)::text[],
    sqlc.arg(e_amount)::numeric[], sqlc.arg(e_currency)::text[],
    sqlc.arg(n_code)::text[], sqlc.arg(n_type)::text[], sqlc.arg(n_normal_side)::text[], sqlc.arg(n_currency)::text[],
    sqlc.arg(n_allow_negative)::boolean[], sqlc.arg(n_slots)::integer[], sqlc.arg(attempts)::integer) r;

-- name: PostTransfers :many
-- A batch of new transfers, one round trip, all or nothing. Raises on refusal.
SELECT r.o_idx::integer AS idx, r.o_id::bigint AS id, r.o_state::text AS state,
    r.o_created::timestamptz AS created_at, r.o_replayed::boolean AS replayed
FROM ledger_post_transfers(sqlc.arg(t_merchant)::bigint[], sqlc.arg(t_key)::text[], sqlc.arg(t_hash)::bytea[], sqlc.arg(t_pending)::boolean[],
    ARRAY(SELECT nullif(u.x, '')::timestamptz FROM unnest(sqlc.arg(t_expires)::text[]) WITH ORDINALITY u(x, o) ORDER BY u.o),
    sqlc.arg(t_reference)::text[], sqlc.arg(t_metadata)::jsonb[],
    sqlc.arg(e_transfer)::integer[], sqlc.arg(e_account)::bigint[], sqlc.arg(e_nslots)::integer[],
    sqlc.arg(e_side)::text[], sqlc.arg(e_amount)::numeric[], sqlc.arg(e_currency)::text[]) r;

-- name: PostTransfersTx :many
-- PostTransfers in the caller's transaction, retried like TransferTx: a refusal is
-- one row whose err_* say why.
SELECT coalesce(r.o_idx, 0)::integer AS idx, coalesce(r.o_id, 0)::bigint AS id, coalesce(r.o_state, '')::text AS state,
    coalesce(r.o_created, 'epoch')::timestamptz AS created_at, coalesce(r.o_replayed, false)::boolean AS replayed,
    coalesce(r.n_id, '{}')::bigint[] AS n_id, coalesce(r.n_nslots, '{}')::integer[] AS n_nslots,
    coalesce(r.n_committed, '{}')::boolean[] AS n_committed,
    r.o_attempts::integer AS attempts, coalesce(r.o_retried, '')::text AS retried,
    coalesce(r.err_code, '')::text AS err_code, coalesce(r.err_message, '')::text AS err_message,
    coalesce(r.err_detail, '')::text AS err_detail, coalesce(r.err_constraint, '')::text AS err_constraint
FROM ledger_post_transfers_tx(sqlc.arg(t_merchant)::bigint[], sqlc.arg(t_key)::text[], sqlc.arg(t_hash)::bytea[], sqlc.arg(t_pending)::boolean[],
    ARRAY(SELECT nullif(u.x, '')::timestamptz FROM unnest(sqlc.arg(t_expires)::text[]) WITH ORDINALITY u(x, o) ORDER BY u.o),
    sqlc.arg(t_reference)::text[], sqlc.arg(t_metadata)::jsonb[],
    sqlc.arg(e_transfer)::integer[], sqlc.arg(e_account)::bigint[], sqlc.arg(e_nslots)::integer[],
    sqlc.arg(e_side)::text[], sqlc.arg(e_amount)::numeric[], sqlc.arg(e_currency)::text[],
    sqlc.arg(n_merchant)::bigint[], sqlc.arg(n_code)::text[], sqlc.arg(n_type)::text[], sqlc.arg(n_normal_side)::text[],
    sqlc.arg(n_currency)::text[], sqlc.arg(n_allow_negative)::boolean[], sqlc.arg(n_slots)::integer[],
    sqlc.arg(attempts)::integer) r;

-- name: ResolveHold :one
-- Post, void or expire one hold, one round trip. Raises on refusal.
SELECT r.o_id::bigint AS id, r.o_state::text AS state, r.o_created::timestamptz AS created_at,
    r.o_replayed::boolean AS replayed, r.o_hold::bigint AS hold_id
FROM ledger_resolve(sqlc.arg(merchant_id)::bigint, sqlc.arg(key)::text, sqlc.arg(hash)::bytea,
    sqlc.narg(hold_id)::bigint, sqlc.narg(hold_key)::text, sqlc.arg(action)::text, sqlc.arg(now)::timestamptz,
    sqlc.narg(amount)::numeric, sqlc.narg(e_account)::bigint[], sqlc.narg(e_side)::text[], sqlc.narg(e_amount)::numeric[],
    sqlc.arg(reference)::text, sqlc.arg(metadata)::jsonb) r;

-- name: ResolveHoldTx :one
-- ResolveHold in the caller's transaction, retried like TransferTx: a refusal
-- comes back in err_*.
SELECT coalesce(r.o_id, 0)::bigint AS id, coalesce(r.o_state, '')::text AS state,
    coalesce(r.o_created, 'epoch')::timestamptz AS created_at, coalesce(r.o_replayed, false)::boolean AS replayed,
    coalesce(r.o_hold, 0)::bigint AS hold_id,
    coalesce(r.n_id, '{}')::bigint[] AS n_id, coalesce(r.n_committed, '{}')::boolean[] AS n_committed,
    r.o_attempts::integer AS attempts, coalesce(r.o_retried, '')::text AS retried,
    coalesce(r.err_code, '')::text AS err_code, coalesce(r.err_message, '')::text AS err_message,
    coalesce(r.err_detail, '')::text AS err_detail, coalesce(r.err_constraint, '')::text AS err_constraint
FROM ledger_resolve_tx(sqlc.arg(merchant_id)::bigint, sqlc.arg(key)::text, sqlc.arg(hash)::bytea,
    sqlc.narg(hold_id)::bigint, sqlc.narg(hold_key)::text, sqlc.arg(action)::text, sqlc.arg(now)::timestamptz,
    sqlc.narg(amount)::numeric, sqlc.narg(e_account)::bigint[], sqlc.narg(e_side)::text[], sqlc.narg(e_amount)::numeric[],
    sqlc.arg(reference)::text, sqlc.arg(metadata)::jsonb, sqlc.arg(n_code)::text[], sqlc.arg(attempts)::integer) r;

-- name: GetAccount :one
SELECT * FROM accounts WHERE merchant_id = sqlc.arg(merchant_id) AND code = sqlc.arg(code);

-- name: ListAccounts :many
SELECT * FROM accounts WHERE merchant_id = sqlc.arg(merchant_id) ORDER BY code;

-- name: GetBalance :one
-- The balance of one account: the sums over its slots.
SELECT a.id, a.code, a.type, a.normal_side, a.currency, a.allow_negative,
    sum(b.debits_posted)::numeric AS debits_posted, sum(b.credits_posted)::numeric AS credits_posted,
    sum(b.debits_pending)::numeric AS debits_pending, sum(b.credits_pending)::numeric AS credits_pending
FROM accounts a JOIN balances b ON b.account_id = a.id
WHERE a.merchant_id = sqlc.arg(merchant_id) AND a.code = sqlc.arg(code)
GROUP BY a.id;

-- name: ListBalances :many
SELECT a.id, a.code, a.type, a.normal_side, a.currency, a.allow_negative,
    sum(b.debits_posted)::numeric AS debits_posted, sum(b.credits_posted)::numeric AS credits_posted,
    sum(b.debits_pending)::numeric AS debits_pending, sum(b.credits_pending)::numeric AS credits_pending
FROM accounts a JOIN balances b ON b.account_id = a.id
WHERE a.merchant_id = sqlc.arg(merchant_id)
GROUP BY a.id
ORDER BY a.code;

-- name: BalanceAt :one
-- The balance of one account from its entries created at or before a time.
SELECT
    coalesce(sum(e.amount) FILTER (WHERE e.phase = 'posted' AND e.side = 'debit'), 0)::numeric AS debits_posted,
    coalesce(sum(e.amount) FILTER (WHERE e.phase = 'posted' AND e.side = 'credit'), 0)::numeric AS credits_posted,
    coalesce(sum(CASE e.phase WHEN 'pending' THEN e.amount WHEN 'release' THEN -e.amount END)
        FILTER (WHERE e.side = 'debit'), 0)::numeric AS debits_pending,
    coalesce(sum(CASE e.phase WHEN 'pending' THEN e.amount WHEN 'release' THEN -e.amount END)
        FILTER (WHERE e.side = 'credit'), 0)::numeric AS credits_pending
FROM entries e
WHERE e.account_id = sqlc.arg(account_id) AND e.created_at <= sqlc.arg(at);

-- name: ListAccountEntries :many
-- One page of an account's entries in id order, after a keyset cursor.
SELECT e.id, e.transfer_id, t.idempotency_key, t.reference, e.side, e.phase, e.amount, e.currency, e.created_at
FROM entries e JOIN transfers t ON t.id = e.transfer_id
WHERE e.account_id = sqlc.arg(account_id) AND e.id > sqlc.arg(after)
ORDER BY e.id
LIMIT sqlc.arg(page_size);

-- name: GetTransfer :one
SELECT * FROM transfers WHERE merchant_id = sqlc.arg(merchant_id) AND id = sqlc.arg(id);

-- name: GetTransferByKey :one
SELECT * FROM transfers WHERE merchant_id = sqlc.arg(merchant_id) AND idempotency_key = sqlc.arg(idempotency_key);

-- name: ListTransferEntries :many
SELECT e.id, e.account_id, a.code AS account_code, e.slot, e.side, e.phase, e.amount, e.currency, e.created_at
FROM entries e JOIN accounts a ON a.id = e.account_id
WHERE e.transfer_id = sqlc.arg(transfer_id)
ORDER BY e.id;

-- name: ListDueHolds :many
-- Open holds whose deadline has passed, oldest first.
SELECT id, merchant_id FROM transfers
WHERE state = 'pending' AND expires_at IS NOT NULL AND expires_at <= sqlc.arg(now)::timestamptz
ORDER BY expires_at, id
LIMIT sqlc.arg(max_holds);
