-- name: SearchOrders :many
-- The console's order search (orders/search.go): newest first, keyset paged on
-- (created_at, id); every filter is optional (NULL matches everything). An
-- order number matches the merchant's or the provider's.
SELECT * FROM orders
WHERE (sqlc.narg(merchant_ids)::bigint[] IS NULL OR merchant_id = ANY(sqlc.narg(merchant_ids)::bigint[]))
  AND (sqlc.narg(order_no)::text IS NULL OR merchant_order_no = sqlc.narg(order_no) OR provider_order_no = sqlc.narg(order_no))
  AND (sqlc.narg(provider_order_id)::text IS NULL OR provider_order_id = sqlc.narg(provider_order_id))
  AND (sqlc.narg(customer_id)::text IS NULL OR customer_id = sqlc.narg(customer_id))
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind))
  AND (sqlc.narg(provider_account_id)::bigint IS NULL OR provider_account_id = sqlc.narg(provider_account_id))
  AND (sqlc.narg(created_from)::timestamptz IS NULL OR created_at >= sqlc.narg(created_from))
  AND (sqlc.narg(created_to)::timestamptz IS NULL OR created_at < sqlc.narg(created_to))
  AND (sqlc.narg(before_at)::timestamptz IS NULL OR (created_at, id) < (sqlc.narg(before_at)::timestamptz, sqlc.narg(before_id)::bigint))
ORDER BY created_at DESC, id DESC
LIMIT @row_limit;
