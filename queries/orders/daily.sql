-- name: SucceededByDay :many
-- The money of the orders (deposits and payouts) that reached succeeded in
-- [@settled_from, @settled_before) paid exactly as ordered (the paid amount
-- is the order's amount, in the order's currency), per UTC day of their
-- final time and per currency. An order paid otherwise is a mismatch (its
-- discrepancy carries it), not matched money. For the console overview's
-- chart.
SELECT date_trunc('day', o.final_at, 'UTC')::timestamptz AS day,
       o.currency::text AS currency,
       sum(o.paid_amount)::numeric AS amount,
       count(*)::bigint AS n
FROM orders o
WHERE o.status = 'succeeded' AND o.paid_amount = o.amount
  AND (o.settled_currency = '' OR o.settled_currency = o.currency)
  AND o.final_at >= @settled_from::timestamptz AND o.final_at < @settled_before::timestamptz
  AND (sqlc.narg(merchant_ids)::bigint[] IS NULL OR o.merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
GROUP BY 1, 2
ORDER BY 1, 2;
