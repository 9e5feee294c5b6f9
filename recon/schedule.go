package recon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/recondb"
)

// Queue is how a run gets its job (recon_run) in the transaction that
// creates it, so that a run and its job exist together or not at all;
// package jobs implements it with River and works the job (ExecuteJob).
type Queue interface {
	RunRecon(ctx context.Context, tx pgx.Tx, runID int64) error
}

// Errors of the run's job and the schedule.
var (
	// ErrRunBusy: another worker is executing the run (a rescued duplicate
	// of its job); the job looks again later.
	ErrRunBusy = errors.New("run is being executed by another worker")
	// ErrNoQueue: the Service was built without a Queue, so it cannot start
	// a run as a job (Start, Schedule).
	ErrNoQueue = errors.New("reconciliation has no job queue")
)

// Start creates a run and queues its recon_run job in one transaction, and
// returns the run: how the merchant API and tally recon run start a run, as
// the schedule does (Schedule). A worker then carries it out (ExecuteJob).
func (s *Service) Start(ctx context.Context, req Request) (Run, error) {
	var run Run
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if run, err = s.CreateTx(ctx, tx, req); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, run.ID)
	})
	return run, err
}

func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, runID int64) error {
	if s.queue == nil {
		return fmt.Errorf("queue run %d: %w", runID, ErrNoQueue)
	}
	if err := s.queue.RunRecon(ctx, tx, runID); err != nil {
		return fmt.Errorf("queue run %d: %w", runID, err)
	}
	return nil
}

// ExecuteJob carries out (or resumes) a run as its recon_run job does: under
// the run's advisory lock, so that a rescued duplicate of the job never
// executes it at the same time (ErrRunBusy while another worker holds it).
// lastAttempt says the job has no attempt left: an error then fails the run;
// before it, the run stays running at its checkpoint for the retry. A run the
// sweep ended while it executed is ErrRunEnded.
func (s *Service) ExecuteJob(ctx context.Context, runID int64, lastAttempt bool) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("run %d: acquire a connection: %w", runID, err)
	}
	defer conn.Release()
	key := int64(0x7ec0<<48) | runID
	got, err := recondb.New(conn).TryAdvisoryLock(ctx, key)
	if err != nil {
		return fmt.Errorf("run %d: lock: %w", runID, err)
	}
	if !got {
		return fmt.Errorf("run %d: %w", runID, ErrRunBusy)
	}
	defer func() { _, _ = recondb.New(conn).AdvisoryUnlock(context.WithoutCancel(ctx), key) }()
	_, err = s.execute(ctx, runID, nil, lastAttempt)
	return err
}

// Window is the scheduled window ending before now: [end-every, end) with end
// the last period boundary at least lag ago.
func Window(now time.Time, every, lag time.Duration) (time.Time, time.Time) {
	end := now.Add(-lag).Truncate(every)
	return end.Add(-every), end
}

// Schedule starts, as the recon_schedule job does, one run of kind per
// enabled provider account for the window of length every ending lag before
// now (Window), and for every window since the account's last scheduled one
// that no run covers (a tick the scheduler missed, a node that was down), at
// most maxCatchUp of them: windows tile time, so that every order, and every
// deadline (overduePage), falls in one scheduled run. A window already run
// (or running) by the schedule is skipped (the runs table's unique key); a
// recent window whose runs all failed is run again, up to maxWindowFailures
// times. Each run is created with its job in one transaction.
func (s *Service) Schedule(ctx context.Context, kind RunKind, every, lag time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("schedule window %s: %w", every, ErrInvalid)
	}
	_, to := Window(s.opts.Now(), every, lag)
	accts, err := s.merchants.ProviderAccounts(ctx, 0)
	if err != nil {
		return err
	}
	for _, a := range accts {
		if !a.Enabled {
			continue
		}
		from := to.Add(-every)
		last, err := s.q.LastScheduledWindowEnd(ctx, recondb.LastScheduledWindowEndParams{Kind: string(kind),
			ProviderAccountID: &a.ID, LengthSeconds: int64(every / time.Second)})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("last scheduled window of %s: %w", a.Name, err)
		case last.Before(from):
			from = last
			if oldest := to.Add(-maxCatchUp * every); from.Before(oldest) {
				s.opts.Logger.Warn("reconciliation windows skipped: too far behind", "account", a.Name, "kind", kind,
					"from", from, "resumed_at", oldest)
				from = oldest
			}
		}
		type window struct{ from, to time.Time }
		var windows []window
		// Windows whose every run failed are run again, a few times at most.
		failed, err := s.q.FailedScheduledWindows(ctx, recondb.FailedScheduledWindowsParams{Kind: string(kind),
			ProviderAccountID: &a.ID, LengthSeconds: int64(every / time.Second), After: to.Add(-maxCatchUp * every), MaxFailures: maxWindowFailures})
		if err != nil {
			return fmt.Errorf("failed windows of %s: %w", a.Name, err)
		}
		for _, f := range failed {
			s.opts.Logger.Info("reconciliation window failed before: running it again", "account", a.Name, "kind", kind,
				"window_start", f.WindowStart, "failures", f.Failures)
			windows = append(windows, window{f.WindowStart, f.WindowEnd})
		}
		for start := from; start.Before(to); start = start.Add(every) {
			windows = append(windows, window{start, start.Add(every)})
		}
		for _, win := range windows {
			err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				run, err := s.CreateTx(ctx, tx, Request{MerchantID: a.MerchantID, ProviderAccount: a.Name, Kind: kind,
					From: win.from, To: win.to, Trigger: "schedule"})
				if errors.Is(err, ErrDuplicate) {
					return nil
				}
				if err != nil {
					return err
				}
				return s.enqueue(ctx, tx, run.ID)
			})
			if err != nil {
				return fmt.Errorf("schedule %s run of %s: %w", kind, a.Name, err)
			}
		}
	}
	return nil
}

// maxWindowFailures is how many times a scheduled window may fail before the
// schedule stops running it again (it stays listed as failed for an accountant).
const maxWindowFailures = 3

// maxCatchUp bounds how many missed windows one schedule tick starts per account.
const maxCatchUp = 96

// abandonAfter is how long a run may make no progress before it is failed.
const abandonAfter = 30 * time.Minute

// FailAbandoned fails the runs whose heartbeat stopped abandonAfter ago, as
// the recon_sweep job does, so that a run is never left running forever; it
// returns how many it found.
func (s *Service) FailAbandoned(ctx context.Context) (int, error) {
	rows, err := s.q.AbandonedRuns(ctx, s.opts.Now().Add(-abandonAfter))
	if err != nil {
		return 0, fmt.Errorf("abandoned runs: %w", err)
	}
	for _, r := range rows {
		run, err := s.runFrom(ctx, r)
		if err != nil {
			return 0, err
		}
		_, _ = s.fail(ctx, run, fmt.Errorf("abandoned: no progress since %s", r.HeartbeatAt.Format(time.RFC3339)))
	}
	return len(rows), nil
}
