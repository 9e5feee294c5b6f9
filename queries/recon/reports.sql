-- Reads of the day report (recon.Service.Day).

-- name: RunsEndingIn :many
-- A merchant's completed runs whose window ends in (from_time, to_time]: the
-- runs of the UTC day [from_time, to_time). A window ending at midnight
-- belongs to the day before it.
SELECT * FROM recon_runs
WHERE merchant_id = @merchant_id AND status = 'completed' AND window_end > @from_time AND window_end <= @to_time
ORDER BY id;

-- name: RunsEndingAfter :one
-- How many of a merchant's completed runs cover part of [from_time, to_time)
-- but end after it: they are in a later day's report.
SELECT count(*)::bigint FROM recon_runs
WHERE merchant_id = @merchant_id AND status = 'completed' AND window_start < @to_time AND window_end > @to_time;

-- name: OpenAt :many
-- A page, by id, of a merchant's discrepancies open at a time: first seen
-- before it, and not resolved or ignored before it (resolved_at; a reopened
-- discrepancy has none).
SELECT d.id, d.type, d.severity, d.currency, d.amount_delta, d.summary, d.order_id, d.first_seen_at,
       COALESCE(pa.name, '')::text AS provider_account
FROM discrepancies d
LEFT JOIN provider_accounts pa ON pa.id = d.provider_account_id
WHERE d.merchant_id = @merchant_id AND d.first_seen_at < @at
  AND (d.status = 'open' OR d.resolved_at >= @at)
  AND d.id > @after_id
ORDER BY d.id
LIMIT @row_limit;
