-- +goose Up
-- Indexes for the queries that deadlines, statement auto-close and the
-- schedule's catch-up added (packages orders and recon).

-- OverdueOrders: an account's open orders whose deadline fell in a window.
CREATE INDEX orders_open_deadline_idx ON orders (provider_account_id, expires_at)
    WHERE status IN ('created', 'pending', 'processing');

-- DueHolds: payouts past their deadline without a final status.
CREATE INDEX orders_due_payouts_idx ON orders (expires_at)
    WHERE kind = 'payout' AND status IN ('created', 'pending', 'processing');

-- StalePendingSettled, OpenDiscrepanciesInStatement: an account's open
-- discrepancies of some types, by id.
CREATE INDEX discrepancies_account_open_idx ON discrepancies (provider_account_id, type, id)
    WHERE status = 'open';

-- LastScheduledWindowEnd, FailedScheduledWindows: an account's scheduled runs
-- of a kind by window, whatever their status (the unique key skips failed ones).
CREATE INDEX recon_runs_schedule_idx ON recon_runs (provider_account_id, kind, window_end)
    WHERE trigger = 'schedule';

-- +goose Down
DROP INDEX recon_runs_schedule_idx;
DROP INDEX discrepancies_account_open_idx;
DROP INDEX orders_due_payouts_idx;
DROP INDEX orders_open_deadline_idx;
