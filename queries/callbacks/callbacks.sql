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

-- name: UpdateCallbackVerdict :exec
UPDATE callback_inbox SET verdict = @verdict, error = '' WHERE id = @id;

-- name: CallbacksByIDs :many
-- The stored callbacks of a group application (callbacks' group), locked in
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
