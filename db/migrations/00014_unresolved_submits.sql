-- +goose Up
-- Submissions whose outcome stayed unknown (package orders): submit_order ran out
-- of attempts after an ambiguous create (a timeout, a 5xx, an unverifiable
-- answer), so the provider may or may not have the order. sync_order resolves
-- such an order by querying the provider; one whose provider has no query waits
-- for its settlement statement. Its payout hold is never released blindly.
ALTER TABLE orders DROP CONSTRAINT orders_submit_state_check;
ALTER TABLE orders ADD CONSTRAINT orders_submit_state_check
    CHECK (submit_state IN ('pending', 'submitted', 'ambiguous', 'unresolved', 'rejected'));

-- +goose Down
UPDATE orders SET submit_state = 'ambiguous' WHERE submit_state = 'unresolved';
ALTER TABLE orders DROP CONSTRAINT orders_submit_state_check;
ALTER TABLE orders ADD CONSTRAINT orders_submit_state_check
    CHECK (submit_state IN ('pending', 'submitted', 'ambiguous', 'rejected'));
