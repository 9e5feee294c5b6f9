-- +goose Up
-- Reconciliation (package recon): imported settlement statements, durable runs
-- with their checkpoints, and the discrepancies each run touched.

CREATE TABLE statements (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id          bigint NOT NULL REFERENCES merchants (id),
    provider_account_id  bigint NOT NULL REFERENCES provider_accounts (id),
    filename             text NOT NULL,
    sha256               bytea NOT NULL,
    lines                integer NOT NULL DEFAULT 0,
    bad_lines            integer NOT NULL DEFAULT 0,
    -- The first bad rows with their line numbers, for the importer's report.
    errors               jsonb NOT NULL DEFAULT '[]',
    period_start         timestamptz,
    period_end           timestamptz,
    imported_at          timestamptz NOT NULL DEFAULT now(),
    imported_by          text NOT NULL DEFAULT '',
    UNIQUE (provider_account_id, sha256)
);

CREATE TABLE statement_lines (
    statement_id       bigint NOT NULL REFERENCES statements (id),
    line_no            integer NOT NULL,
    order_no           text NOT NULL DEFAULT '',
    provider_order_id  text NOT NULL DEFAULT '',
    kind               text NOT NULL,
    status             text NOT NULL,
    amount             numeric NOT NULL,
    fee                numeric,
    currency           text NOT NULL,
    settled_at         timestamptz NOT NULL,
    part_id            text NOT NULL DEFAULT '',
    -- What the order asked for, when the provider's file says.
    requested          numeric,
    PRIMARY KEY (statement_id, line_no)
);

-- One row per order of a statement: its lines summed (an order settled in several
-- parts has several lines), so that matching pages through orders, not lines.
-- key is the order number, or "wallet:" and the provider's id for lines without one.
CREATE TABLE statement_orders (
    statement_id       bigint NOT NULL REFERENCES statements (id),
    key                text NOT NULL,
    order_no           text NOT NULL,
    provider_order_id  text NOT NULL,
    kind               text NOT NULL,
    status             text NOT NULL,
    amount             numeric NOT NULL,
    fee                numeric,
    currency           text NOT NULL,
    currencies         integer NOT NULL,
    requested          numeric,
    settled_at         timestamptz NOT NULL,
    lines              integer NOT NULL,
    first_line         integer NOT NULL,
    PRIMARY KEY (statement_id, key)
);

CREATE TABLE recon_runs (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id          bigint NOT NULL REFERENCES merchants (id),
    provider_account_id  bigint REFERENCES provider_accounts (id),
    kind                 text NOT NULL CHECK (kind IN ('orders', 'statement', 'balances', 'full')),
    window_start         timestamptz NOT NULL,
    window_end           timestamptz NOT NULL CHECK (window_end > window_start),
    statement_id         bigint REFERENCES statements (id),
    trigger              text NOT NULL DEFAULT 'cli' CHECK (trigger IN ('schedule', 'cli', 'api', 'demo', 'test')),
    status               text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    -- Where a crashed run resumes, and its counters so far.
    checkpoint           jsonb NOT NULL DEFAULT '{}',
    summary              jsonb,
    error                text NOT NULL DEFAULT '',
    started_at           timestamptz NOT NULL DEFAULT now(),
    heartbeat_at         timestamptz NOT NULL DEFAULT now(),
    finished_at          timestamptz
);
CREATE INDEX recon_runs_merchant_idx ON recon_runs (merchant_id, id DESC);
CREATE INDEX recon_runs_running_idx ON recon_runs (heartbeat_at) WHERE status = 'running';
-- A scheduled window runs once, whatever River's uniqueness retention.
CREATE UNIQUE INDEX recon_runs_scheduled_key ON recon_runs (kind, provider_account_id, window_start, window_end)
    WHERE trigger = 'schedule';

-- The discrepancies a run opened, saw again, repaired or closed.
CREATE TABLE recon_run_findings (
    run_id          bigint NOT NULL REFERENCES recon_runs (id),
    discrepancy_id  bigint NOT NULL REFERENCES discrepancies (id),
    new             boolean NOT NULL DEFAULT false,
    repaired        boolean NOT NULL DEFAULT false,
    auto_closed     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, discrepancy_id)
);

-- Reconciliation pages through an account's orders by creation time, and finds
-- settled orders a statement does not list by settlement time.
CREATE INDEX orders_account_created_idx ON orders (provider_account_id, created_at, id);
CREATE INDEX orders_account_settled_idx ON orders (provider_account_id, final_at) WHERE status IN ('succeeded', 'reversed');

-- +goose Down
DROP TABLE recon_run_findings;
DROP TABLE recon_runs;
DROP TABLE statement_orders;
DROP TABLE statement_lines;
DROP TABLE statements;
