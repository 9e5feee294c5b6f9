-- The invariants ledger.Check proves. Each query returns one line per violation
-- (at most 100), as text for the report.
--
-- Every query takes merchant_id: NULL checks the whole platform (ledger.Check,
-- `tally ledger check`), a merchant's id only that merchant's ledger
-- (ledger.CheckMerchant, what a reconciliation run checks): its accounts, their
-- balance rows and entries, and its transfers. Written as
-- "merchant_id IS NULL OR ...", so that the plan of each call folds the test
-- away: the platform-wide form stays a plain scan, the merchant's form starts
-- from the merchant's accounts or transfers (their merchant_id indexes).

-- name: CheckCounts :one
SELECT (SELECT count(*) FROM transfers t
        WHERE sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id))::bigint AS transfers,
       (SELECT count(*) FROM entries e
        WHERE sqlc.narg(merchant_id)::bigint IS NULL
           OR e.account_id IN (SELECT a.id FROM accounts a WHERE a.merchant_id = sqlc.narg(merchant_id)))::bigint AS entries,
       (SELECT count(*) FROM accounts a
        WHERE sqlc.narg(merchant_id)::bigint IS NULL OR a.merchant_id = sqlc.narg(merchant_id))::bigint AS accounts,
       (SELECT count(*) FROM transfers t WHERE t.state = 'pending'
          AND (sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id)))::bigint AS open_holds,
       (SELECT count(*) FROM transfers t WHERE t.state = 'pending' AND t.expires_at <= now()
          AND (sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id)))::bigint AS overdue_holds;

-- name: CheckUnbalancedTransfers :many
-- Every transfer balances per currency, in each phase on its own.
SELECT format('transfer %s: %s %s entries net %s (debits minus credits)', e.transfer_id, e.phase, e.currency,
    sum(CASE e.side WHEN 'debit' THEN e.amount ELSE -e.amount END))::text AS detail
FROM entries e
WHERE sqlc.narg(merchant_id)::bigint IS NULL
   OR e.transfer_id IN (SELECT t.id FROM transfers t WHERE t.merchant_id = sqlc.narg(merchant_id))
GROUP BY e.transfer_id, e.currency, e.phase
HAVING sum(CASE e.side WHEN 'debit' THEN e.amount ELSE -e.amount END) <> 0
ORDER BY e.transfer_id
LIMIT 100;

-- name: CheckEntryCounts :many
-- Every transfer has at least two entries.
SELECT format('transfer %s has %s entries', t.id, count(e.id))::text AS detail
FROM transfers t LEFT JOIN entries e ON e.transfer_id = t.id
WHERE sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id)
GROUP BY t.id
HAVING count(e.id) < 2
ORDER BY t.id
LIMIT 100;

-- name: CheckEntryPhases :many
-- Holds have pending entries only, plain transfers posted ones, resolutions
-- release and posted ones.
SELECT format('entry %s of transfer %s (%s%s) has phase %s', e.id, t.id, t.state,
    CASE WHEN t.pending_id IS NOT NULL THEN ', resolving ' || t.pending_id ELSE '' END, e.phase)::text AS detail
FROM entries e JOIN transfers t ON t.id = e.transfer_id
WHERE NOT ((t.state <> 'posted' AND e.phase = 'pending')
        OR (t.state = 'posted' AND t.pending_id IS NULL AND e.phase = 'posted')
        OR (t.state = 'posted' AND t.pending_id IS NOT NULL AND e.phase IN ('posted', 'release')))
  AND (sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id))
ORDER BY e.id
LIMIT 100;

