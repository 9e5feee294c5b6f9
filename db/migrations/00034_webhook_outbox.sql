-- +goose Up
-- Merchant webhook delivery without a River job per event (package webhooks):
-- every event to deliver (an order event, or a webhook_events row) is a row
-- of webhook_outbox, written in the transaction of the change it reports, and
-- gone once delivered. A per-merchant dispatcher (the webhook_dispatch River
-- job, unique per merchant: its lease) delivers a merchant's due events in
-- batches, each order's events in order, and reschedules each failed event on
-- its own backoff (attempts, next_attempt_at; 9999-12-31 once given up).
CREATE TABLE webhook_outbox (
    event_id         bigint PRIMARY KEY,
    merchant_id      bigint NOT NULL,
    order_id         bigint,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (merchant_id, next_attempt_at, event_id);
CREATE INDEX webhook_outbox_order_idx ON webhook_outbox (order_id, event_id) WHERE order_id IS NOT NULL;

-- Each merchant endpoint's circuit breaker: closed (delivering), open (a run
-- of failures: nothing is attempted until open_until), half_open (one probe).
CREATE TABLE webhook_endpoints (
    merchant_id   bigint PRIMARY KEY REFERENCES merchants (id),
    state         text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    failures      integer NOT NULL DEFAULT 0,
    opened        integer NOT NULL DEFAULT 0,
    open_until    timestamptz,
    last_error    text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE webhook_endpoints;
DROP TABLE webhook_outbox;
