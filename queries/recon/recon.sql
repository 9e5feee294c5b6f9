-- name: InsertRun :one
INSERT INTO recon_runs (merchant_id, provider_account_id, kind, window_start, window_end, statement_id, trigger)
VALUES (@merchant_id, @provider_account_id, @kind, @window_start, @window_end, @statement_id, @trigger)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: ScheduledRun :one
-- The run (running or completed) that holds a scheduled window.
SELECT * FROM recon_runs
WHERE trigger = 'schedule' AND kind = @kind AND provider_account_id = @provider_account_id
  AND window_start = @window_start AND window_end = @window_end AND status <> 'failed';

-- name: RunByID :one
SELECT * FROM recon_runs WHERE id = $1;

-- name: RunForUpdate :one
SELECT * FROM recon_runs WHERE id = $1 FOR UPDATE;

-- name: SaveCheckpoint :execrows
-- Save a running run's checkpoint; 0 rows: the run is no longer running (the
-- sweep failed it) and its executor must stop.
UPDATE recon_runs SET checkpoint = @checkpoint, heartbeat_at = now() WHERE id = @id AND status = 'running';

-- name: FinishRun :one
-- End a running run; no row: it had ended already (the sweep failed it), and
-- the window may be running again elsewhere.
UPDATE recon_runs SET status = @status, summary = @summary, error = @error, finished_at = now(), heartbeat_at = now()
WHERE id = @id AND status = 'running'
RETURNING *;

-- name: ListRuns :many
SELECT * FROM recon_runs
WHERE merchant_id = @merchant_id
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id))
ORDER BY id DESC
LIMIT @row_limit;

-- name: AbandonedRuns :many
SELECT * FROM recon_runs WHERE status = 'running' AND heartbeat_at < @before ORDER BY id LIMIT 100;

-- name: RecordRunFinding :exec
INSERT INTO recon_run_findings (run_id, discrepancy_id, new, repaired, auto_closed)
VALUES (@run_id, @discrepancy_id, @new, @repaired, @auto_closed)
ON CONFLICT (run_id, discrepancy_id) DO UPDATE SET
    new = recon_run_findings.new OR EXCLUDED.new,
    repaired = recon_run_findings.repaired OR EXCLUDED.repaired,
    auto_closed = recon_run_findings.auto_closed OR EXCLUDED.auto_closed;

-- name: RunFindings :many
SELECT f.new, f.repaired, f.auto_closed, d.id, d.type, d.severity, d.status, d.currency, d.expected, d.actual,
       d.amount_delta, d.summary, d.order_id, COALESCE(pa.name, '')::text AS provider_account,
       COALESCE(o.provider_order_no, '')::text AS order_no
FROM recon_run_findings f
JOIN discrepancies d ON d.id = f.discrepancy_id
LEFT JOIN provider_accounts pa ON pa.id = d.provider_account_id
LEFT JOIN orders o ON o.id = d.order_id
WHERE f.run_id = @run_id AND d.id > @after_id
ORDER BY d.id
LIMIT @row_limit;

-- name: RunFindingCounts :many
SELECT COALESCE(pa.name, '')::text AS provider_account, d.currency, d.type,
       count(*)::bigint AS found, count(*) FILTER (WHERE f.new)::bigint AS new,
       count(*) FILTER (WHERE f.auto_closed)::bigint AS auto_closed,
       COALESCE(sum(d.amount_delta) FILTER (WHERE NOT f.auto_closed), 0)::numeric AS amount_delta
FROM recon_run_findings f
JOIN discrepancies d ON d.id = f.discrepancy_id
LEFT JOIN provider_accounts pa ON pa.id = d.provider_account_id
WHERE f.run_id = @run_id
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- name: OrdersInWindow :many
-- A page of a provider account's orders created in a window, by id.
SELECT * FROM orders
WHERE provider_account_id = @provider_account_id AND created_at >= @window_start AND created_at < @window_end
  AND id > @after_id
ORDER BY id
LIMIT @row_limit;

-- name: OpenDiscrepanciesNotSeen :many
-- Open discrepancies of the given types about orders of an account in a window
-- (or about the account itself) that nothing found again since a run started.
SELECT d.* FROM discrepancies d
LEFT JOIN orders o ON o.id = d.order_id
WHERE d.status = 'open' AND d.provider_account_id = @provider_account_id
  AND d.type = ANY(@types::text[])
  AND d.last_seen_at < @started_at
  AND (d.order_id IS NULL OR (o.created_at >= @window_start AND o.created_at < @window_end))
ORDER BY d.id
LIMIT 1000;

-- name: OpenMerchantDiscrepanciesNotSeen :many
SELECT * FROM discrepancies
WHERE status = 'open' AND merchant_id = @merchant_id AND type = @type AND provider_account_id IS NULL
  AND last_run_id IS DISTINCT FROM @run_id::bigint;

