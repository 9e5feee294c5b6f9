-- +goose Up
-- reference_conflict: a provider event whose order number names one order
-- and whose provider order id names another (nothing moves on either).
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_type_check;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_type_check CHECK (type IN ('amount_mismatch', 'status_mismatch',
    'missing_callback', 'unknown_order', 'duplicate_conflict', 'reversal', 'fee_mismatch', 'balance_drift',
    'stale_pending', 'rejected_callback', 'ledger_invariant', 'reference_conflict'));

-- +goose Down
ALTER TABLE discrepancies DROP CONSTRAINT discrepancies_type_check;
ALTER TABLE discrepancies ADD CONSTRAINT discrepancies_type_check CHECK (type IN ('amount_mismatch', 'status_mismatch',
    'missing_callback', 'unknown_order', 'duplicate_conflict', 'reversal', 'fee_mismatch', 'balance_drift',
    'stale_pending', 'rejected_callback', 'ledger_invariant'));
