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

-- name: InsertWebhookEvent :one
INSERT INTO webhook_events (merchant_id, type, discrepancy_id, payload)
VALUES (@merchant_id, @type, @discrepancy_id, @payload)
RETURNING id;

-- name: WebhookEventByID :one
SELECT * FROM webhook_events WHERE id = $1;

-- name: MerchantWebhookEvents :one
-- Whether a merchant hears of an event: its webhook URL and subscriptions
-- (package merchants' columns, read in the caller's transaction).
SELECT webhook_url, webhook_events FROM merchants WHERE id = $1;
