package recon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tallyhq/tally/db/recondb"
)

// RunArgs: carry out (or resume) a reconciliation run.
type RunArgs struct {
	RunID int64 `json:"run_id" river:"unique"`
}

// Kind is the River job kind.
func (RunArgs) Kind() string { return "recon_run" }

// Queue is the River queue of reconciliation runs: workers of every process
// take it, and `tally recon run` works it alone.
const Queue = "recon"

// InsertOpts: one job per run while it waits or runs; retried from the checkpoint.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ScheduleArgs: start the runs of one window for every provider account.
type ScheduleArgs struct {
	RunKind RunKind `json:"kind"`
	// Every is the window length; windows end Lag before the period boundary.
	Every time.Duration `json:"every"`
	Lag   time.Duration `json:"lag"`
}

// Kind is the River job kind.
func (ScheduleArgs) Kind() string { return "recon_schedule" }

// SweepArgs: fail runs that stopped making progress.
type SweepArgs struct{}

// Kind is the River job kind.
func (SweepArgs) Kind() string { return "recon_sweep" }

// Register adds the reconciliation workers to a River worker set.
func (s *Service) Register(w *river.Workers) {
	river.AddWorker(w, &runWorker{s: s})
	river.AddWorker(w, &scheduleWorker{s: s})
	river.AddWorker(w, &sweepWorker{s: s})
}

// Enqueue queues a run's job inside tx (or on the pool when tx is nil).
func Enqueue(ctx context.Context, client *river.Client[pgx.Tx], tx pgx.Tx, runID int64) error {
	var err error
	if tx != nil {
		_, err = client.InsertTx(ctx, tx, RunArgs{RunID: runID}, nil)
	} else {
		_, err = client.Insert(ctx, RunArgs{RunID: runID}, nil)
	}
	if err != nil {
		return fmt.Errorf("queue recon_run %d: %w", runID, err)
	}
	return nil
}

// Window is the scheduled window ending before now: [end-every, end) with end
// the last period boundary at least lag ago.
func Window(now time.Time, every, lag time.Duration) (time.Time, time.Time) {
	end := now.Add(-lag).Truncate(every)
	return end.Add(-every), end
}

type runWorker struct {
	river.WorkerDefaults[RunArgs]
	s *Service
}

// errRunBusy: another worker is executing the run (a rescued duplicate).
var errRunBusy = errors.New("run is being executed by another worker")

func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	conn, err := w.s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := int64(0x7ec0<<48) | job.Args.RunID
	got, err := recondb.New(conn).TryAdvisoryLock(ctx, key)
	if err != nil {
		return err
	}
	if !got {
		return river.JobSnooze(30 * time.Second)
	}
	defer func() { _, _ = recondb.New(conn).AdvisoryUnlock(context.WithoutCancel(ctx), key) }()
	_, err = w.s.execute(ctx, job.Args.RunID, nil, job.Attempt >= job.MaxAttempts)
	if errors.Is(err, ErrRunEnded) {
		// The sweep failed the run (a window the schedule may be running
		// again): nothing is left for this job to do.
		w.s.opts.Logger.Warn("reconciliation run ended while it was executing", "run_id", job.Args.RunID, "job_id", job.ID)
		return nil
	}
	return err
}

func (w *runWorker) Timeout(*river.Job[RunArgs]) time.Duration { return 30 * time.Minute }

type scheduleWorker struct {
	river.WorkerDefaults[ScheduleArgs]
	s *Service
}

// Work starts one run per enabled provider account for the window, and for
// every window since the account's last scheduled one that no run covers (a
// tick the scheduler missed, a node that was down), at most maxCatchUp of them:
// windows tile time, so that every order, and every deadline (overduePage),
// falls in one scheduled run. A window already run (or running) by the
// schedule is skipped (the runs table's unique key); a recent window whose
// runs all failed is run again, up to maxWindowFailures times.
func (w *scheduleWorker) Work(ctx context.Context, job *river.Job[ScheduleArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	every := job.Args.Every
	if every <= 0 {
		return river.JobCancel(fmt.Errorf("schedule window %s: %w", every, ErrInvalid))
	}
	_, to := Window(w.s.opts.Now(), every, job.Args.Lag)
	accts, err := w.s.merchants.ProviderAccounts(ctx, 0)
	if err != nil {
		return err
	}
	for _, a := range accts {
		if !a.Enabled {
			continue
		}
		from := to.Add(-every)
		last, err := w.s.q.LastScheduledWindowEnd(ctx, recondb.LastScheduledWindowEndParams{Kind: string(job.Args.RunKind),
			ProviderAccountID: &a.ID, LengthSeconds: int64(every / time.Second)})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("last scheduled window of %s: %w", a.Name, err)
		case last.Before(from):
			from = last
			if oldest := to.Add(-maxCatchUp * every); from.Before(oldest) {
				w.s.opts.Logger.Warn("reconciliation windows skipped: too far behind", "account", a.Name, "kind", job.Args.RunKind,
					"from", from, "resumed_at", oldest)
				from = oldest
			}
		}
		type window struct{ from, to time.Time }
		var windows []window
		// Windows whose every run failed are run again, a few times at most.
		failed, err := w.s.q.FailedScheduledWindows(ctx, recondb.FailedScheduledWindowsParams{Kind: string(job.Args.RunKind),
			ProviderAccountID: &a.ID, LengthSeconds: int64(every / time.Second), After: to.Add(-maxCatchUp * every), MaxFailures: maxWindowFailures})
		if err != nil {
			return fmt.Errorf("failed windows of %s: %w", a.Name, err)
		}
		for _, f := range failed {
			w.s.opts.Logger.Info("reconciliation window failed before: running it again", "account", a.Name, "kind", job.Args.RunKind,
				"window_start", f.WindowStart, "failures", f.Failures)
			windows = append(windows, window{f.WindowStart, f.WindowEnd})
		}
		for start := from; start.Before(to); start = start.Add(every) {
			windows = append(windows, window{start, start.Add(every)})
		}
		for _, win := range windows {
			err := pgx.BeginFunc(ctx, w.s.pool, func(tx pgx.Tx) error {
				run, err := w.s.CreateTx(ctx, tx, Request{MerchantID: a.MerchantID, ProviderAccount: a.Name, Kind: job.Args.RunKind,
					From: win.from, To: win.to, Trigger: "schedule"})
				if errors.Is(err, ErrDuplicate) {
					return nil
				}
				if err != nil {
					return err
				}
				return Enqueue(ctx, client, tx, run.ID)
			})
			if err != nil {
				return fmt.Errorf("schedule %s run of %s: %w", job.Args.RunKind, a.Name, err)
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

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Service
}

// abandonAfter is how long a run may make no progress before it is failed.
const abandonAfter = 30 * time.Minute

// Work fails runs whose heartbeat stopped: a run is never left running forever.
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	rows, err := w.s.q.AbandonedRuns(ctx, w.s.opts.Now().Add(-abandonAfter))
	if err != nil {
		return err
	}
	for _, r := range rows {
		run, err := w.s.runFrom(ctx, r)
		if err != nil {
			return err
		}
		_, _ = w.s.fail(ctx, run, fmt.Errorf("abandoned: no progress since %s", r.HeartbeatAt.Format(time.RFC3339)))
	}
	return nil
}
