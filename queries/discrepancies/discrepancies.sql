-- name: UpsertDiscrepancy :one
-- Open a discrepancy, or count another sighting of the same one. It opens again
-- when a run had closed it automatically, or when an accountant had closed it
-- and it comes back with another amount (a new drift after a write-off); one an
-- accountant closed that comes back unchanged stays as they left it, amounts
-- and all.
INSERT INTO discrepancies (merchant_id, provider_account_id, order_id, type, fingerprint, severity, currency,
                           expected, actual, amount_delta, summary, detail, suspense_amount, last_run_id)
VALUES (@merchant_id, @provider_account_id, @order_id, @type, @fingerprint, @severity, @currency,
        @expected, @actual, @amount_delta, @summary, @detail, @suspense_amount, @last_run_id)
ON CONFLICT (merchant_id, fingerprint) DO UPDATE SET
    last_seen_at = now(),
    seen_count = discrepancies.seen_count + 1,
    last_run_id = COALESCE(EXCLUDED.last_run_id, discrepancies.last_run_id),
    expected = CASE WHEN discrepancies.status = 'open' OR discrepancies.resolution = 'auto_closed'
                         OR discrepancies.amount_delta <> EXCLUDED.amount_delta
                    THEN EXCLUDED.expected ELSE discrepancies.expected END,
    actual = CASE WHEN discrepancies.status = 'open' OR discrepancies.resolution = 'auto_closed'
                       OR discrepancies.amount_delta <> EXCLUDED.amount_delta
                  THEN EXCLUDED.actual ELSE discrepancies.actual END,
    summary = CASE WHEN discrepancies.status = 'open' OR discrepancies.resolution = 'auto_closed'
                        OR discrepancies.amount_delta <> EXCLUDED.amount_delta
                   THEN EXCLUDED.summary ELSE discrepancies.summary END,
    suspense_amount = GREATEST(discrepancies.suspense_amount, EXCLUDED.suspense_amount),
    status = CASE WHEN discrepancies.status <> 'open'
                       AND (discrepancies.resolution = 'auto_closed' OR discrepancies.amount_delta <> EXCLUDED.amount_delta)
                  THEN 'open' ELSE discrepancies.status END,
    resolution = CASE WHEN discrepancies.status <> 'open'
                           AND (discrepancies.resolution = 'auto_closed' OR discrepancies.amount_delta <> EXCLUDED.amount_delta)
                      THEN '' ELSE discrepancies.resolution END,
    resolved_at = CASE WHEN discrepancies.status <> 'open'
                            AND (discrepancies.resolution = 'auto_closed' OR discrepancies.amount_delta <> EXCLUDED.amount_delta)
                       THEN NULL ELSE discrepancies.resolved_at END,
    amount_delta = CASE WHEN discrepancies.status = 'open' OR discrepancies.resolution = 'auto_closed'
                             OR discrepancies.amount_delta <> EXCLUDED.amount_delta
                        THEN EXCLUDED.amount_delta ELSE discrepancies.amount_delta END
RETURNING *, (xmax = 0) AS inserted;

-- name: InsertDiscrepancyEvent :exec
INSERT INTO discrepancy_events (discrepancy_id, action, actor, note, detail)
VALUES (@discrepancy_id, @action, @actor, @note, @detail);

-- name: GetDiscrepancy :one
SELECT * FROM discrepancies WHERE id = $1;

-- name: GetDiscrepancyForUpdate :one
SELECT * FROM discrepancies WHERE id = $1 FOR UPDATE;

-- name: DiscrepancyByFingerprint :one
SELECT * FROM discrepancies WHERE merchant_id = @merchant_id AND fingerprint = @fingerprint;

