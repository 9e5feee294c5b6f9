-- +goose Up
-- Webhook secret rotation with an overlap window (package merchants): the
-- secret a rotation replaced stays sealed beside the new one and signs every
-- delivery too until webhook_secret_prev_until, so that a merchant can switch
-- its endpoint to the new secret at any time within the window.
ALTER TABLE merchants
    ADD COLUMN webhook_secret_prev_sealed  bytea,
    ADD COLUMN webhook_secret_prev_until   timestamptz,
    -- What the merchant's webhook receives: 'order' (every order event, the
    -- default: merchants before subscriptions see no change),
    -- 'discrepancy.opened', 'discrepancy.resolved'.
    ADD COLUMN webhook_events              text[] NOT NULL DEFAULT '{order}'
        CHECK (webhook_events <@ ARRAY['order', 'discrepancy.opened', 'discrepancy.resolved']::text[]);

-- Merchant webhook events that are not order events (package webhooks):
-- discrepancy.opened and discrepancy.resolved, written in the transaction
-- that opens or closes the discrepancy, with the discrepancy as it was then.
-- Their ids come from order_events' sequence, so that an event id
-- (Tally-Event-Id, a merchant's dedupe key) names one event of either kind.
CREATE TABLE webhook_events (
    id              bigint PRIMARY KEY DEFAULT nextval('order_events_id_seq'),
    merchant_id     bigint NOT NULL REFERENCES merchants (id),
    type            text NOT NULL CHECK (type IN ('discrepancy.opened', 'discrepancy.resolved')),
    discrepancy_id  bigint NOT NULL,
    -- json, not jsonb: the object exactly as the API encodes it.
    payload         json NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_merchant_idx ON webhook_events (merchant_id, id);

-- A delivery of a webhook event is about no order.
ALTER TABLE webhook_deliveries ALTER COLUMN order_id DROP NOT NULL;

-- +goose Down
DELETE FROM webhook_deliveries WHERE order_id IS NULL;
ALTER TABLE webhook_deliveries ALTER COLUMN order_id SET NOT NULL;
DROP TABLE webhook_events;
ALTER TABLE merchants DROP COLUMN webhook_events, DROP COLUMN webhook_secret_prev_until,
    DROP COLUMN webhook_secret_prev_sealed;