-- name: CheckEntryAccounts :many
-- Each entry is on an existing account of its transfer's merchant, in the
-- account's currency, within the currency's scale, on one of the account's slots,
-- with its transfer's time. An entry that mixes merchants is in the scope of
-- each merchant it names.
SELECT format('entry %s of transfer %s on account %s: %s', e.id, e.transfer_id, e.account_id,
    CASE
        WHEN a.id IS NULL THEN 'no such account'
        WHEN e.merchant_id <> a.merchant_id OR e.merchant_id <> t.merchant_id
            THEN format('merchant %s, account of %s, transfer of %s', e.merchant_id, a.merchant_id, t.merchant_id)
        WHEN e.currency <> a.currency THEN format('currency %s on a %s account', e.currency, a.currency)
        WHEN c.code IS NULL THEN format('unknown currency %s', e.currency)
        WHEN e.amount <> round(e.amount, c.scale) THEN format('amount %s exceeds scale %s', e.amount, c.scale)
        WHEN e.slot >= a.slots THEN format('slot %s of %s', e.slot, a.slots)
        ELSE format('created %s, transfer created %s', e.created_at, t.created_at)
    END)::text AS detail
FROM entries e
JOIN transfers t ON t.id = e.transfer_id
LEFT JOIN accounts a ON a.id = e.account_id
LEFT JOIN currencies c ON c.code = e.currency
WHERE (a.id IS NULL OR e.merchant_id <> a.merchant_id OR e.merchant_id <> t.merchant_id
   OR e.currency <> a.currency OR c.code IS NULL OR e.amount <> round(e.amount, c.scale)
   OR e.slot >= a.slots OR e.created_at <> t.created_at)
  AND (sqlc.narg(merchant_id)::bigint IS NULL
   OR sqlc.narg(merchant_id) IN (e.merchant_id, t.merchant_id, a.merchant_id))
ORDER BY e.id
LIMIT 100;

-- name: CheckBalanceRows :many
-- Every balances row equals the sums of the entries that moved it.
WITH s AS (
    SELECT e.account_id, e.slot,
        coalesce(sum(e.amount) FILTER (WHERE e.phase = 'posted' AND e.side = 'debit'), 0) AS dp,
        coalesce(sum(e.amount) FILTER (WHERE e.phase = 'posted' AND e.side = 'credit'), 0) AS cp,
        coalesce(sum(CASE e.phase WHEN 'pending' THEN e.amount WHEN 'release' THEN -e.amount END) FILTER (WHERE e.side = 'debit'), 0) AS dq,
        coalesce(sum(CASE e.phase WHEN 'pending' THEN e.amount WHEN 'release' THEN -e.amount END) FILTER (WHERE e.side = 'credit'), 0) AS cq
    FROM entries e
    WHERE sqlc.narg(merchant_id)::bigint IS NULL
       OR e.account_id IN (SELECT a.id FROM accounts a WHERE a.merchant_id = sqlc.narg(merchant_id))
    GROUP BY e.account_id, e.slot
), b AS (
    SELECT bb.account_id, bb.slot, bb.debits_posted, bb.credits_posted, bb.debits_pending, bb.credits_pending
    FROM balances bb
    WHERE sqlc.narg(merchant_id)::bigint IS NULL
       OR bb.account_id IN (SELECT a.id FROM accounts a WHERE a.merchant_id = sqlc.narg(merchant_id))
)
SELECT format('account %s slot %s: stored posted %s/%s pending %s/%s (debits/credits), entries sum to %s/%s and %s/%s',
    coalesce(b.account_id, s.account_id), coalesce(b.slot, s.slot),
    b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending,
    coalesce(s.dp, 0), coalesce(s.cp, 0), coalesce(s.dq, 0), coalesce(s.cq, 0))::text AS detail
FROM b FULL JOIN s ON s.account_id = b.account_id AND s.slot = b.slot
WHERE b.account_id IS NULL
   OR b.debits_posted <> coalesce(s.dp, 0) OR b.credits_posted <> coalesce(s.cp, 0)
   OR b.debits_pending <> coalesce(s.dq, 0) OR b.credits_pending <> coalesce(s.cq, 0)
ORDER BY 1
LIMIT 100;

-- name: CheckBalanceAttributes :many
-- Balance rows copy their account's merchant, normal side and negativity, and an
-- account has exactly its number of slots.
SELECT format('account %s (%s): %s', a.id, a.code,
    CASE WHEN b.n <> a.slots THEN format('%s balance rows for %s slots', b.n, a.slots)
         ELSE 'balance rows disagree with the account on merchant, normal side, negativity or slot numbers' END)::text AS detail
