-- +goose Up
-- Discrepancies (package discrepancies): every disagreement between the ledger and
-- a provider, found by the order pipeline or by reconciliation. A problem found
-- again has the same fingerprint, so it is the same row.
CREATE TABLE discrepancies (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id             bigint NOT NULL REFERENCES merchants (id),
    provider_account_id     bigint REFERENCES provider_accounts (id),
    order_id                bigint REFERENCES orders (id),
    type                    text NOT NULL CHECK (type IN ('amount_mismatch', 'status_mismatch', 'missing_callback',
                              'unknown_order', 'duplicate_conflict', 'reversal', 'fee_mismatch', 'balance_drift',
                              'stale_pending', 'rejected_callback', 'ledger_invariant')),
    fingerprint             text NOT NULL UNIQUE,
    status                  text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'ignored')),
    severity                text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    currency                text NOT NULL DEFAULT '',
    expected                numeric,
    actual                  numeric,
    amount_delta            numeric NOT NULL DEFAULT 0,
    summary                 text NOT NULL,
    detail                  jsonb NOT NULL DEFAULT '{}',
    -- Money the pipeline parked in suspense for this discrepancy, if any.
    suspense_amount         numeric NOT NULL DEFAULT 0,
    -- repaired: the pipeline or a run fixed the cause itself (a missing callback
    -- applied through the state machine); the row stays as a record.
    repaired                boolean NOT NULL DEFAULT false,
    first_seen_at           timestamptz NOT NULL DEFAULT now(),
    last_seen_at            timestamptz NOT NULL DEFAULT now(),
    seen_count              integer NOT NULL DEFAULT 1,
    last_run_id             bigint,
    resolved_at             timestamptz,
    resolved_by             text NOT NULL DEFAULT '',
    resolution              text NOT NULL DEFAULT '',
    resolution_note         text NOT NULL DEFAULT '',
    resolution_transfer_key text NOT NULL DEFAULT ''
);
CREATE INDEX discrepancies_open_idx ON discrepancies (merchant_id, type, first_seen_at) WHERE status = 'open';
CREATE INDEX discrepancies_order_idx ON discrepancies (order_id) WHERE order_id IS NOT NULL;

-- The audit trail: who did what to a discrepancy, when and why.
CREATE TABLE discrepancy_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    discrepancy_id   bigint NOT NULL REFERENCES discrepancies (id),
    action           text NOT NULL CHECK (action IN ('opened', 'seen', 'repaired', 'auto_closed', 'resolved', 'ignored', 'reopened')),
    actor            text NOT NULL,
    note             text NOT NULL DEFAULT '',
    detail           jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX discrepancy_events_idx ON discrepancy_events (discrepancy_id, id);

-- +goose Down
DROP TABLE discrepancy_events;
DROP TABLE discrepancies;