-- name: InsertStatement :one
INSERT INTO statements (merchant_id, provider_account_id, filename, sha256, imported_by)
VALUES (@merchant_id, @provider_account_id, @filename, @sha256, @imported_by)
ON CONFLICT (provider_account_id, sha256) DO NOTHING
RETURNING *;

-- name: StatementBySHA :one
SELECT * FROM statements WHERE provider_account_id = @provider_account_id AND sha256 = @sha256;

-- name: StatementByID :one
SELECT * FROM statements WHERE id = $1;

-- name: FinishStatement :one
UPDATE statements st SET lines = @lines, bad_lines = @bad_lines, errors = @errors,
    period_start = (SELECT min(l.settled_at) FROM statement_lines l WHERE l.statement_id = st.id),
    period_end = (SELECT max(l.settled_at) FROM statement_lines l WHERE l.statement_id = st.id)
WHERE st.id = @id
RETURNING *;

-- name: CopyStatementLines :copyfrom
INSERT INTO statement_lines (statement_id, line_no, order_no, provider_order_id, kind, status, amount, fee, currency, settled_at, part_id, requested)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: BuildStatementOrders :execrows
-- One row per order of a statement. Lines with distinct part ids are parts of one
-- settlement and are summed; lines without a part id are the same order stated
-- again (a repeat, or a later status such as reversed): the latest one counts.
-- The status of an order is its latest line's.
INSERT INTO statement_orders (statement_id, key, order_no, provider_order_id, kind, status, amount, fee, currency,
                              currencies, requested, settled_at, lines, first_line)
SELECT @statement_id::bigint,
       CASE WHEN order_no <> '' THEN order_no ELSE 'wallet:' || provider_order_id END AS key,
       max(order_no), max(provider_order_id), max(kind),
       (array_agg(status ORDER BY settled_at DESC, line_no DESC))[1],
       CASE WHEN count(*) FILTER (WHERE part_id <> '') > 0
            THEN sum(amount) FILTER (WHERE part_id <> '')
            ELSE (array_agg(amount ORDER BY settled_at DESC, line_no DESC))[1] END,
       CASE WHEN count(*) FILTER (WHERE part_id <> '') > 0
            THEN CASE WHEN count(fee) FILTER (WHERE part_id <> '') > 0 THEN sum(fee) FILTER (WHERE part_id <> '') END
            ELSE (array_agg(fee ORDER BY settled_at DESC, line_no DESC))[1] END,
       max(currency), count(DISTINCT currency)::int, max(requested), max(settled_at), count(*)::int, min(line_no)
FROM statement_lines
WHERE statement_id = @statement_id::bigint
GROUP BY 2;

-- name: StatementPage :many
-- A page of a statement's orders, each with the tally order of the same number.
SELECT s.key, s.order_no, s.provider_order_id, s.kind, s.status, s.amount, s.fee, s.currency, s.currencies,
       s.requested, s.settled_at, s.lines, s.first_line,
       o.id AS order_id, o.status AS order_status, o.kind AS order_kind, o.amount AS order_amount,
       o.currency AS order_currency, o.pay_currency AS order_pay_currency, o.paid_amount AS order_paid,
       o.fee AS order_fee, o.settled_currency AS order_settled_currency, o.final_at AS order_final_at,
       o.created_at AS order_created_at, o.origin AS order_origin
FROM statement_orders s
-- By the order number tally sent; a line naming only the provider's id finds
-- the order by that id. The ids are looked up first, with an index each: the
-- same condition written as one join condition with OR could use no index and
-- joined every line with every order of the account (tally bench recon).
LEFT JOIN orders o ON o.id = ANY (ARRAY(
    SELECT x.id FROM orders x
    WHERE x.provider_account_id = @provider_account_id AND x.provider_order_no = s.key
    UNION ALL
    SELECT x.id FROM orders x
    WHERE s.order_no = '' AND s.provider_order_id <> '' AND x.provider_account_id = @provider_account_id
      AND x.provider_order_id = s.provider_order_id AND x.provider_order_id <> ''))
WHERE s.statement_id = @statement_id AND s.key > @after_key
ORDER BY s.key
LIMIT @row_limit;

-- name: OrdersMissingFromStatement :many
-- A page of an account's orders settled in a window that a statement does not list.
SELECT o.* FROM orders o
WHERE o.provider_account_id = @provider_account_id AND o.status IN ('succeeded', 'reversed')
  AND o.final_at >= @window_start AND o.final_at < @window_end
  AND o.id > @after_id
  AND NOT EXISTS (SELECT 1 FROM statement_orders s WHERE s.statement_id = @statement_id AND s.key = o.provider_order_no)
ORDER BY o.id
LIMIT @row_limit;

