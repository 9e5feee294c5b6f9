-- name: SucceededByDay :many
-- The money of the orders (deposits and payouts) that reached succeeded in
-- [@settled_from, @settled_before), per UTC day of their final time and per
-- currency they settled in: what they moved (paid_amount, in the settled
-- currency). An order with an open or resolved discrepancy of one of
-- @amount_types is left out (its money is not matched). For the console
-- overview's chart.
SELECT date_trunc('day', o.final_at, 'UTC')::timestamptz AS day,
       coalesce(nullif(o.settled_currency, ''), o.currency)::text AS currency,
       sum(o.paid_amount)::numeric AS amount,
       count(*)::bigint AS n
FROM orders o
WHERE o.status = 'succeeded' AND o.paid_amount IS NOT NULL
  AND o.final_at >= @settled_from::timestamptz AND o.final_at < @settled_before::timestamptz
  AND (sqlc.narg(merchant_ids)::bigint[] IS NULL OR o.merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND NOT EXISTS (
    SELECT 1 FROM discrepancies d
    WHERE d.order_id = o.id AND d.status IN ('open', 'resolved') AND d.type = ANY(@amount_types::text[]))
GROUP BY 1, 2
ORDER BY 1, 2;
