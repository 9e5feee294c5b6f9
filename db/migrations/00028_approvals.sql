-- +goose Up
-- Maker-checker (package recon writes both tables): a resolution that posts to
-- the ledger and whose amount is at or above the merchant's threshold for its
-- currency is a proposal until an approver other than its maker approves it;
-- the posting happens in the approval's transaction.
CREATE TABLE resolution_proposals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES merchants (id),
    discrepancy_id  bigint NOT NULL REFERENCES discrepancies (id),
    action          text NOT NULL CHECK (action IN ('accept_received', 'refund_payer', 'write_off', 'match_order')),
    -- The resolution's parameters: match_order's order, refund_payer's payout.
    order_id        bigint,
    refund_account  text NOT NULL DEFAULT '',
    beneficiary     jsonb NOT NULL DEFAULT '{}',
    -- What the resolution would post (the transfer's amount), checked again at approval.
    amount          numeric NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL,
    -- maker and decided_by are authenticated actors (user:ID, key:ID, cli:USER).
    maker           text NOT NULL CHECK (maker <> ''),
    reason          text NOT NULL CHECK (btrim(reason) <> ''),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by      text,
    decided_at      timestamptz,
    decision_note   text NOT NULL DEFAULT '',
    transfer_key    text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Nobody approves their own proposal (the maker may withdraw it: a rejection).
    CONSTRAINT resolution_proposals_four_eyes CHECK (status <> 'approved' OR decided_by <> maker),
    CONSTRAINT resolution_proposals_decided CHECK ((status = 'pending') = (decided_by IS NULL))
);
-- At most one pending proposal per discrepancy.
CREATE UNIQUE INDEX resolution_proposals_pending_key ON resolution_proposals (discrepancy_id) WHERE status = 'pending';
-- GET /v1/approvals: a merchant's (or every merchant's) proposals by status, newest first.
CREATE INDEX resolution_proposals_merchant_idx ON resolution_proposals (merchant_id, status, id);
CREATE INDEX resolution_proposals_status_idx ON resolution_proposals (status, id);
CREATE INDEX resolution_proposals_discrepancy_idx ON resolution_proposals (discrepancy_id, id);

-- Per merchant and currency: a posting resolution whose amount is at or above
-- the threshold needs approval. No row: every amount needs approval.
CREATE TABLE approval_thresholds (
    merchant_id  bigint NOT NULL REFERENCES merchants (id),
    currency     text NOT NULL,
    threshold    numeric NOT NULL CHECK (threshold >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, currency)
);

-- The queue: assignment to a staff user, and a rank to sort by severity.
ALTER TABLE discrepancies ADD COLUMN assigned_to bigint REFERENCES staff_users (id);
ALTER TABLE discrepancies ADD COLUMN assigned_at timestamptz;
ALTER TABLE discrepancies ADD COLUMN severity_rank smallint GENERATED ALWAYS AS (
    CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END) STORED;

ALTER TABLE discrepancy_events DROP CONSTRAINT discrepancy_events_action_check;
ALTER TABLE discrepancy_events ADD CONSTRAINT discrepancy_events_action_check CHECK (action IN ('opened', 'seen',
    'repaired', 'auto_closed', 'resolved', 'ignored', 'reopened', 'proposed', 'approved', 'rejected', 'assigned'));

-- discrepancies.Query: each sort of the queue walks an index in order (keyset
-- pagination), by status first (the queue is mostly status = open).
CREATE INDEX discrepancies_queue_age_idx ON discrepancies (status, first_seen_at, id);
CREATE INDEX discrepancies_queue_amount_idx ON discrepancies (status, (abs(amount_delta)), id);
CREATE INDEX discrepancies_queue_severity_idx ON discrepancies (status, severity_rank, id);
CREATE INDEX discrepancies_queue_assigned_idx ON discrepancies (assigned_to, status, first_seen_at, id) WHERE assigned_to IS NOT NULL;

-- +goose Down
DROP INDEX discrepancies_queue_assigned_idx;
DROP INDEX discrepancies_queue_severity_idx;
DROP INDEX discrepancies_queue_amount_idx;
DROP INDEX discrepancies_queue_age_idx;
DELETE FROM discrepancy_events WHERE action IN ('proposed', 'approved', 'rejected', 'assigned');
ALTER TABLE discrepancy_events DROP CONSTRAINT discrepancy_events_action_check;
ALTER TABLE discrepancy_events ADD CONSTRAINT discrepancy_events_action_check CHECK (action IN ('opened', 'seen',
    'repaired', 'auto_closed', 'resolved', 'ignored', 'reopened'));
ALTER TABLE discrepancies DROP COLUMN severity_rank;
ALTER TABLE discrepancies DROP COLUMN assigned_at;
ALTER TABLE discrepancies DROP COLUMN assigned_to;
DROP TABLE approval_thresholds;
DROP TABLE resolution_proposals;