-- name: ListDiscrepancies :many
SELECT * FROM discrepancies
WHERE (sqlc.narg(merchant_id)::bigint IS NULL OR merchant_id = sqlc.narg(merchant_id))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(type)::text IS NULL OR type = sqlc.narg(type))
  AND (sqlc.narg(provider_account_id)::bigint IS NULL OR provider_account_id = sqlc.narg(provider_account_id))
  AND (sqlc.narg(order_id)::bigint IS NULL OR order_id = sqlc.narg(order_id))
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id))
ORDER BY id DESC
LIMIT @row_limit;

-- name: ListDiscrepancyEvents :many
SELECT * FROM discrepancy_events WHERE discrepancy_id = $1 ORDER BY id;

-- name: MarkDiscrepancyRepaired :one
UPDATE discrepancies SET repaired = true, last_seen_at = now()
WHERE id = $1
RETURNING *;

-- name: CloseDiscrepancy :one
UPDATE discrepancies SET status = @status, resolved_at = now(), resolved_by = @resolved_by,
    resolution = @resolution, resolution_note = @resolution_note, resolution_transfer_key = @resolution_transfer_key
WHERE id = @id AND status = 'open'
RETURNING *;

-- name: CountOpenDiscrepancies :many
SELECT type, count(*)::bigint AS n FROM discrepancies
WHERE status = 'open' AND (sqlc.narg(merchant_id)::bigint IS NULL OR merchant_id = sqlc.narg(merchant_id))
GROUP BY type ORDER BY type;

-- name: ClearOrderSuspense :exec
-- The money parked for an order left suspense (the order was reversed).
UPDATE discrepancies SET suspense_amount = 0
WHERE order_id = @order_id AND status = 'open' AND type IN ('amount_mismatch', 'unknown_order');

-- name: TouchOrderDiscrepancies :exec
-- A run could not check an order: its open discrepancies count as seen, so that
-- the run does not close them as consistent.
UPDATE discrepancies SET last_run_id = @run_id, last_seen_at = now()
WHERE order_id = @order_id AND status = 'open';

-- The discrepancy queue (Query): one query per sort, each walking its index
-- (migration 00028) in order from a keyset cursor; never OFFSET. The filters
-- are all optional (NULL matches everything).

-- name: QueueNewest :many
-- newest first (by first sighting, then id).
SELECT * FROM discrepancies
WHERE (sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(types)::text[] IS NULL OR type = ANY(sqlc.narg(types)::text[]))
  AND (sqlc.narg(severities)::text[] IS NULL OR severity = ANY(sqlc.narg(severities)::text[]))
  AND (sqlc.narg(provider_account_id)::bigint IS NULL OR provider_account_id = sqlc.narg(provider_account_id)::bigint)
  AND (sqlc.narg(order_id)::bigint IS NULL OR order_id = sqlc.narg(order_id)::bigint)
  AND (sqlc.narg(assigned_to)::bigint IS NULL OR (sqlc.narg(assigned_to)::bigint = -1 AND assigned_to IS NULL)
       OR assigned_to = sqlc.narg(assigned_to)::bigint)
  AND (sqlc.narg(opened_before)::timestamptz IS NULL OR first_seen_at < sqlc.narg(opened_before)::timestamptz)
  AND (sqlc.narg(opened_after)::timestamptz IS NULL OR first_seen_at >= sqlc.narg(opened_after)::timestamptz)
  AND (sqlc.narg(min_amount)::numeric IS NULL OR abs(amount_delta) >= sqlc.narg(min_amount)::numeric)
  AND (sqlc.narg(max_amount)::numeric IS NULL OR abs(amount_delta) <= sqlc.narg(max_amount)::numeric)
  AND (sqlc.narg(cursor_time)::timestamptz IS NULL OR (first_seen_at, id) < (sqlc.narg(cursor_time)::timestamptz, sqlc.narg(cursor_id)::bigint))
ORDER BY first_seen_at DESC, id DESC
LIMIT @row_limit;

