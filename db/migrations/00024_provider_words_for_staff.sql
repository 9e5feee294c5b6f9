-- +goose Up
-- A provider's answer is shown to staff, never reflected to a merchant
-- (README, Security, "Outbound requests"): what a merchant reads about a
-- failed provider call is a stable code and tally's own message
-- (providers.Describe); the provider's words go to timeline entries only
-- staff see.
ALTER TABLE orders ADD COLUMN last_error_code text NOT NULL DEFAULT '';
ALTER TABLE order_events ADD COLUMN staff_only boolean NOT NULL DEFAULT false;

-- What earlier versions stored in merchant-visible places moves to staff:
-- an order's last error (to a staff-only entry), the submit notes quoting it,
-- the reason of an order failed on a provider's error, the last error a
-- stale_pending discrepancy quoted, a failed run's error and its first query
-- error.
INSERT INTO order_events (order_id, merchant_id, source, from_status, to_status, detail, staff_only)
SELECT id, merchant_id, 'submit', status, status, jsonb_build_object('error', last_error, 'migrated', true), true
FROM orders WHERE last_error <> '';
UPDATE orders SET last_error_code = 'provider_error', last_error = 'the provider call failed' WHERE last_error <> '';
UPDATE orders SET status_reason = 'the provider call failed'
WHERE submit_state = 'rejected' AND status_reason <> 'the provider does not have the order after an ambiguous submit';
UPDATE order_events SET staff_only = true WHERE detail ? 'error';
UPDATE discrepancies SET detail = detail - 'last_error' WHERE detail ? 'last_error';
UPDATE recon_runs SET error = 'the run failed (the operator log says why)' WHERE error <> '';
UPDATE recon_runs SET summary = jsonb_set(summary, '{error}', '"the run failed (the operator log says why)"')
WHERE jsonb_typeof(summary) = 'object' AND summary ? 'error';
UPDATE recon_runs r SET summary = jsonb_set(r.summary, '{notes}', (
    SELECT jsonb_agg(CASE WHEN n LIKE '%: order queries failed (first: %'
        THEN to_jsonb(split_part(n, ' (first: ', 1)) ELSE to_jsonb(n) END)
    FROM jsonb_array_elements_text(r.summary -> 'notes') n))
WHERE jsonb_typeof(r.summary -> 'notes') = 'array' AND jsonb_array_length(r.summary -> 'notes') > 0;
UPDATE recon_runs r SET checkpoint = jsonb_set(r.checkpoint, '{notes}', (
    SELECT jsonb_agg(CASE WHEN n LIKE '%: order queries failed (first: %'
        THEN to_jsonb(split_part(n, ' (first: ', 1)) ELSE to_jsonb(n) END)
    FROM jsonb_array_elements_text(r.checkpoint -> 'notes') n))
WHERE r.status = 'running' AND jsonb_typeof(r.checkpoint -> 'notes') = 'array' AND jsonb_array_length(r.checkpoint -> 'notes') > 0;

-- +goose Down
ALTER TABLE order_events DROP COLUMN staff_only;
ALTER TABLE orders DROP COLUMN last_error_code;
