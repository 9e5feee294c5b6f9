-- name: ListRunsOf :many
-- A page of the runs of some merchants (NULL: every merchant), newest first,
-- with the names a list shows and how many discrepancies each run touched.
SELECT r.id, r.merchant_id, m.code AS merchant, COALESCE(pa.name, '')::text AS provider_account, r.kind,
       r.window_start, r.window_end, r.statement_id, r.trigger, r.started_by, r.status, r.error, r.started_at, r.finished_at,
       (SELECT count(*) FROM recon_run_findings f WHERE f.run_id = r.id)::bigint AS findings
FROM recon_runs r
JOIN merchants m ON m.id = r.merchant_id
LEFT JOIN provider_accounts pa ON pa.id = r.provider_account_id
WHERE (sqlc.narg(merchant_ids)::bigint[] IS NULL OR r.merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND (sqlc.narg(status)::text IS NULL OR r.status = sqlc.narg(status))
  AND (sqlc.narg(before_id)::bigint IS NULL OR r.id < sqlc.narg(before_id))
ORDER BY r.id DESC
LIMIT @row_limit;

-- name: ListStatementsOf :many
-- A page of the statements of some merchants (NULL: every merchant), newest first.
SELECT s.id, s.merchant_id, m.code AS merchant, pa.name AS provider_account, s.filename, s.lines, s.bad_lines,
       s.period_start, s.period_end, s.imported_at, s.imported_by
FROM statements s
JOIN merchants m ON m.id = s.merchant_id
JOIN provider_accounts pa ON pa.id = s.provider_account_id
WHERE (sqlc.narg(merchant_ids)::bigint[] IS NULL OR s.merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND (sqlc.narg(before_id)::bigint IS NULL OR s.id < sqlc.narg(before_id))
ORDER BY s.id DESC
LIMIT @row_limit;
