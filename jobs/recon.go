package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/tallyhq/tally/recon"
)

// ReconRunArgs: carry out (or resume) a reconciliation run
// (recon.Service.ExecuteJob).
type ReconRunArgs struct {
	RunID int64 `json:"run_id" river:"unique"`
}

// Kind is the River job kind.
func (ReconRunArgs) Kind() string { return "recon_run" }

// InsertOpts: one job per run while it waits or runs, on the recon queue;
// retried from the run's checkpoint.
func (ReconRunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueRecon, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ReconScheduleArgs: start the runs of one window for every provider account
// (recon.Service.Schedule).
type ReconScheduleArgs struct {
	RunKind recon.RunKind `json:"kind"`
	// Every is the window length; windows end Lag before the period boundary.
	Every time.Duration `json:"every"`
	Lag   time.Duration `json:"lag"`
}

// Kind is the River job kind.
func (ReconScheduleArgs) Kind() string { return "recon_schedule" }

// ReconSweepArgs: fail runs that stopped making progress
// (recon.Service.FailAbandoned).
type ReconSweepArgs struct{}

// Kind is the River job kind.
func (ReconSweepArgs) Kind() string { return "recon_sweep" }

// reconBusyWait is how long a recon_run job whose run another worker is
// executing (a rescued duplicate) waits before it looks again.
const reconBusyWait = 30 * time.Second

// addReconWorkers adds the reconciliation workers to a River worker set.
func addReconWorkers(w *river.Workers, svc *recon.Service, logger *slog.Logger) {
	river.AddWorker(w, &reconRunWorker{svc: svc, logger: logger})
	river.AddWorker(w, &reconScheduleWorker{svc: svc})
	river.AddWorker(w, &reconSweepWorker{svc: svc})
}

type reconRunWorker struct {
	river.WorkerDefaults[ReconRunArgs]
	svc    *recon.Service
	logger *slog.Logger
}

func (w *reconRunWorker) Work(ctx context.Context, job *river.Job[ReconRunArgs]) error {
	err := w.svc.ExecuteJob(ctx, job.Args.RunID, job.Attempt >= job.MaxAttempts)
	switch {
	case errors.Is(err, recon.ErrRunBusy):
		return river.JobSnooze(reconBusyWait)
	case errors.Is(err, recon.ErrRunEnded):
		// The sweep failed the run (a window the schedule may be running
		// again): nothing is left for this job to do.
		w.logger.Warn("reconciliation run ended while it was executing", "run_id", job.Args.RunID, "job_id", job.ID)
		return nil
	}
	return err
}

// Timeout bounds one attempt of a run (it resumes from its checkpoint).
func (w *reconRunWorker) Timeout(*river.Job[ReconRunArgs]) time.Duration { return 30 * time.Minute }

type reconScheduleWorker struct {
	river.WorkerDefaults[ReconScheduleArgs]
	svc *recon.Service
}

func (w *reconScheduleWorker) Work(ctx context.Context, job *river.Job[ReconScheduleArgs]) error {
	if job.Args.Every <= 0 {
		// Never valid: retrying cannot help.
		return river.JobCancel(fmt.Errorf("schedule window %s: %w", job.Args.Every, recon.ErrInvalid))
	}
	return w.svc.Schedule(ctx, job.Args.RunKind, job.Args.Every, job.Args.Lag)
}

type reconSweepWorker struct {
	river.WorkerDefaults[ReconSweepArgs]
	svc *recon.Service
}

func (w *reconSweepWorker) Work(ctx context.Context, _ *river.Job[ReconSweepArgs]) error {
	_, err := w.svc.FailAbandoned(ctx)
	return err
}
