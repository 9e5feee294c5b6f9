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

-- name: EnqueueWebhookEvents :exec
-- Events to deliver, in the transaction of the change they report.
INSERT INTO webhook_outbox (event_id, merchant_id, order_id)
SELECT e, m, NULLIF(o, 0)
FROM (SELECT unnest(@event_ids::bigint[]) AS e, unnest(@merchant_ids::bigint[]) AS m, unnest(@order_ids::bigint[]) AS o) t
ON CONFLICT (event_id) DO NOTHING;

-- name: DueWebhookMerchants :many
-- The merchants with an event due (a skip scan of the due index).
WITH RECURSIVE m AS (
    (SELECT o.merchant_id FROM webhook_outbox o WHERE o.next_attempt_at <= now() ORDER BY o.merchant_id LIMIT 1)
    UNION ALL
    SELECT (SELECT o.merchant_id FROM webhook_outbox o
            WHERE o.merchant_id > m.merchant_id AND o.next_attempt_at <= now() ORDER BY o.merchant_id LIMIT 1)
    FROM m WHERE m.merchant_id IS NOT NULL
)
SELECT merchant_id::bigint AS merchant_id FROM m WHERE merchant_id IS NOT NULL;

-- name: ClaimWebhookEvents :many
-- A merchant's due events, oldest first, but none of an order whose earlier
-- event waits for its retry (events of one order go in order; one given up
-- blocks nothing).
SELECT o.event_id, o.order_id, o.attempts, o.created_at FROM webhook_outbox o
WHERE o.merchant_id = @merchant_id AND o.next_attempt_at <= now()
  AND NOT EXISTS (SELECT 1 FROM webhook_outbox p
                  WHERE o.order_id IS NOT NULL AND p.order_id = o.order_id AND p.event_id < o.event_id
                    AND p.next_attempt_at > now() AND p.next_attempt_at < '9999-01-01')
ORDER BY o.merchant_id, o.next_attempt_at, o.event_id
LIMIT @row_limit;

-- name: DeleteWebhookOutbox :exec
DELETE FROM webhook_outbox WHERE event_id = ANY(@event_ids::bigint[]);

-- name: RescheduleWebhookEvents :exec
UPDATE webhook_outbox w SET attempts = t.attempts, next_attempt_at = t.next_attempt_at
FROM (SELECT unnest(@event_ids::bigint[]) AS event_id, unnest(@attempts::int[]) AS attempts,
             unnest(@next_attempts::timestamptz[]) AS next_attempt_at) t
WHERE w.event_id = t.event_id;

-- name: InsertWebhookDeliveries :copyfrom
INSERT INTO webhook_deliveries (merchant_id, order_id, event_id, url, attempt, status_code, error, duration_ms, delivered)
VALUES (@merchant_id, @order_id, @event_id, @url, @attempt, @status_code, @error, @duration_ms, @delivered);

-- name: WebhookEventsByIDs :many
SELECT * FROM webhook_events WHERE id = ANY(@ids::bigint[]);

-- name: WebhookEndpoint :one
SELECT * FROM webhook_endpoints WHERE merchant_id = $1;

-- name: SaveWebhookEndpoint :exec
INSERT INTO webhook_endpoints (merchant_id, state, failures, opened, open_until, last_error, updated_at)
VALUES (@merchant_id, @state, @failures, @opened, @open_until, @last_error, now())
ON CONFLICT (merchant_id) DO UPDATE SET state = EXCLUDED.state, failures = EXCLUDED.failures, opened = EXCLUDED.opened,
    open_until = EXCLUDED.open_until, last_error = EXCLUDED.last_error, updated_at = now();

-- name: WebhookBacklog :many
-- Per merchant with events waiting or a breaker on record: events waiting
-- (due or retrying, not given up), the age of the oldest, the breaker state.
SELECT m.id AS merchant_id, m.code, COALESCE(b.waiting, 0)::bigint AS waiting,
       COALESCE(b.lag_seconds, 0)::float8 AS lag_seconds, COALESCE(e.state, 'closed')::text AS state
FROM merchants m
LEFT JOIN (SELECT o.merchant_id, count(*) AS waiting, EXTRACT(EPOCH FROM now() - min(o.created_at)) AS lag_seconds
           FROM webhook_outbox o WHERE o.next_attempt_at < '9999-01-01' GROUP BY o.merchant_id) b ON b.merchant_id = m.id
LEFT JOIN webhook_endpoints e ON e.merchant_id = m.id
WHERE b.merchant_id IS NOT NULL OR e.merchant_id IS NOT NULL
ORDER BY m.id;