-- name: QueueOldest :many
-- oldest first.
SELECT * FROM discrepancies
WHERE (sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(types)::text[] IS NULL OR type = ANY(sqlc.narg(types)::text[]))
  AND (sqlc.narg(severities)::text[] IS NULL OR severity = ANY(sqlc.narg(severities)::text[]))
  AND (sqlc.narg(provider_account_id)::bigint IS NULL OR provider_account_id = sqlc.narg(provider_account_id)::bigint)
  AND (sqlc.narg(order_id)::bigint IS NULL OR order_id = sqlc.narg(order_id)::bigint)
  AND (sqlc.narg(assigned_to)::bigint IS NULL OR (sqlc.narg(assigned_to)::bigint = -1 AND assigned_to IS NULL)
       OR assigned_to = sqlc.narg(assigned_to)::bigint)
  AND (sqlc.narg(opened_before)::timestamptz IS NULL OR first_seen_at < sqlc.narg(opened_before)::timestamptz)
  AND (sqlc.narg(opened_after)::timestamptz IS NULL OR first_seen_at >= sqlc.narg(opened_after)::timestamptz)
  AND (sqlc.narg(min_amount)::numeric IS NULL OR abs(amount_delta) >= sqlc.narg(min_amount)::numeric)
  AND (sqlc.narg(max_amount)::numeric IS NULL OR abs(amount_delta) <= sqlc.narg(max_amount)::numeric)
  AND (sqlc.narg(cursor_time)::timestamptz IS NULL OR (first_seen_at, id) > (sqlc.narg(cursor_time)::timestamptz, sqlc.narg(cursor_id)::bigint))
ORDER BY first_seen_at, id
LIMIT @row_limit;

-- name: QueueAmountDesc :many
-- largest amount at stake first.
SELECT * FROM discrepancies
WHERE (sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(types)::text[] IS NULL OR type = ANY(sqlc.narg(types)::text[]))
  AND (sqlc.narg(severities)::text[] IS NULL OR severity = ANY(sqlc.narg(severities)::text[]))
  AND (sqlc.narg(provider_account_id)::bigint IS NULL OR provider_account_id = sqlc.narg(provider_account_id)::bigint)
  AND (sqlc.narg(order_id)::bigint IS NULL OR order_id = sqlc.narg(order_id)::bigint)
  AND (sqlc.narg(assigned_to)::bigint IS NULL OR (sqlc.narg(assigned_to)::bigint = -1 AND assigned_to IS NULL)
       OR assigned_to = sqlc.narg(assigned_to)::bigint)
  AND (sqlc.narg(opened_before)::timestamptz IS NULL OR first_seen_at < sqlc.narg(opened_before)::timestamptz)
  AND (sqlc.narg(opened_after)::timestamptz IS NULL OR first_seen_at >= sqlc.narg(opened_after)::timestamptz)
  AND (sqlc.narg(min_amount)::numeric IS NULL OR abs(amount_delta) >= sqlc.narg(min_amount)::numeric)
  AND (sqlc.narg(max_amount)::numeric IS NULL OR abs(amount_delta) <= sqlc.narg(max_amount)::numeric)
  AND (sqlc.narg(cursor_amount)::numeric IS NULL OR (abs(amount_delta), id) < (sqlc.narg(cursor_amount)::numeric, sqlc.narg(cursor_id)::bigint))
ORDER BY abs(amount_delta) DESC, id DESC
LIMIT @row_limit;

