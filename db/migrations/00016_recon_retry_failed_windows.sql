-- +goose Up
-- A scheduled window runs once while its run is running or completed; a window
-- whose run failed may be run again (the schedule retries it), so the failed
-- run no longer holds the window's key.
DROP INDEX recon_runs_scheduled_key;
CREATE UNIQUE INDEX recon_runs_scheduled_key ON recon_runs (kind, provider_account_id, window_start, window_end)
    WHERE trigger = 'schedule' AND status <> 'failed';

-- +goose Down
-- Fails when a window has a failed run and its retry: delete one of them first.
DROP INDEX recon_runs_scheduled_key;
CREATE UNIQUE INDEX recon_runs_scheduled_key ON recon_runs (kind, provider_account_id, window_start, window_end)
    WHERE trigger = 'schedule';
