-- name: MismatchedByDay :many
-- The sum of abs(amount_delta) of the discrepancies of @types first seen in
-- [@seen_from, @seen_before), per UTC day and currency, whatever their status
-- now. For the console overview's chart.
SELECT date_trunc('day', first_seen_at, 'UTC')::timestamptz AS day,
       currency,
       sum(abs(amount_delta))::numeric AS amount,
       count(*)::bigint AS n
FROM discrepancies
WHERE first_seen_at >= @seen_from AND first_seen_at < @seen_before
  AND type = ANY(@types::text[]) AND currency <> ''
  AND (sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
GROUP BY 1, 2
ORDER BY 1, 2;
