-- name: InsertWebhookDelivery :one
INSERT INTO webhook_deliveries (merchant_id, order_id, event_id, url, attempt, status_code, error, duration_ms, delivered)
VALUES (@merchant_id, @order_id, @event_id, @url, @attempt, @status_code, @error, @duration_ms, @delivered)
RETURNING *;

-- name: ListWebhookDeliveries :many
SELECT * FROM webhook_deliveries
WHERE merchant_id = @merchant_id
  AND (sqlc.narg(order_id)::bigint IS NULL OR order_id = sqlc.narg(order_id))
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id))
ORDER BY id DESC
LIMIT @row_limit;
