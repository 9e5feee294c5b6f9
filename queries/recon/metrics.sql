-- name: LastRunPerAccount :many
-- The last finished run of each provider account (for /metrics). One index
-- probe per account: the merchant's runs newest first (recon_runs_merchant_idx),
-- up to the account's last finished one.
SELECT m.code AS merchant_code, pa.name AS account_name, r.kind, r.status, r.finished_at
FROM provider_accounts pa
JOIN merchants m ON m.id = pa.merchant_id
CROSS JOIN LATERAL (
    SELECT rr.kind, rr.status, rr.finished_at
    FROM recon_runs rr
    WHERE rr.merchant_id = pa.merchant_id AND rr.provider_account_id = pa.id
      AND rr.status <> 'running' AND rr.finished_at IS NOT NULL
    ORDER BY rr.id DESC
    LIMIT 1
) r
ORDER BY m.code, pa.name;

-- name: LastLedgerCheckPerMerchant :many
-- The ledger check of each merchant's last completed run (every run checks
-- its merchant's ledger; summary.ledger.ok), for /metrics.
SELECT m.code AS merchant_code, r.finished_at, r.ok
FROM merchants m
CROSS JOIN LATERAL (
    SELECT rr.finished_at, coalesce((rr.summary->'ledger'->>'ok')::boolean, false)::boolean AS ok
    FROM recon_runs rr
    WHERE rr.merchant_id = m.id AND rr.status = 'completed' AND rr.finished_at IS NOT NULL
      AND rr.summary ? 'ledger'
    ORDER BY rr.id DESC
    LIMIT 1
) r
ORDER BY m.code;
