-- +goose Up
-- The deposit/payout lifecycle (package orders): orders, their timeline, and the
-- callback inbox every provider callback is written to before it is acknowledged.

CREATE TABLE orders (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id          bigint NOT NULL REFERENCES merchants (id),
    provider_account_id  bigint NOT NULL REFERENCES provider_accounts (id),
    kind                 text NOT NULL CHECK (kind IN ('deposit', 'payout')),
    -- api: created through the merchant API; wallet: a deposit to a user's wallet
    -- address that belongs to no order; provider: an order the provider reported
    -- that tally did not know (unknown_order).
    origin               text NOT NULL DEFAULT 'api' CHECK (origin IN ('api', 'wallet', 'provider')),
    merchant_order_no    text,
    -- The order number tally sends the provider (unique per provider account).
    provider_order_no    text NOT NULL,
    -- The provider's own id, once known.
    provider_order_id    text NOT NULL DEFAULT '',
    customer_id          text NOT NULL,
    amount               numeric NOT NULL CHECK (amount > 0),
    currency             text NOT NULL,
    -- What the payer pays in when it differs (VPay: quoted CNY, paid USDT).
    pay_currency         text NOT NULL,
    status               text NOT NULL CHECK (status IN ('created', 'pending', 'processing', 'succeeded', 'failed', 'expired', 'reversed')),
    status_reason        text NOT NULL DEFAULT '',
    -- What the provider reported: paid by the payer, credited to the merchant, fee.
    paid_amount          numeric,
    credited_amount      numeric,
    fee                  numeric,
    settled_currency     text NOT NULL DEFAULT '',
    fx_rate              numeric,
    tx_hash              text NOT NULL DEFAULT '',
    -- Where a settled deposit's money went in the ledger: the customer's account,
    -- or suspense (an amount mismatch or unknown order awaiting an accountant).
    credited_to          text NOT NULL DEFAULT '',
    -- The pieces of an order the provider settled in several parts.
    parts                jsonb,
    -- The provider's answer to the create call: what the payer needs.
    cashier_url          text NOT NULL DEFAULT '',
    pay_form             jsonb,
    addresses            jsonb,
    -- The request as the merchant sent it (payer, beneficiary, urls, extra).
    request              jsonb NOT NULL DEFAULT '{}',
    idempotency_key      text,
    request_hash         bytea,
    -- submit_order's progress: ambiguous means the provider may have the order, so
    -- the next attempt queries before it creates.
    submit_state         text NOT NULL DEFAULT 'pending' CHECK (submit_state IN ('pending', 'submitted', 'ambiguous', 'rejected')),
    submit_attempts      integer NOT NULL DEFAULT 0,
    last_error           text NOT NULL DEFAULT '',
    -- The ledger hold of a payout.
    hold_key             text NOT NULL DEFAULT '',
    expires_at           timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    final_at             timestamptz,
    UNIQUE (provider_account_id, provider_order_no),
    UNIQUE (merchant_id, idempotency_key)
);
CREATE UNIQUE INDEX orders_merchant_order_no_key ON orders (merchant_id, merchant_order_no) WHERE merchant_order_no IS NOT NULL;
CREATE INDEX orders_merchant_created_idx ON orders (merchant_id, created_at DESC, id DESC);
CREATE INDEX orders_open_idx ON orders (provider_account_id, created_at) WHERE status IN ('created', 'pending', 'processing');
CREATE INDEX orders_provider_id_idx ON orders (provider_account_id, provider_order_id) WHERE provider_order_id <> '';
CREATE INDEX orders_tx_hash_idx ON orders (provider_account_id, tx_hash) WHERE tx_hash <> '';

-- Every status change and provider interaction of an order, for its timeline.
CREATE TABLE order_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     bigint NOT NULL REFERENCES orders (id),
    merchant_id  bigint NOT NULL,
    source       text NOT NULL,
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order_idx ON order_events (order_id, id);

-- Every callback a provider sent, stored before it is acknowledged. Identical
-- deliveries (same account, same request) are one row whose deliveries count
-- grows: the permanent dedupe that River's uniqueness cannot give.
CREATE TABLE callback_inbox (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_account_id  bigint NOT NULL REFERENCES provider_accounts (id),
    merchant_id          bigint NOT NULL,
    request_hash         bytea NOT NULL,
    method               text NOT NULL,
    path                 text NOT NULL,
    query                text NOT NULL DEFAULT '',
    headers              jsonb NOT NULL DEFAULT '{}',
    body                 bytea NOT NULL,
    remote_addr          text NOT NULL DEFAULT '',
    -- accepted: signature verified; hint: unsigned by design (confirm by query);
    -- rejected: bad signature or unparsable.
    verdict              text NOT NULL CHECK (verdict IN ('accepted', 'hint', 'rejected')),
    error                text NOT NULL DEFAULT '',
    deliveries           integer NOT NULL DEFAULT 1,
    order_id             bigint,
    outcome              text NOT NULL DEFAULT '',
    received_at          timestamptz NOT NULL DEFAULT now(),
    last_received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at         timestamptz,
    UNIQUE (provider_account_id, request_hash)
);
CREATE INDEX callback_inbox_unprocessed_idx ON callback_inbox (received_at) WHERE processed_at IS NULL AND verdict <> 'rejected';
CREATE INDEX callback_inbox_order_idx ON callback_inbox (order_id) WHERE order_id IS NOT NULL;

-- Outbound webhooks to merchants: every attempt, for the delivery list.
CREATE TABLE webhook_deliveries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id   bigint NOT NULL,
    order_id      bigint NOT NULL REFERENCES orders (id),
    event_id      bigint NOT NULL,
    url           text NOT NULL,
    attempt       integer NOT NULL,
    status_code   integer NOT NULL DEFAULT 0,
    error         text NOT NULL DEFAULT '',
    duration_ms   integer NOT NULL DEFAULT 0,
    delivered     boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_merchant_idx ON webhook_deliveries (merchant_id, id DESC);
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (order_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE callback_inbox;
DROP TABLE order_events;
DROP TABLE orders;
