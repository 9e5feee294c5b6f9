-- +goose Up
-- Saved column mappings (package recon): how a provider's or bank's own CSV or
-- XLSX export becomes tally's statement lines, so that the file is imported as
-- it was downloaded. columns maps a statement field (order_no, amount,
-- settled_at, ...) to the header of the file's column holding it; status_values
-- and kind_values map the file's own words ("Paid", "Payout") to tally's.
CREATE TABLE statement_mappings (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchants (id),
    name             text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    format           text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    -- CSV: the field separator; XLSX: the sheet ('' is the first one).
    delimiter        text NOT NULL DEFAULT ',' CHECK (length(delimiter) = 1),
    sheet            text NOT NULL DEFAULT '',
    -- The 1-based row holding the column headers (rows above it are a preamble).
    header_row       integer NOT NULL DEFAULT 1 CHECK (header_row BETWEEN 1 AND 1000),
    columns          jsonb NOT NULL,
    -- A date pattern with YYYY MM DD HH mm ss ('' is RFC 3339 or YYYY-MM-DD HH:mm:ss),
    -- read in time_zone.
    date_format      text NOT NULL DEFAULT '',
    time_zone        text NOT NULL DEFAULT 'UTC',
    -- positive: amounts are positive, the kind comes from a column or default_kind;
    -- signed: a credit (+) is a deposit, a debit (-) a payout;
    -- debit_credit: separate credit (deposit) and debit (payout) columns.
    amount_sign      text NOT NULL CHECK (amount_sign IN ('positive', 'signed', 'debit_credit')),
    decimal_comma    boolean NOT NULL DEFAULT false,
    default_kind     text NOT NULL DEFAULT '' CHECK (default_kind IN ('', 'deposit', 'payout')),
    default_status   text NOT NULL DEFAULT '',
    default_currency text NOT NULL DEFAULT '',
    status_values    jsonb NOT NULL DEFAULT '{}',
    kind_values      jsonb NOT NULL DEFAULT '{}',
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, name)
);

-- A run started from the console records who started it (staff.User.Actor).
ALTER TABLE recon_runs ADD COLUMN started_by text NOT NULL DEFAULT '';
ALTER TABLE recon_runs DROP CONSTRAINT recon_runs_trigger_check;
ALTER TABLE recon_runs ADD CONSTRAINT recon_runs_trigger_check
    CHECK (trigger IN ('schedule', 'cli', 'api', 'demo', 'test', 'console'));

-- The console lists runs and statements of several merchants newest first.
CREATE INDEX statements_merchant_idx ON statements (merchant_id, id DESC);

-- +goose Down
DROP INDEX statements_merchant_idx;
ALTER TABLE recon_runs DROP CONSTRAINT recon_runs_trigger_check;
ALTER TABLE recon_runs ADD CONSTRAINT recon_runs_trigger_check
    CHECK (trigger IN ('schedule', 'cli', 'api', 'demo', 'test'));
ALTER TABLE recon_runs DROP COLUMN started_by;
DROP TABLE statement_mappings;
