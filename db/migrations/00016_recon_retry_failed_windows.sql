-- +goose Up
-- A scheduled window runs once while its run is running or completed; a window
-- whose run failed may be run again (the schedule retries it), so the failed
-- run no longer holds the window's key.
DROP INDEX recon_runs_scheduled_key;
CREATE UNIQUE INDEX recon_runs_scheduled_key ON recon_runs (kind, provider_account_id, window_start, window_end)
    WHERE trigger = 'schedule' AND status <> 'failed';

-- +goose Down
-- The old key holds one scheduled run per window, failed or not: of a window's
-- runs, the latest that did not fail (else the latest) stays scheduled, the
-- others are marked as started by hand ('cli'), so that the key can be built.
UPDATE recon_runs r SET trigger = 'cli'
WHERE r.trigger = 'schedule'
  AND r.id <> (SELECT k.id FROM recon_runs k
               WHERE k.trigger = 'schedule' AND k.kind = r.kind AND k.provider_account_id IS NOT DISTINCT FROM r.provider_account_id
                 AND k.window_start = r.window_start AND k.window_end = r.window_end
               ORDER BY (k.status = 'failed'), k.id DESC LIMIT 1);
DROP INDEX recon_runs_scheduled_key;
CREATE UNIQUE INDEX recon_runs_scheduled_key ON recon_runs (kind, provider_account_id, window_start, window_end)
    WHERE trigger = 'schedule';