FROM accounts a
JOIN (SELECT bb.account_id, count(*) AS n,
             count(DISTINCT (bb.merchant_id, bb.normal_side, bb.allow_negative)) AS variants,
             min(bb.merchant_id) AS merchant_id, min(bb.normal_side) AS normal_side, bool_and(bb.allow_negative) AS allow_negative,
             max(bb.slot) AS max_slot
      FROM balances bb
      WHERE sqlc.narg(merchant_id)::bigint IS NULL
         OR bb.account_id IN (SELECT ma.id FROM accounts ma WHERE ma.merchant_id = sqlc.narg(merchant_id))
      GROUP BY bb.account_id) b ON b.account_id = a.id
WHERE (b.n <> a.slots OR b.variants <> 1 OR b.merchant_id <> a.merchant_id OR b.normal_side <> a.normal_side
   OR b.allow_negative <> a.allow_negative OR b.max_slot >= a.slots)
  AND (sqlc.narg(merchant_id)::bigint IS NULL OR a.merchant_id = sqlc.narg(merchant_id))
UNION ALL
SELECT format('account %s (%s) has no balance rows', a.id, a.code)::text
FROM accounts a
WHERE NOT EXISTS (SELECT 1 FROM balances b WHERE b.account_id = a.id)
  AND (sqlc.narg(merchant_id)::bigint IS NULL OR a.merchant_id = sqlc.narg(merchant_id))
LIMIT 100;

-- name: CheckNegativeBalances :many
-- No account that forbids it has a negative available balance.
SELECT format('account %s (%s) has available %s', a.id, a.code,
    CASE a.normal_side WHEN 'credit' THEN b.cp - b.dp - b.dq ELSE b.dp - b.cp - b.cq END)::text AS detail
FROM accounts a
JOIN (SELECT bb.account_id, sum(bb.debits_posted) AS dp, sum(bb.credits_posted) AS cp,
             sum(bb.debits_pending) AS dq, sum(bb.credits_pending) AS cq
      FROM balances bb
      WHERE sqlc.narg(merchant_id)::bigint IS NULL
         OR bb.account_id IN (SELECT ma.id FROM accounts ma WHERE ma.merchant_id = sqlc.narg(merchant_id))
      GROUP BY bb.account_id) b ON b.account_id = a.id
WHERE NOT a.allow_negative
  AND CASE a.normal_side WHEN 'credit' THEN b.cp - b.dp - b.dq ELSE b.dp - b.cp - b.cq END < 0
  AND (sqlc.narg(merchant_id)::bigint IS NULL OR a.merchant_id = sqlc.narg(merchant_id))
ORDER BY a.id
LIMIT 100;

-- name: CheckPendingMatchesHolds :many
-- The pending columns of each account are exactly what its open holds hold.
WITH h AS (
    SELECT e.account_id,
        coalesce(sum(e.amount) FILTER (WHERE e.side = 'debit'), 0) AS dq,
        coalesce(sum(e.amount) FILTER (WHERE e.side = 'credit'), 0) AS cq
    FROM entries e JOIN transfers t ON t.id = e.transfer_id
    WHERE t.state = 'pending' AND e.phase = 'pending'
      AND (sqlc.narg(merchant_id)::bigint IS NULL
       OR e.account_id IN (SELECT a.id FROM accounts a WHERE a.merchant_id = sqlc.narg(merchant_id)))
    GROUP BY e.account_id
), b AS (
    SELECT bb.account_id, sum(bb.debits_pending) AS dq, sum(bb.credits_pending) AS cq
    FROM balances bb
    WHERE sqlc.narg(merchant_id)::bigint IS NULL
       OR bb.account_id IN (SELECT a.id FROM accounts a WHERE a.merchant_id = sqlc.narg(merchant_id))
    GROUP BY bb.account_id
)
SELECT format('account %s: pending %s/%s (debits/credits), open holds hold %s/%s',
    b.account_id, b.dq, b.cq, coalesce(h.dq, 0), coalesce(h.cq, 0))::text AS detail
