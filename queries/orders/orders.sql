-- name: InsertOrder :one
-- Store a new order; a repeated idempotency key stores nothing and returns no row.
INSERT INTO orders (merchant_id, provider_account_id, kind, origin, merchant_order_no, provider_order_no,
                    provider_order_id, customer_id, amount, currency, pay_currency, status, request,
                    idempotency_key, request_hash, hold_key, expires_at)
VALUES (@merchant_id, @provider_account_id, @kind, @origin, @merchant_order_no, @provider_order_no,
        @provider_order_id, @customer_id, @amount, @currency, @pay_currency, @status, @request,
        @idempotency_key, @request_hash, @hold_key, @expires_at)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: OrderByIdempotencyKey :one
SELECT * FROM orders WHERE merchant_id = @merchant_id AND idempotency_key = @idempotency_key;

-- name: OrderByMerchantOrderNo :one
SELECT * FROM orders WHERE merchant_id = @merchant_id AND merchant_order_no = @merchant_order_no;

-- name: OrderByID :one
SELECT * FROM orders WHERE id = $1;

-- name: OrderByIDForUpdate :one
SELECT * FROM orders WHERE id = $1 FOR UPDATE;

-- name: OrderByProviderNoForUpdate :one
SELECT * FROM orders WHERE provider_account_id = @provider_account_id AND provider_order_no = @provider_order_no FOR UPDATE;

-- name: OrderByProviderIDForUpdate :one
SELECT * FROM orders WHERE provider_account_id = @provider_account_id AND provider_order_id = @provider_order_id
ORDER BY id LIMIT 1 FOR UPDATE;

-- name: OrderIDByProviderID :one
-- The order a provider order id names, unlocked: to tell whether an event's
-- references name two different orders.
SELECT id, provider_order_no FROM orders WHERE provider_account_id = @provider_account_id AND provider_order_id = @provider_order_id
ORDER BY id LIMIT 1;

-- name: OrderByTxHashForUpdate :one
SELECT * FROM orders WHERE provider_account_id = @provider_account_id AND tx_hash = @tx_hash
ORDER BY id LIMIT 1 FOR UPDATE;

-- name: ListOrders :many
SELECT * FROM orders
WHERE merchant_id = @merchant_id
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
  AND (sqlc.narg(kind)::text IS NULL OR kind = sqlc.narg(kind))
  AND (sqlc.narg(provider_account_id)::bigint IS NULL OR provider_account_id = sqlc.narg(provider_account_id))
  AND (sqlc.narg(merchant_order_no)::text IS NULL OR merchant_order_no = sqlc.narg(merchant_order_no))
  AND (sqlc.narg(created_from)::timestamptz IS NULL OR created_at >= sqlc.narg(created_from))
  AND (sqlc.narg(created_to)::timestamptz IS NULL OR created_at < sqlc.narg(created_to))
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id))
ORDER BY id DESC
LIMIT @row_limit;

-- name: UpdateOrderSubmit :one
UPDATE orders SET
    provider_order_id = @provider_order_id, status = @status, status_reason = @status_reason,
    cashier_url = @cashier_url, pay_form = @pay_form, addresses = @addresses,
    submit_state = @submit_state, submit_attempts = @submit_attempts, last_error = @last_error,
    last_error_code = @last_error_code, final_at = @final_at, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: UpdateOrderState :one
UPDATE orders SET
    status = @status, status_reason = @status_reason, provider_order_id = @provider_order_id,
    paid_amount = @paid_amount, credited_amount = @credited_amount, fee = @fee,
    settled_currency = @settled_currency, fx_rate = @fx_rate, tx_hash = @tx_hash,
    credited_to = @credited_to, parts = @parts, final_at = @final_at, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: InsertOrderEvent :one
INSERT INTO order_events (order_id, merchant_id, source, from_status, to_status, detail, staff_only)
VALUES (@order_id, @merchant_id, @source, @from_status, @to_status, @detail, @staff_only)
RETURNING *;

-- name: OrderEventByID :one
SELECT * FROM order_events WHERE id = $1;