-- name: QueueAmountAsc :many
-- smallest amount at stake first.
SELECT * FROM discrepancies
WHERE (sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(types)::text[] IS NULL OR type = ANY(sqlc.narg(types)::text[]))
  AND (sqlc.narg(severities)::text[] IS NULL OR severity = ANY(sqlc.narg(severities)::text[]))
  AND (sqlc.narg(provider_account_id)::bigint IS NULL OR provider_account_id = sqlc.narg(provider_account_id)::bigint)
  AND (sqlc.narg(order_id)::bigint IS NULL OR order_id = sqlc.narg(order_id)::bigint)
  AND (sqlc.narg(assigned_to)::bigint IS NULL OR (sqlc.narg(assigned_to)::bigint = -1 AND assigned_to IS NULL)
       OR assigned_to = sqlc.narg(assigned_to)::bigint)
  AND (sqlc.narg(opened_before)::timestamptz IS NULL OR first_seen_at < sqlc.narg(opened_before)::timestamptz)
  AND (sqlc.narg(opened_after)::timestamptz IS NULL OR first_seen_at >= sqlc.narg(opened_after)::timestamptz)
  AND (sqlc.narg(min_amount)::numeric IS NULL OR abs(amount_delta) >= sqlc.narg(min_amount)::numeric)
  AND (sqlc.narg(max_amount)::numeric IS NULL OR abs(amount_delta) <= sqlc.narg(max_amount)::numeric)
  AND (sqlc.narg(cursor_amount)::numeric IS NULL OR (abs(amount_delta), id) > (sqlc.narg(cursor_amount)::numeric, sqlc.narg(cursor_id)::bigint))
ORDER BY abs(amount_delta), id
LIMIT @row_limit;

-- name: QueueSeverity :many
-- most severe first, newest first within a severity.
SELECT * FROM discrepancies
WHERE (sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(types)::text[] IS NULL OR type = ANY(sqlc.narg(types)::text[]))
  AND (sqlc.narg(severities)::text[] IS NULL OR severity = ANY(sqlc.narg(severities)::text[]))
  AND (sqlc.narg(provider_account_id)::bigint IS NULL OR provider_account_id = sqlc.narg(provider_account_id)::bigint)
  AND (sqlc.narg(order_id)::bigint IS NULL OR order_id = sqlc.narg(order_id)::bigint)
  AND (sqlc.narg(assigned_to)::bigint IS NULL OR (sqlc.narg(assigned_to)::bigint = -1 AND assigned_to IS NULL)
       OR assigned_to = sqlc.narg(assigned_to)::bigint)
  AND (sqlc.narg(opened_before)::timestamptz IS NULL OR first_seen_at < sqlc.narg(opened_before)::timestamptz)
  AND (sqlc.narg(opened_after)::timestamptz IS NULL OR first_seen_at >= sqlc.narg(opened_after)::timestamptz)
  AND (sqlc.narg(min_amount)::numeric IS NULL OR abs(amount_delta) >= sqlc.narg(min_amount)::numeric)
  AND (sqlc.narg(max_amount)::numeric IS NULL OR abs(amount_delta) <= sqlc.narg(max_amount)::numeric)
  AND (sqlc.narg(cursor_rank)::smallint IS NULL OR (severity_rank, id) < (sqlc.narg(cursor_rank)::smallint, sqlc.narg(cursor_id)::bigint))
ORDER BY severity_rank DESC, id DESC
LIMIT @row_limit;

-- name: AssignDiscrepancy :one
-- Assign an open discrepancy to a staff user (NULL unassigns).
UPDATE discrepancies SET assigned_to = sqlc.narg(assigned_to)::bigint,
    assigned_at = CASE WHEN sqlc.narg(assigned_to)::bigint IS NULL THEN NULL ELSE now() END
WHERE id = @id AND status = 'open'
RETURNING *;

-- name: OpenSummary :many
-- Open discrepancies by type, severity and age bucket, for the console overview.
SELECT type, severity,
       (CASE WHEN first_seen_at > now() - interval '1 day' THEN 'lt_1d'
             WHEN first_seen_at > now() - interval '7 days' THEN '1d_7d'
             WHEN first_seen_at > now() - interval '30 days' THEN '7d_30d'
             ELSE 'gt_30d' END)::text AS age,
       count(*)::bigint AS n
FROM discrepancies
WHERE status = 'open' AND (sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
GROUP BY 1, 2, 3;
