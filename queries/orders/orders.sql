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

-- name: SetHoldKey :exec
UPDATE orders SET hold_key = @hold_key WHERE id = @id;

-- name: UnappliedCallbacks :many
-- Accepted callbacks of an account not yet applied: money in flight
-- (InFlight). Read only: package callbacks writes callback_inbox.
SELECT id, method, path, query, headers, body, remote_addr FROM callback_inbox
WHERE provider_account_id = @provider_account_id AND processed_at IS NULL AND verdict = 'accepted'
ORDER BY id LIMIT 5000;

-- name: OrderByProviderNo :one
SELECT * FROM orders WHERE provider_account_id = @provider_account_id AND provider_order_no = @provider_order_no;

-- name: SetOrderFee :exec
UPDATE orders SET fee = @fee, credited_amount = @credited_amount, updated_at = now() WHERE id = @id;

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

-- name: OrderEventsByIDs :many
SELECT * FROM order_events WHERE id = ANY(@ids::bigint[]);

-- name: OrdersByIDs :many
SELECT * FROM orders WHERE id = ANY(@ids::bigint[]);