-- name: ListOrderEvents :many
-- An order's timeline; staff-only entries (a provider's own words) only
-- with include_staff.
SELECT * FROM order_events WHERE order_id = @order_id AND (NOT staff_only OR @include_staff::boolean) ORDER BY id;

-- name: OpenOrdersToSync :many
-- Open orders of one (pollable) provider account a query can move, created
-- before a cutoff, least recently asked first: orders that came through the
-- API, still created only when their submission was ambiguous.
SELECT id FROM orders
WHERE status IN ('created', 'pending', 'processing') AND origin = 'api' AND created_at < @created_before
  AND provider_account_id = @provider_account_id
  AND (status <> 'created' OR submit_state IN ('ambiguous', 'unresolved'))
ORDER BY last_synced_at NULLS FIRST, created_at
LIMIT @row_limit;

-- name: TouchOrderSynced :exec
-- Record that the provider was just asked about the order.
UPDATE orders SET last_synced_at = now() WHERE id = $1;

-- name: DueHolds :many
-- Payouts whose hold passed its deadline without a final status, least
-- recently checked first (a payout whose hold is kept is checked again later).
SELECT * FROM orders
WHERE kind = 'payout' AND status IN ('created', 'pending', 'processing') AND expires_at IS NOT NULL AND expires_at <= @now::timestamptz
ORDER BY last_synced_at NULLS FIRST, expires_at
LIMIT @row_limit;

-- name: InsertCallback :one
-- Store a callback; an identical delivery only counts another delivery.
INSERT INTO callback_inbox (provider_account_id, merchant_id, request_hash, method, path, query, headers, body,
                            remote_addr, verdict, error)
VALUES (@provider_account_id, @merchant_id, @request_hash, @method, @path, @query, @headers, @body,
        @remote_addr, @verdict, @error)
ON CONFLICT (provider_account_id, request_hash) DO UPDATE SET
    deliveries = callback_inbox.deliveries + 1,
    last_received_at = now()
RETURNING id, verdict, processed_at, (xmax = 0) AS inserted;

-- name: InsertCallbacks :batchone
-- InsertCallback for many callbacks in one round trip (intake's group commit).
INSERT INTO callback_inbox (provider_account_id, merchant_id, request_hash, method, path, query, headers, body,
                            remote_addr, verdict, error)
VALUES (@provider_account_id, @merchant_id, @request_hash, @method, @path, @query, @headers, @body,
        @remote_addr, @verdict, @error)
ON CONFLICT (provider_account_id, request_hash) DO UPDATE SET
    deliveries = callback_inbox.deliveries + 1,
    last_received_at = now()
RETURNING id, verdict, processed_at, (xmax = 0) AS inserted;

-- name: CallbackByID :one
SELECT * FROM callback_inbox WHERE id = $1;

-- name: MarkCallbackProcessed :exec
UPDATE callback_inbox SET processed_at = now(), order_id = @order_id, outcome = @outcome
WHERE id = @id;

-- name: ListCallbacksForOrder :many
SELECT id, provider_account_id, method, path, verdict, error, deliveries, outcome, received_at, last_received_at, processed_at
FROM callback_inbox WHERE order_id = $1 ORDER BY id;

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

-- name: SetHoldKey :exec
UPDATE orders SET hold_key = @hold_key WHERE id = @id;

-- name: UnappliedCallbacks :many
-- Accepted callbacks of an account not yet applied: money in flight.
SELECT id, method, path, query, headers, body, remote_addr FROM callback_inbox
WHERE provider_account_id = @provider_account_id AND processed_at IS NULL AND verdict = 'accepted'
ORDER BY id LIMIT 5000;

-- name: OrderByProviderNo :one
SELECT * FROM orders WHERE provider_account_id = @provider_account_id AND provider_order_no = @provider_order_no;

-- name: SetOrderFee :exec
UPDATE orders SET fee = @fee, credited_amount = @credited_amount, updated_at = now() WHERE id = @id;

-- name: UpdateCallbackVerdict :exec
UPDATE callback_inbox SET verdict = @verdict, error = '' WHERE id = @id;

-- name: CallbacksByIDs :many
-- The stored callbacks of a group application (orders.callbackGroup), locked in
-- the order intake's repeat deliveries lock them (provider account, request
-- hash), so that the two wait for each other and never deadlock; and so that a
-- callback two jobs hold is applied once.
SELECT * FROM callback_inbox WHERE id = ANY(@ids::bigint[])
ORDER BY provider_account_id, request_hash
FOR UPDATE;