-- name: UnprocessedCallbacks :many
SELECT id FROM callback_inbox
WHERE provider_account_id = @provider_account_id AND processed_at IS NULL AND verdict = 'accepted'
ORDER BY id LIMIT 1000;

-- name: SetStatementHash :exec
UPDATE statements SET sha256 = @sha256 WHERE id = @id;

-- name: OrderRow :one
SELECT * FROM orders WHERE id = $1;

-- name: OrderRows :many
-- The orders of a page of a statement, read in one round trip.
SELECT * FROM orders WHERE id = ANY(@ids::bigint[]);

-- name: OverdueOrders :many
-- A page of an account's open orders whose deadline (expires_at, or created_at
-- plus the default lifetime when it is NULL) fell in [window_start,
-- deadline_before) and that were created outside [window_start, window_end)
-- (those the run's orders phase checks). created_from and created_before are
-- the deadline bounds less the default lifetime. Every deadline falls in one
-- scheduled window, so every open order past its deadline is looked at,
-- whatever window it was created in.
SELECT * FROM orders
WHERE provider_account_id = @provider_account_id AND status IN ('created', 'pending', 'processing')
  AND ((expires_at >= @window_start AND expires_at < @deadline_before)
       OR (expires_at IS NULL AND created_at >= @created_from AND created_at < @created_before))
  AND (created_at < @window_start OR created_at >= @window_end)
  AND id > @after_id
ORDER BY id
LIMIT @row_limit;

-- name: StalePendingSettled :many
-- Open stale_pending discrepancies of an account whose order has since ended
-- normally (succeeded, failed or reversed; an expired order stays for an
-- accountant) and that nothing found again since a run started.
SELECT d.id, o.status AS order_status FROM discrepancies d
JOIN orders o ON o.id = d.order_id
WHERE d.status = 'open' AND d.type = 'stale_pending' AND d.provider_account_id = @provider_account_id
  AND o.status IN ('succeeded', 'failed', 'reversed') AND d.last_seen_at < @started_at
ORDER BY d.id
LIMIT 1000;

-- name: LastScheduledWindowEnd :one
-- The end of the latest scheduled window of a kind and length for an account.
SELECT window_end FROM recon_runs
WHERE trigger = 'schedule' AND kind = @kind AND provider_account_id = @provider_account_id
  AND EXTRACT(EPOCH FROM window_end - window_start)::bigint = @length_seconds::bigint
ORDER BY window_end DESC
LIMIT 1;

-- name: OpenDiscrepanciesInStatement :many
-- Open discrepancies of the given types about orders a statement lists (by
-- order number, or by the provider's id on lines without one) that nothing
-- found again since a run started, a page at a time by id.
SELECT d.* FROM discrepancies d
JOIN orders o ON o.id = d.order_id
WHERE d.status = 'open' AND d.provider_account_id = @provider_account_id
  AND d.type = ANY(@types::text[])
  AND d.last_seen_at < @started_at
  AND d.id > @after_id
  AND EXISTS (SELECT 1 FROM statement_orders s WHERE s.statement_id = @statement_id
              AND (s.key = o.provider_order_no
                   OR (s.order_no = '' AND s.provider_order_id <> '' AND s.provider_order_id = o.provider_order_id)))
ORDER BY d.id
LIMIT 500;

-- name: RunsWithin :many
-- A merchant's completed runs whose window lies within [from_time, to_time).
SELECT * FROM recon_runs
WHERE merchant_id = @merchant_id AND status = 'completed' AND window_start >= @from_time AND window_end <= @to_time
ORDER BY id;

-- name: RunsStraddling :one
-- How many of a merchant's completed runs overlap [from_time, to_time) without
-- lying within it.
SELECT count(*)::bigint FROM recon_runs
WHERE merchant_id = @merchant_id AND status = 'completed' AND window_start < @to_time AND window_end > @from_time
  AND NOT (window_start >= @from_time AND window_end <= @to_time);

-- name: FailedScheduledWindows :many
-- Scheduled windows of a kind and length for an account, ending after a time,
-- whose runs all failed, fewer than max_failures times: the schedule runs them
-- again.
SELECT window_start, window_end, count(*)::bigint AS failures FROM recon_runs
WHERE trigger = 'schedule' AND kind = @kind AND provider_account_id = @provider_account_id
  AND EXTRACT(EPOCH FROM window_end - window_start)::bigint = @length_seconds::bigint
  AND window_end > @after
GROUP BY window_start, window_end
HAVING bool_and(status = 'failed') AND count(*) < @max_failures::bigint
ORDER BY window_start
LIMIT 100;

-- name: RunProgress :one
-- Where a run is: its status, phase and orders handled so far.
SELECT status, COALESCE(checkpoint->>'phase', '')::text AS phase, COALESCE((checkpoint->>'done')::bigint, 0)::bigint AS done, error
FROM recon_runs WHERE id = $1;
