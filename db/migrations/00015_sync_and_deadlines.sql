-- +goose Up
-- Polling open orders in turn, and deadlines for deposits (packages orders and
-- merchants).

-- When sync_order last asked the provider about the order: the schedule polls the
-- least recently asked first, so that every open order is polled in turn however
-- many there are. The sweep asks per pollable account, so that the open orders of
-- accounts no query can move (UsdtPay, VPay) are never walked.
ALTER TABLE orders ADD COLUMN last_synced_at timestamptz;
CREATE INDEX orders_sync_idx ON orders (provider_account_id, last_synced_at NULLS FIRST, created_at)
    WHERE status IN ('created', 'pending', 'processing') AND origin = 'api';

-- How long a deposit of the account may stay unpaid: its orders.expires_at is
-- created_at plus this, after which reconciliation calls it stale_pending.
ALTER TABLE provider_accounts
    ADD COLUMN deposit_lifetime_ms bigint NOT NULL DEFAULT 86400000 CHECK (deposit_lifetime_ms > 0);

-- +goose Down
ALTER TABLE provider_accounts DROP COLUMN deposit_lifetime_ms;
DROP INDEX orders_sync_idx;
ALTER TABLE orders DROP COLUMN last_synced_at;