-- name: CallbackAccounts :many
-- The provider accounts of stored callbacks, resolved before a group locks anything.
SELECT DISTINCT provider_account_id FROM callback_inbox WHERE id = ANY(@ids::bigint[]);

-- name: LockCallback :one
-- Lock a stored callback before applying it alone: a group or another job may
-- have applied it since it was read.
SELECT processed_at FROM callback_inbox WHERE id = $1 FOR UPDATE;

-- name: StaleCallbacks :many
-- Accepted or hint callbacks still unapplied long after they were stored: their
-- job was lost (discarded after its last attempt, or written by a process that
-- could not read it); requeue_callbacks queues them again.
SELECT id FROM callback_inbox
WHERE processed_at IS NULL AND verdict <> 'rejected' AND received_at < @before
ORDER BY received_at LIMIT @max_rows;

-- name: UnappliedOf :many
-- Which of these stored callbacks are still to be applied (a dead job's).
SELECT id FROM callback_inbox
WHERE id = ANY(@ids::bigint[]) AND processed_at IS NULL AND verdict <> 'rejected'
ORDER BY id;

-- name: OrderIDsByProviderIDs :many
-- The orders that provider order ids name, unlocked: a group application
-- leaves to the alone path an event whose provider id names another order
-- than its order number.
SELECT id, provider_account_id, provider_order_id FROM orders
WHERE (provider_account_id, provider_order_id) IN (
    SELECT unnest(@provider_account_ids::bigint[]), unnest(@provider_order_ids::text[]));

-- name: OrdersByProviderNosForUpdate :many
-- Lock the orders of a group application, in id order (two groups wait for
-- each other, never deadlock): one row per (provider account, order number).
SELECT * FROM orders
WHERE (provider_account_id, provider_order_no) IN (
    SELECT unnest(@provider_account_ids::bigint[]), unnest(@provider_order_nos::text[]))
ORDER BY id
FOR UPDATE;

-- name: UpdateOrderStates :batchexec
-- UpdateOrderState for the orders of a group application, one round trip.
UPDATE orders SET
    status = @status, status_reason = @status_reason, provider_order_id = @provider_order_id,
    paid_amount = @paid_amount, credited_amount = @credited_amount, fee = @fee,
    settled_currency = @settled_currency, fx_rate = @fx_rate, tx_hash = @tx_hash,
    credited_to = @credited_to, parts = @parts, final_at = @final_at, updated_at = now()
WHERE id = @id;

-- name: InsertOrderEvents :batchone
-- InsertOrderEvent for the events of a group application, one round trip.
INSERT INTO order_events (order_id, merchant_id, source, from_status, to_status, detail)
VALUES (@order_id, @merchant_id, @source, @from_status, @to_status, @detail)
RETURNING id;

-- name: MarkCallbacksProcessed :exec
-- MarkCallbackProcessed for many callbacks; an order id of 0 is none.
UPDATE callback_inbox c SET processed_at = now(), order_id = nullif(u.order_id, 0), outcome = u.outcome
FROM (SELECT unnest(@ids::bigint[]) AS id, unnest(@order_ids::bigint[]) AS order_id, unnest(@outcomes::text[]) AS outcome) u
WHERE c.id = u.id;

-- name: CountRejectedCallback :one
-- Count a rejected delivery in its account's current UTC hour. The row stays
-- locked until the caller's transaction ends, so concurrent rejections of one
-- account read and take sample slots one at a time.
INSERT INTO callback_rejections (provider_account_id, merchant_id, window_start, deliveries, last_remote_addr, last_error)
VALUES (@provider_account_id, @merchant_id, date_trunc('hour', now(), 'UTC'), 1, @remote_addr, @error)
ON CONFLICT (provider_account_id, window_start) DO UPDATE SET
    deliveries = callback_rejections.deliveries + 1,
    last_remote_addr = EXCLUDED.last_remote_addr,
    last_error = EXCLUDED.last_error,
    last_at = now()
RETURNING window_start, deliveries, sampled;

-- name: CountRejectedSample :exec
-- A rejected delivery's body was kept in callback_inbox as a sample.
UPDATE callback_rejections SET sampled = sampled + 1
WHERE provider_account_id = @provider_account_id AND window_start = @window_start;

-- name: ListCallbackRejections :many
-- Rejected deliveries per account and hour since a time, newest first.
SELECT r.provider_account_id, r.merchant_id, r.window_start, r.deliveries, r.sampled, r.last_remote_addr, r.last_error,
       r.first_at, r.last_at, pa.name AS provider_account
FROM callback_rejections r JOIN provider_accounts pa ON pa.id = r.provider_account_id
WHERE (sqlc.narg(merchant_id)::bigint IS NULL OR r.merchant_id = sqlc.narg(merchant_id))
  AND r.window_start >= @since
ORDER BY r.window_start DESC, pa.name;

-- ---------------------------------------------------------------------------
-- Reads for reconciliation (orders/recon.go): package recon reaches the orders
-- tables only through these, as methods of orders.Service.
-- ---------------------------------------------------------------------------

-- name: ReconOrdersCreatedIn :many
-- A page of a provider account's orders created in a window, by id.
SELECT * FROM orders
WHERE provider_account_id = @provider_account_id AND created_at >= @window_start AND created_at < @window_end
  AND id > @after_id
ORDER BY id
LIMIT @row_limit;

-- name: ReconOverdueOrders :many
-- A page of an account's open orders whose deadline (expires_at, or created_at
-- plus the default lifetime when it is NULL) fell in [deadline_from,
-- deadline_before) and that were created outside [skip_from, skip_before).
-- created_from and created_before are the deadline bounds less the default
-- lifetime.
SELECT * FROM orders
WHERE provider_account_id = @provider_account_id AND status IN ('created', 'pending', 'processing')
  AND ((expires_at >= @deadline_from AND expires_at < @deadline_before)
       OR (expires_at IS NULL AND created_at >= @created_from AND created_at < @created_before))
  AND (created_at < @skip_from OR created_at >= @skip_before)
  AND id > @after_id
