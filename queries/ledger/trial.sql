-- name: BalancesPage :many
-- Current balances of a merchant's accounts (sums of their slots), keyset paged by
-- code; prefix narrows to codes that begin with it (an empty prefix: every account).
-- (ledger/trial.go: the console's Ledger page.)
SELECT a.id, a.code, a.type, a.normal_side, a.currency,
    sum(b.debits_posted)::numeric AS debits_posted, sum(b.credits_posted)::numeric AS credits_posted,
    sum(b.debits_pending)::numeric AS debits_pending, sum(b.credits_pending)::numeric AS credits_pending
FROM accounts a JOIN balances b ON b.account_id = a.id
WHERE a.merchant_id = sqlc.arg(merchant_id) AND a.code > sqlc.arg(after)::text
    AND starts_with(a.code, sqlc.arg(prefix)::text)
GROUP BY a.id
ORDER BY a.code
LIMIT sqlc.arg(page_size);

-- name: BalancesAtPage :many
-- Balances of a merchant's accounts from their entries created at or before a time,
-- keyset paged by code: one index-only scan of entries_account_time_idx per account.
SELECT a.id, a.code, a.type, a.normal_side, a.currency,
    s.debits_posted, s.credits_posted, s.debits_pending, s.credits_pending
FROM accounts a
CROSS JOIN LATERAL (
    SELECT
        coalesce(sum(e.amount) FILTER (WHERE e.phase = 'posted' AND e.side = 'debit'), 0)::numeric AS debits_posted,
        coalesce(sum(e.amount) FILTER (WHERE e.phase = 'posted' AND e.side = 'credit'), 0)::numeric AS credits_posted,
        coalesce(sum(CASE e.phase WHEN 'pending' THEN e.amount WHEN 'release' THEN -e.amount END)
            FILTER (WHERE e.side = 'debit'), 0)::numeric AS debits_pending,
        coalesce(sum(CASE e.phase WHEN 'pending' THEN e.amount WHEN 'release' THEN -e.amount END)
            FILTER (WHERE e.side = 'credit'), 0)::numeric AS credits_pending
    FROM entries e
    WHERE e.account_id = a.id AND e.created_at <= sqlc.arg(at)::timestamptz
) s
WHERE a.merchant_id = sqlc.arg(merchant_id) AND a.code > sqlc.arg(after)::text
    AND starts_with(a.code, sqlc.arg(prefix)::text)
ORDER BY a.code
LIMIT sqlc.arg(page_size);

-- name: TrialBalance :many
-- Only posted entries count, here and in the journal: holds move no books.
-- Every account of a merchant with its posted sums now (balances) and the posted
-- sums of its entries created at or after the period's start, and at or after its
-- end. In one statement (one snapshot) the balances agree with the entries, so
-- opening = now - since start, closing = now - since end: the cost is the entries
-- since the period began (index-only scans of entries_account_time_idx), not the
-- whole history.
SELECT a.id, a.code, a.type, a.normal_side, a.currency,
    b.debits_posted, b.credits_posted,
    s.debits_since_from, s.credits_since_from, s.debits_since_to, s.credits_since_to
FROM accounts a
CROSS JOIN LATERAL (
    SELECT coalesce(sum(bl.debits_posted), 0)::numeric AS debits_posted,
        coalesce(sum(bl.credits_posted), 0)::numeric AS credits_posted
    FROM balances bl WHERE bl.account_id = a.id
) b
CROSS JOIN LATERAL (
    SELECT
        coalesce(sum(e.amount) FILTER (WHERE e.side = 'debit'), 0)::numeric AS debits_since_from,
        coalesce(sum(e.amount) FILTER (WHERE e.side = 'credit'), 0)::numeric AS credits_since_from,
        coalesce(sum(e.amount) FILTER (WHERE e.side = 'debit' AND e.created_at >= sqlc.arg(period_to)::timestamptz), 0)::numeric AS debits_since_to,
        coalesce(sum(e.amount) FILTER (WHERE e.side = 'credit' AND e.created_at >= sqlc.arg(period_to)::timestamptz), 0)::numeric AS credits_since_to
    FROM entries e
    WHERE e.account_id = a.id AND e.phase = 'posted' AND e.created_at >= sqlc.arg(period_from)::timestamptz
) s
WHERE a.merchant_id = sqlc.arg(merchant_id)
ORDER BY a.currency, a.code;

-- name: JournalBounds :one
-- The lowest and highest entry id of a merchant's posted entries in a period, found
-- through each account's entries_account_time_idx: the journal then reads the
-- primary key range between them in id order, page by page.
SELECT coalesce(min(e.id), 0)::bigint AS first_id, coalesce(max(e.id), 0)::bigint AS last_id
FROM accounts a JOIN entries e ON e.account_id = a.id
WHERE a.merchant_id = sqlc.arg(merchant_id) AND e.phase = 'posted'
    AND e.created_at >= sqlc.arg(period_from)::timestamptz AND e.created_at < sqlc.arg(period_to)::timestamptz;

-- name: JournalPage :many
-- One page of the journal: a merchant's posted entries of a period in id order
-- after a keyset cursor, up to last_id (JournalBounds).
SELECT e.id, e.transfer_id, t.idempotency_key, t.reference, a.code AS account_code,
    e.side, e.amount, e.currency, e.created_at
FROM entries e
JOIN transfers t ON t.id = e.transfer_id
JOIN accounts a ON a.id = e.account_id
WHERE e.id > sqlc.arg(after)::bigint AND e.id <= sqlc.arg(last_id)::bigint
    AND e.merchant_id = sqlc.arg(merchant_id) AND e.phase = 'posted'
    AND e.created_at >= sqlc.arg(period_from)::timestamptz AND e.created_at < sqlc.arg(period_to)::timestamptz
ORDER BY e.id
LIMIT sqlc.arg(page_size);
