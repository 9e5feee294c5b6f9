-- +goose Up
-- History (package ledger): BalanceAt sums an account's entries created at or
-- before a time. The index covers the query (index-only scan): on a 2M-entry
-- ledger an account with 1,000 entries went from 8.6 ms (scan of all its
-- entries by id, filtered) to 0.2 ms, and the hot clearing account's balance
-- 300 days back (180,000 of its 1M entries) from a 215 ms sequential scan to
-- 50 ms. An entry's created_at is its transfer's, which is its transaction's
-- start time (now()).
-- Building it blocks postings while it builds. On a large ledger, build it
-- first without blocking, and this migration then finds it:
--   CREATE INDEX CONCURRENTLY entries_account_time_idx ON entries (account_id, created_at) INCLUDE (side, phase, amount);
-- (Not CONCURRENTLY here: tally migrate holds an advisory lock that other
-- migrate processes wait for, and a concurrent build would wait for them.)
CREATE INDEX IF NOT EXISTS entries_account_time_idx ON entries (account_id, created_at) INCLUDE (side, phase, amount);

-- +goose Down
DROP INDEX IF EXISTS entries_account_time_idx;