ORDER BY id
LIMIT @row_limit;

-- name: ReconSettledRefs :many
-- A page of an account's orders settled (succeeded or reversed) in a window,
-- by provider order number: only what matching needs, so that paging through
-- every settled order of a window stays cheap.
SELECT id, provider_order_no, provider_order_id, status, created_at FROM orders
WHERE provider_account_id = @provider_account_id AND status IN ('succeeded', 'reversed')
  AND final_at >= @settled_from AND final_at < @settled_before
  AND provider_order_no > @after_no
ORDER BY provider_order_no
LIMIT @row_limit;

-- name: ReconOrdersByProviderNos :many
-- An account's orders with any of the given provider order numbers.
SELECT * FROM orders
WHERE provider_account_id = @provider_account_id AND provider_order_no = ANY(@provider_order_nos::text[]);

-- name: ReconOrdersByProviderIDs :many
-- An account's orders with any of the given provider ids (never the empty one).
SELECT * FROM orders
WHERE provider_account_id = @provider_account_id AND provider_order_id <> ''
  AND provider_order_id = ANY(@provider_order_ids::text[]);

-- name: ReconOrdersByIDs :many
SELECT * FROM orders WHERE id = ANY(@ids::bigint[]) ORDER BY id;

-- name: ReconOrderRefs :many
SELECT id, provider_order_no, provider_order_id, status, created_at FROM orders WHERE id = ANY(@ids::bigint[]) ORDER BY id;
