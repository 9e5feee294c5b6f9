package recon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tallyhq/tally/db/jobsdb"
)

// RunArgs: carry out (or resume) a reconciliation run.
type RunArgs struct {
	RunID int64 `json:"run_id" river:"unique"`
}

// Kind is the River job kind.
func (RunArgs) Kind() string { return "recon_run" }

// InsertOpts: one job per run while it waits or runs; retried from the checkpoint.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
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
	got, err := jobsdb.New(conn).TryAdvisoryLock(ctx, key)
	if err != nil {
		return err
	}
	if !got {
		return river.JobSnooze(30 * time.Second)
	}
	defer func() { _, _ = jobsdb.New(conn).AdvisoryUnlock(context.WithoutCancel(ctx), key) }()
	_, err = w.s.execute(ctx, job.Args.RunID, nil, job.Attempt >= job.MaxAttempts)
	return err
}

func (w *runWorker) Timeout(*river.Job[RunArgs]) time.Duration { return 30 * time.Minute }

type scheduleWorker struct {
	river.WorkerDefaults[ScheduleArgs]
	s *Service
}

// Work starts one run per enabled provider account for the window; a window
// already run by the schedule is skipped (the runs table's unique key).
func (w *scheduleWorker) Work(ctx context.Context, job *river.Job[ScheduleArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	from, to := Window(w.s.opts.Now(), job.Args.Every, job.Args.Lag)
	accts, err := w.s.merchants.ProviderAccounts(ctx, 0)
	if err != nil {
		return err
	}
	for _, a := range accts {
		if !a.Enabled {
			continue
		}
		err := pgx.BeginFunc(ctx, w.s.pool, func(tx pgx.Tx) error {
			run, err := w.s.CreateTx(ctx, tx, Request{MerchantID: a.MerchantID, ProviderAccount: a.Name, Kind: job.Args.RunKind,
				From: from, To: to, Trigger: "schedule"})
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
	return nil
}

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