FROM b LEFT JOIN h ON h.account_id = b.account_id
WHERE b.dq <> coalesce(h.dq, 0) OR b.cq <> coalesce(h.cq, 0)
ORDER BY b.account_id
LIMIT 100;

-- name: CheckHoldStates :many
-- A pending hold has no resolution; a committed one exactly one that posts; a
-- voided or expired one exactly one that posts nothing (an expired one had a
-- deadline). Only holds are resolved.
SELECT format('transfer %s (%s): %s resolutions, %s posting', t.id, t.state, count(r.id),
    count(r.id) FILTER (WHERE r.posts))::text AS detail
FROM transfers t
LEFT JOIN (
    SELECT rt.id, rt.pending_id,
        EXISTS (SELECT 1 FROM entries e WHERE e.transfer_id = rt.id AND e.phase = 'posted') AS posts
    FROM transfers rt WHERE rt.pending_id IS NOT NULL
) r ON r.pending_id = t.id
WHERE (t.state <> 'posted' OR r.id IS NOT NULL)
  AND (sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id))
GROUP BY t.id, t.state, t.expires_at
HAVING NOT ((t.state = 'pending' AND count(r.id) = 0)
         OR (t.state = 'committed' AND count(r.id) = 1 AND count(r.id) FILTER (WHERE r.posts) = 1)
         OR (t.state = 'voided' AND count(r.id) = 1 AND count(r.id) FILTER (WHERE r.posts) = 0)
         OR (t.state = 'expired' AND t.expires_at IS NOT NULL AND count(r.id) = 1 AND count(r.id) FILTER (WHERE r.posts) = 0))
ORDER BY t.id
LIMIT 100;

-- name: CheckReleases :many
-- A resolution releases exactly what its hold held, account by account.
WITH h AS (
    SELECT t.id AS hold, e.account_id, e.side, sum(e.amount) AS amt
    FROM transfers t JOIN entries e ON e.transfer_id = t.id AND e.phase = 'pending'
    WHERE t.state IN ('committed', 'voided', 'expired')
      AND (sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id))
    GROUP BY 1, 2, 3
), r AS (
    SELECT t.pending_id AS hold, e.account_id, e.side, sum(e.amount) AS amt
    FROM transfers t JOIN entries e ON e.transfer_id = t.id AND e.phase = 'release'
    WHERE t.pending_id IS NOT NULL
      AND (sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id))
    GROUP BY 1, 2, 3
)
SELECT format('hold %s account %s %s: held %s, released %s', coalesce(h.hold, r.hold),
    coalesce(h.account_id, r.account_id), coalesce(h.side, r.side), coalesce(h.amt, 0), coalesce(r.amt, 0))::text AS detail
FROM h FULL JOIN r ON r.hold = h.hold AND r.account_id = h.account_id AND r.side = h.side
WHERE h.amt IS DISTINCT FROM r.amt
ORDER BY 1
LIMIT 100;

-- name: CheckPostsWithinHolds :many
-- A post never moves more on an account and side than its hold held there.
WITH h AS (
    SELECT t.id AS hold, e.account_id, e.side, sum(e.amount) AS amt
    FROM transfers t JOIN entries e ON e.transfer_id = t.id AND e.phase = 'pending'
    WHERE sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id)
    GROUP BY 1, 2, 3
), p AS (
    SELECT t.pending_id AS hold, e.account_id, e.side, sum(e.amount) AS amt
    FROM transfers t JOIN entries e ON e.transfer_id = t.id AND e.phase = 'posted'
    WHERE t.pending_id IS NOT NULL
      AND (sqlc.narg(merchant_id)::bigint IS NULL OR t.merchant_id = sqlc.narg(merchant_id))
    GROUP BY 1, 2, 3
)
SELECT format('hold %s account %s %s: held %s, posted %s', p.hold, p.account_id, p.side, coalesce(h.amt, 0), p.amt)::text AS detail
FROM p LEFT JOIN h ON h.hold = p.hold AND h.account_id = p.account_id AND h.side = p.side
WHERE h.amt IS NULL OR p.amt > h.amt
ORDER BY 1
LIMIT 100;
