-- +goose Up
-- Rejected callback deliveries (bad signature, unparsable) are counted, not
-- stored without bound: one row per provider account and UTC hour counts every
-- rejected delivery tally took in (deliveries) and how many of them were kept
-- in callback_inbox as samples (sampled, at most tally serve
-- --rejected-samples-per-hour). Deliveries refused by the ingress rate limits
-- (503) are not counted here: /metrics counts them.
CREATE TABLE callback_rejections (
    provider_account_id  bigint NOT NULL REFERENCES provider_accounts (id),
    merchant_id          bigint NOT NULL,
    window_start         timestamptz NOT NULL,
    deliveries           bigint NOT NULL DEFAULT 0,
    sampled              integer NOT NULL DEFAULT 0,
    last_remote_addr     text NOT NULL DEFAULT '',
    last_error           text NOT NULL DEFAULT '',
    first_at             timestamptz NOT NULL DEFAULT now(),
    last_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_account_id, window_start)
);
CREATE INDEX callback_rejections_merchant_idx ON callback_rejections (merchant_id, window_start DESC);

-- +goose Down
DROP TABLE callback_rejections;
