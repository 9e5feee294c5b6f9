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
       d.amount_delta, d.summary, d.order_id, COALESCE(pa.name, '')::text AS provider_account
FROM recon_run_findings f
JOIN discrepancies d ON d.id = f.discrepancy_id
LEFT JOIN provider_accounts pa ON pa.id = d.provider_account_id
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

-- name: OpenDiscrepanciesNotSeen :many
-- A page, by id, of an account's open discrepancies of the given types that
-- nothing found again since a run started. Which of them a run may close
-- depends on their orders (package orders tells).
SELECT * FROM discrepancies
WHERE status = 'open' AND provider_account_id = @provider_account_id
  AND type = ANY(@types::text[])
  AND last_seen_at < @started_at
  AND id > @after_id
ORDER BY id
LIMIT @row_limit;

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

-- name: SetStatementHash :exec
UPDATE statements SET sha256 = @sha256 WHERE id = @id;

-- name: LastScheduledWindowEnd :one
-- The end of the latest scheduled window of a kind and length for an account.
SELECT window_end FROM recon_runs
WHERE trigger = 'schedule' AND kind = @kind AND provider_account_id = @provider_account_id
  AND EXTRACT(EPOCH FROM window_end - window_start)::bigint = @length_seconds::bigint
ORDER BY window_end DESC
LIMIT 1;

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

-- name: StatementOrdersPage :many
-- A page of a statement's orders (its lines summed per order), by key.
SELECT * FROM statement_orders
WHERE statement_id = @statement_id AND key > @after_key
ORDER BY key
LIMIT @row_limit;

-- name: StatementLacks :many
-- Of a page of order numbers, all in (after_key, last_key], those that no
-- order of a statement has as its key: settled orders the statement does not
-- list. The statement's keys in the range are read in key order, one index
-- range, rather than looked up one by one.
SELECT n::text AS order_no FROM unnest(@order_nos::text[]) AS n
EXCEPT
SELECT key FROM statement_orders WHERE statement_id = @statement_id AND key > @after_key AND key <= @last_key;

-- name: StatementListsKeys :many
-- Which of the given keys a statement lists.
SELECT key FROM statement_orders WHERE statement_id = @statement_id AND key = ANY(@keys::text[]);

-- name: StatementListsProviderIDs :many
-- Which of the given provider ids a statement lists on lines without an order
-- number.
SELECT DISTINCT provider_order_id FROM statement_orders
WHERE statement_id = @statement_id AND order_no = '' AND provider_order_id <> ''
  AND provider_order_id = ANY(@provider_order_ids::text[]);

-- name: TryAdvisoryLock :one
-- The lock a run's executor holds on its run (key: 0x7ec0 << 48 | run id), so
-- that a rescued duplicate of its job does not execute it at the same time.
SELECT pg_try_advisory_lock(@key::bigint)::boolean AS acquired;

-- name: AdvisoryUnlock :one
SELECT pg_advisory_unlock(@key::bigint)::boolean AS released;

-- Maker-checker (migration 00028).

-- name: InsertProposal :one
INSERT INTO resolution_proposals (merchant_id, discrepancy_id, action, order_id, refund_account, beneficiary,
                                  amount, currency, maker, reason)
VALUES (@merchant_id, @discrepancy_id, @action, @order_id, @refund_account, @beneficiary,
        @amount, @currency, @maker, @reason)
RETURNING *;

-- name: ProposalByID :one
SELECT * FROM resolution_proposals WHERE id = @id;

-- name: ProposalForUpdate :one
SELECT * FROM resolution_proposals WHERE id = @id FOR UPDATE;

-- name: PendingProposalFor :one
SELECT * FROM resolution_proposals WHERE discrepancy_id = @discrepancy_id AND status = 'pending';

-- name: DecideProposal :one
UPDATE resolution_proposals SET status = @status, decided_by = @decided_by, decided_at = now(),
    decision_note = @decision_note, transfer_key = @transfer_key
WHERE id = @id AND status = 'pending'
RETURNING *;

-- name: ListProposals :many
-- Newest first, keyset paged by id.
SELECT * FROM resolution_proposals
WHERE (sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(discrepancy_id)::bigint IS NULL OR discrepancy_id = sqlc.narg(discrepancy_id)::bigint)
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @row_limit;

-- name: UpsertThreshold :exec
INSERT INTO approval_thresholds (merchant_id, currency, threshold)
VALUES (@merchant_id, @currency, @threshold)
ON CONFLICT (merchant_id, currency) DO UPDATE SET threshold = EXCLUDED.threshold, updated_at = now();

-- name: ThresholdFor :one
SELECT threshold FROM approval_thresholds WHERE merchant_id = @merchant_id AND currency = @currency;

-- name: ListThresholds :many
SELECT * FROM approval_thresholds WHERE merchant_id = @merchant_id ORDER BY currency;
