-- +goose Up
-- The console overview's chart of matched against mismatched amounts per day
-- (orders.MatchedByDay, discrepancies.Store.MismatchedByDay) reads the last 30
-- days only: these indexes find them without scanning older orders and
-- discrepancies, and hold the columns the sums need (index-only scans).
CREATE INDEX orders_succeeded_final_idx ON orders (final_at)
    INCLUDE (merchant_id, amount, paid_amount, settled_currency, currency) WHERE status = 'succeeded';
CREATE INDEX discrepancies_first_seen_idx ON discrepancies (first_seen_at)
    INCLUDE (merchant_id, type, currency, amount_delta);

-- +goose Down
DROP INDEX discrepancies_first_seen_idx;
DROP INDEX orders_succeeded_final_idx;
