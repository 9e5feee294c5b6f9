// Package jobs runs tally's background work on River, and is the one package
// that speaks River (with jobs/riverschema, River's tables): every job kind
// and its worker live here, calling the services that own the work. Provider
// calls (submit_order, sync_order, sync_open_orders) and payout holds
// (expire_holds) are package orders'; stored callbacks (process_callback,
// requeue_callbacks) package callbacks'; merchant webhooks (notify_merchant)
// package webhooks'; reconciliation runs, their schedule and their sweep
// (recon_run, recon_schedule, recon_sweep) package recon's. The gocron
// schedule (schedule.go) enqueues the periodic jobs from one leader across
// all processes.
//
// A process builds its Queue (queue.go) first, from the pool: the services
// queue their jobs through it, in their own transactions, through the small
// interfaces they declare (orders.Queue, callbacks.Queue, recon.Queue). The
// Runner, built after the services, works the jobs and runs the schedule.
// Nothing outside jobs inserts a River job or holds a River client; package
// app wires the two.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"

	"github.com/tallyhq/tally/callbacks"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/webhooks"
)

// Queue names: provider calls, callbacks and merchant webhooks get their own
// workers so that a slow provider cannot starve callback processing.
const (
	QueueProvider  = "provider"
	QueueCallbacks = "callbacks"
	QueueWebhooks  = "webhooks"
	QueueDefault   = river.QueueDefault
	// QueueRecon holds reconciliation runs (recon_run), so that a process
	// can work them and nothing else (tally recon run).
	QueueRecon = "recon"
)

// ErrRiver: River refused a client's configuration.
var ErrRiver = errors.New("river client")

// SubmitOrderArgs: call the provider for a new order.
type SubmitOrderArgs struct {
	OrderID int64 `json:"order_id"`
}

// Kind is the River job kind.
func (SubmitOrderArgs) Kind() string { return "submit_order" }

// InsertOpts puts provider calls on their own queue.
func (SubmitOrderArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueProvider, MaxAttempts: 10}
}

// ProcessCallbackArgs: apply stored callbacks: one (InboxID), or the callbacks
// one intake transaction stored together (InboxIDs), applied as a group.
type ProcessCallbackArgs struct {
	InboxID  int64   `json:"inbox_id,omitempty"`
	InboxIDs []int64 `json:"inbox_ids,omitempty"`
}

// IDs are the inbox ids of the job's callbacks.
func (a ProcessCallbackArgs) IDs() []int64 {
	if len(a.InboxIDs) > 0 {
		return a.InboxIDs
	}
	return []int64{a.InboxID}
}

// Kind is the River job kind.
func (ProcessCallbackArgs) Kind() string { return "process_callback" }

// InsertOpts puts callbacks on their own queue.
func (ProcessCallbackArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueCallbacks, MaxAttempts: 25}
}

// SyncOrderArgs: query the provider for an order and apply the answer.
type SyncOrderArgs struct {
	OrderID int64 `json:"order_id" river:"unique"`
	// HintID is the stored callback (a provider's hint) the query answers; 0
	// for a poll. A hint's query is unique to it: one already running may
	// have asked the provider before the hint's news.
	HintID int64 `json:"hint_id,omitempty" river:"unique"`
}

// Kind is the River job kind.
func (SyncOrderArgs) Kind() string { return "sync_order" }

// InsertOpts dedupes syncs of one order while one is waiting or running.
func (SyncOrderArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueProvider, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{
		ByArgs:  true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable},
	}}
}

// NotifyMerchantArgs: send the merchant the webhook for one order event.
type NotifyMerchantArgs struct {
	OrderID int64 `json:"order_id"`
	EventID int64 `json:"event_id"`
}

// Kind is the River job kind.
func (NotifyMerchantArgs) Kind() string { return "notify_merchant" }

// InsertOpts puts webhooks on their own queue: 15 attempts, retried 2 s
// doubling to an hour apart (notifyWorker.NextRetry), about four hours in all.
func (NotifyMerchantArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: webhookAttempts}
}

// webhookAttempts and the webhook backoff bounds: a merchant's endpoint may be
// down for about four hours before a webhook is given up (README, Webhooks).
const (
	webhookAttempts   = 15
	webhookRetryFirst = 2 * time.Second
	webhookRetryMax   = time.Hour
)

// SyncOpenOrdersArgs: queue a sync_order for every order still open.
type SyncOpenOrdersArgs struct{}

// Kind is the River job kind.
func (SyncOpenOrdersArgs) Kind() string { return "sync_open_orders" }

// ExpireHoldsArgs: end payouts whose hold expired.
type ExpireHoldsArgs struct{}

// Kind is the River job kind.
func (ExpireHoldsArgs) Kind() string { return "expire_holds" }

// RequeueCallbacksArgs: queue process_callback again for stored callbacks
// still unapplied long after they were stored (Runner.RequeueCallbacks).
type RequeueCallbacksArgs struct{}

// Kind is the River job kind.
func (RequeueCallbacksArgs) Kind() string { return "requeue_callbacks" }

// Options configure a process's Queue (NewQueue) and Runner (New).
type Options struct {
	// Workers runs River workers in this process; false works no job (an
	// API node, an admin command): the Runner only schedules, if Schedule.
	Workers bool
	// Schedule runs the gocron schedule (one leader across processes).
	Schedule bool
	// SyncEvery is how often open orders are polled; SyncAge how old an open
	// order must be before it is polled. Defaults 30s and 1m.
	SyncEvery time.Duration
	SyncAge   time.Duration
	// SyncBatch is how many open orders one sweep queues for sync_order, least
	// recently asked first. Default 2000.
	SyncBatch int32
	// ExpireEvery is how often expired payout holds are swept. Default 1m.
	ExpireEvery time.Duration
	// RequeueAfter is how long a stored callback may stay unapplied before the
	// schedule (every RequeueEvery) queues it again: its job was lost. Defaults
	// 10m and 10s. Every RequeueEvery the schedule also requeues the callbacks
	// of process_callback jobs still running CallbackJobTimeout after they
	// started (their process died), so that an acknowledged callback reaches
	// the ledger within about CallbackJobTimeout + RequeueEvery of a crash.
	RequeueAfter, RequeueEvery time.Duration
	// Recon, when set, puts reconciliation on the schedule (tally serve and
	// tally worker): every provider account reconciled once per window, the
	// UTC day's window, and the sweep of abandoned runs. Nil schedules none
	// (tests and the demo reconcile when they choose).
	Recon *ReconSchedule
	// SubmitAttempts is how many times submit_order tries a provider call
	// (default 10); SubmitRetryBase its first backoff, doubling to a minute
	// (default 1s). After the last attempt an order whose outcome is still
	// ambiguous is left to sync_order.
	SubmitAttempts  int
	SubmitRetryBase time.Duration
	// CallbackWorkers, ProviderWorkers and WebhookWorkers size the queues
	// (default 64, 16, 16). Callback jobs wait for the group transaction their
	// callbacks share (callbacks.Service.Process): with too few workers
	// the groups stay small.
	CallbackWorkers, ProviderWorkers, WebhookWorkers int
	// FetchPoll is how often idle workers look for jobs (River LISTENs as well);
	// the least time between two fetches is a quarter of it. Zero: a 250 ms poll
	// and 20 ms between fetches.
	FetchPoll time.Duration
	// RescueAfter is how long a job may stay running before River hands it to
	// another worker (its process is presumed dead). Default 5m.
	RescueAfter time.Duration
	// Queues, when set, are the only queues this process works (QueueRecon
	// for a CLI that runs reconciliation and must not call providers or
	// deliver webhooks); empty works every queue.
	Queues []string
	// Tasks are more scheduled tasks (each only enqueues a job of this
	// package's kinds).
	Tasks  []Task
	Logger *slog.Logger
	// Tracer, when set, traces the jobs (package tracing): a span around
	// every insert and every job worked, the worked job's span continuing
	// the trace that queued it (tracePlugins). Nil: no tracing, at no cost.
	Tracer trace.TracerProvider
}

// ReconSchedule is reconciliation's part of the schedule (Options.Recon).
type ReconSchedule struct {
	// Every is the reconciliation window: every enabled provider account is
	// reconciled (orders and balances) once per window (tally serve
	// --recon-every).
	Every time.Duration
	// Lag is how long after a window ends it is reconciled, so that late
	// callbacks land first (--recon-lag).
	Lag time.Duration
}

// withDefaults fills the zero fields.
func (opts Options) withDefaults() Options {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SyncEvery == 0 {
		opts.SyncEvery = 30 * time.Second
	}
	if opts.SyncAge == 0 {
		opts.SyncAge = time.Minute
	}
	if opts.SyncBatch <= 0 {
		opts.SyncBatch = 2000
	}
	if opts.RequeueAfter == 0 {
		opts.RequeueAfter = 10 * time.Minute
	}
	if opts.RequeueEvery == 0 {
		opts.RequeueEvery = 10 * time.Second
	}
	if opts.ExpireEvery == 0 {
		opts.ExpireEvery = time.Minute
	}
	if opts.SubmitAttempts <= 0 {
		opts.SubmitAttempts = SubmitOrderArgs{}.InsertOpts().MaxAttempts
	}
	if opts.SubmitRetryBase <= 0 {
		opts.SubmitRetryBase = time.Second
	}
	return opts
}

// River fetch timing when Options.FetchPoll is zero: a fetch at most every
// defaultFetchCooldown (inserts and finished jobs trigger fetches, LISTEN/NOTIFY
// wakes idle workers), and a poll every defaultFetchPoll in case a wake-up was
// rate-limited away.
const (
	defaultFetchPoll     = 250 * time.Millisecond
	defaultFetchCooldown = 20 * time.Millisecond
)

// fetchTiming is River's FetchPollInterval and FetchCooldown for opts. River's
// defaults (a fetch at most every 100 ms, a poll every second) cap a queue at
// MaxWorkers jobs per 100 ms: 160 callbacks/s with 16 callback workers,
// whatever the machine (tally bench callbacks). Fetch sooner.
func (opts Options) fetchTiming() (poll, cooldown time.Duration) {
	if opts.FetchPoll > 0 {
		return opts.FetchPoll, opts.FetchPoll / 4
	}
	return defaultFetchPoll, defaultFetchCooldown
}

// Runner works a process's jobs (its River worker client, when
// Options.Workers) and runs its schedule (when Options.Schedule). It inserts
// through the process's Queue.
type Runner struct {
	queue     *Queue
	client    *river.Client[pgx.Tx] // the worker client; nil without Options.Workers
	schedule  *Schedule
	opts      Options
	pool      *pgxpool.Pool
	callbacks *callbacks.Service
	stats     *StatsReader
	// webhooks and dispatching: the merchants' webhook dispatchers, started
	// by startDispatchers while the workers run (cancelStarter stops it).
	webhooks      *webhooks.Service
	dispatching   *runningSet
	cancelStarter context.CancelFunc
	starterDone   chan struct{}

	mu      sync.Mutex
	working bool // client started and not stopped
}

// Services are what the workers call: the order lifecycle (submit_order,
// sync_order, sync_open_orders, expire_holds), stored callbacks
// (process_callback, requeue_callbacks), merchant webhooks (notify_merchant)
// and reconciliation (recon_run, recon_schedule, recon_sweep). All four are
// required.
type Services struct {
	Orders    *orders.Service
	Callbacks *callbacks.Service
	Webhooks  *webhooks.Service
	Recon     *recon.Service
}

// New builds the Runner of a process: its workers call svc, every job it
// inserts goes through q (the Queue svc were built with).
func New(pool *pgxpool.Pool, q *Queue, svc Services, opts Options) (*Runner, error) {
	opts = opts.withDefaults()
	r := &Runner{queue: q, opts: opts, pool: pool, callbacks: svc.Callbacks, stats: NewStatsReader(pool),
		webhooks: svc.Webhooks, dispatching: &runningSet{m: map[int64]int{}}}
	if opts.Workers {
		client, err := r.workerClient(pool, svc)
		if err != nil {
			return nil, err
		}
		r.client = client
	}
	if opts.Schedule {
		tasks := []Task{
			{Name: "sync_open_orders", Every: opts.SyncEvery, Args: SyncOpenOrdersArgs{}},
			{Name: "expire_holds", Every: opts.ExpireEvery, Args: ExpireHoldsArgs{}},
			{Name: "requeue_callbacks", Every: opts.RequeueEvery, Args: RequeueCallbacksArgs{}},
		}
		if rs := opts.Recon; rs != nil {
			tasks = append(tasks,
				Task{Name: "recon_schedule", Every: rs.Every, Args: ReconScheduleArgs{RunKind: recon.KindFull, Every: rs.Every, Lag: rs.Lag}},
				// The daily window is the UTC day; looking every hour runs it
				// within an hour of midnight (plus the lag), whenever the
				// process started.
				Task{Name: "recon_daily", Every: time.Hour, Args: ReconScheduleArgs{RunKind: recon.KindFull, Every: 24 * time.Hour, Lag: rs.Lag}},
				Task{Name: "recon_sweep", Every: 5 * time.Minute, Args: ReconSweepArgs{}})
		}
		sched, err := NewSchedule(pool, q, append(tasks, opts.Tasks...), opts.Logger)
		if err != nil {
			return nil, err
		}
		r.schedule = sched
	}
	return r, nil
}

// workerClient is the River client that works the jobs of this process's
// queues with every worker registered.
func (r *Runner) workerClient(pool *pgxpool.Pool, svc Services) (*river.Client[pgx.Tx], error) {
	opts := r.opts
	cfg := &river.Config{
		Logger:               riverLogger(opts.Logger),
		JobTimeout:           2 * time.Minute,
		RescueStuckJobsAfter: 5 * time.Minute,
	}
	if opts.RescueAfter > 0 {
		cfg.RescueStuckJobsAfter = opts.RescueAfter
		if cfg.JobTimeout > opts.RescueAfter {
			cfg.JobTimeout = opts.RescueAfter // River wants rescue no sooner than a timeout
		}
	}
	cfg.FetchPollInterval, cfg.FetchCooldown = opts.fetchTiming()
	cfg.Plugins = tracePlugins(opts.Tracer)
	workers := river.NewWorkers()
	river.AddWorker(workers, &submitWorker{svc: svc.Orders, base: opts.SubmitRetryBase})
	river.AddWorker(workers, &callbackWorker{svc: svc.Callbacks})
	river.AddWorker(workers, &syncWorker{svc: svc.Orders})
	river.AddWorker(workers, &notifyWorker{svc: svc.Webhooks}) // notify_merchant jobs queued before the outbox
	river.AddWorker(workers, &dispatchWorker{svc: svc.Webhooks, running: r.dispatching})
	river.AddWorker(workers, &syncOpenWorker{svc: svc.Orders, runner: r})
	river.AddWorker(workers, &expireWorker{svc: svc.Orders})
	river.AddWorker(workers, &requeueWorker{runner: r})
	addReconWorkers(workers, svc.Recon, opts.Logger)
	cfg.Workers = workers
	cfg.Queues = map[string]river.QueueConfig{
		QueueDefault:   {MaxWorkers: 4},
		QueueProvider:  {MaxWorkers: orDefault(opts.ProviderWorkers, 16)},
		QueueCallbacks: {MaxWorkers: orDefault(opts.CallbackWorkers, 64)},
		QueueWebhooks:  {MaxWorkers: orDefault(opts.WebhookWorkers, 16)},
		QueueRecon:     {MaxWorkers: 2},
	}
	if len(opts.Queues) > 0 {
		only := map[string]river.QueueConfig{}
		for _, q := range opts.Queues {
			qc, ok := cfg.Queues[q]
			if !ok {
				return nil, fmt.Errorf("queue %q: %w", q, ErrUnknownQueue)
			}
			only[q] = qc
		}
		cfg.Queues = only
	}
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: worker client: %w", ErrRiver, err)
	}
	return client, nil
}

// ErrUnknownQueue: Options.Queues names a queue that is not one of tally's.
var ErrUnknownQueue = errors.New("not one of tally's queues")

// Queue is the Queue the Runner inserts through.
func (r *Runner) Queue() *Queue { return r.queue }

// Start starts the workers (if any) and the schedule (if any).
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil && !r.working {
		if err := r.client.Start(ctx); err != nil {
			return fmt.Errorf("start river: %w", err)
		}
		r.working = true
		if r.worksQueue(QueueWebhooks) {
			sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			r.cancelStarter, r.starterDone = cancel, make(chan struct{})
			go func() {
				defer close(r.starterDone)
				r.startDispatchers(sctx, r.webhooks, r.dispatching)
			}()
		}
	}
	if r.schedule != nil {
		r.schedule.Start()
	}
	return nil
}

// Stop stops the schedule (for good), then the workers, letting running jobs
// finish until ctx ends (then cancelling them; River retries them later). It
// may be called more than once, and on a Runner never started.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.schedule != nil {
		errs = append(errs, r.schedule.Stop())
	}
	r.stopStarter()
	if r.working {
		if err := r.client.Stop(ctx); err != nil {
			errs = append(errs, r.client.StopAndCancel(context.Background()))
		}
		r.working = false
	}
	return errors.Join(errs...)
}

// Abandon stops the Runner as a process that dies would: running jobs are
// cancelled without waiting (what River records of them, if anything, is
// what a dead process leaves) and the schedule stops. For tests that kill a
// worker (tallytest.Env.KillWorkers).
func (r *Runner) Abandon(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopStarter()
	if r.working {
		_ = r.client.StopAndCancel(ctx)
		r.working = false
	}
	if r.schedule != nil {
		_ = r.schedule.Stop()
	}
}

// worksQueue says whether this process works queue q.
func (r *Runner) worksQueue(q string) bool {
	return len(r.opts.Queues) == 0 || slices.Contains(r.opts.Queues, q)
}

// stopStarter stops the dispatcher starter, if it runs (r.mu held).
func (r *Runner) stopStarter() {
	if r.cancelStarter != nil {
		r.cancelStarter()
		<-r.starterDone
		r.cancelStarter = nil
	}
}

type submitWorker struct {
	river.WorkerDefaults[SubmitOrderArgs]
	svc  *orders.Service
	base time.Duration
}

func (w *submitWorker) Work(ctx context.Context, job *river.Job[SubmitOrderArgs]) error {
	return w.svc.Submit(ctx, job.Args.OrderID, job.Attempt >= job.MaxAttempts)
}

// NextRetry retries provider calls quickly at first: 1, 2, 4 ... seconds, at most a minute.
func (w *submitWorker) NextRetry(job *river.Job[SubmitOrderArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt, w.base, time.Minute))
}

func (w *submitWorker) Timeout(*river.Job[SubmitOrderArgs]) time.Duration { return time.Minute }

type callbackWorker struct {
	river.WorkerDefaults[ProcessCallbackArgs]
	svc *callbacks.Service
}

func (w *callbackWorker) Work(ctx context.Context, job *river.Job[ProcessCallbackArgs]) error {
	err := w.svc.Process(ctx, job.Args.IDs()...)
	var failed callbacks.Errors
	if errors.As(err, &failed) && job.Attempt >= job.MaxAttempts && ctx.Err() == nil {
		// The last attempt: make each failure visible instead of letting River
		// discard the job and the callbacks sit unapplied.
		var errs []error
		for id, cause := range failed {
			errs = append(errs, w.svc.Fail(ctx, id, cause))
		}
		return errors.Join(errs...)
	}
	return err
}

// CallbackJobTimeout bounds one process_callback job (a group transaction
// is bounded by its own 30 s; a job that times out is retried and finds its
// callbacks applied). A job still running well after it is dead: its
// callbacks are requeued (Runner.RequeueDeadCallbackJobs).
const CallbackJobTimeout = 20 * time.Second

// Timeout is CallbackJobTimeout.
func (w *callbackWorker) Timeout(*river.Job[ProcessCallbackArgs]) time.Duration {
	return CallbackJobTimeout
}

func (w *callbackWorker) NextRetry(job *river.Job[ProcessCallbackArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt, 500*time.Millisecond, 5*time.Minute))
}

type syncWorker struct {
	river.WorkerDefaults[SyncOrderArgs]
	svc *orders.Service
}

func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncOrderArgs]) error {
	_, err := w.svc.Sync(ctx, job.Args.OrderID)
	var early *orders.TooEarlyError
	if errors.As(err, &early) {
		// Not a failure: ask again once the grace period has passed.
		return river.JobSnooze(early.Wait)
	}
	return err
}

func (w *syncWorker) NextRetry(job *river.Job[SyncOrderArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt, 2*time.Second, 2*time.Minute))
}

type notifyWorker struct {
	river.WorkerDefaults[NotifyMerchantArgs]
	svc *webhooks.Service
}

func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyMerchantArgs]) error {
	return w.svc.Notify(ctx, job.Args.OrderID, job.Args.EventID, job.Attempt)
}

// NextRetry backs webhooks off from 2 s to an hour.
func (w *notifyWorker) NextRetry(job *river.Job[NotifyMerchantArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt, webhookRetryFirst, webhookRetryMax))
}

func (w *notifyWorker) Timeout(*river.Job[NotifyMerchantArgs]) time.Duration { return 30 * time.Second }

type syncOpenWorker struct {
	river.WorkerDefaults[SyncOpenOrdersArgs]
	svc    *orders.Service
	runner *Runner
}

func (w *syncOpenWorker) Work(ctx context.Context, _ *river.Job[SyncOpenOrdersArgs]) error {
	ids, err := w.svc.OpenOrders(ctx, time.Now().Add(-w.runner.opts.SyncAge), w.runner.opts.SyncBatch)
	if err != nil || len(ids) == 0 {
		return err
	}
	return w.runner.queue.syncOrders(ctx, ids)
}

type expireWorker struct {
	river.WorkerDefaults[ExpireHoldsArgs]
	svc *orders.Service
}

func (w *expireWorker) Work(ctx context.Context, _ *river.Job[ExpireHoldsArgs]) error {
	_, err := w.svc.ExpireHolds(ctx)
	return err
}

type requeueWorker struct {
	river.WorkerDefaults[RequeueCallbacksArgs]
	runner *Runner
}

func (w *requeueWorker) Work(ctx context.Context, _ *river.Job[RequeueCallbacksArgs]) error {
	if _, err := w.runner.RequeueDeadCallbackJobs(ctx, time.Now().Add(-CallbackJobTimeout-deadJobMargin)); err != nil {
		return err
	}
	_, err := w.runner.RequeueCallbacks(ctx, time.Now().Add(-w.runner.opts.RequeueAfter))
	return err
}

const (
	// requeueMax bounds one sweep of RequeueCallbacks; the next sweep takes the rest.
	requeueMax = 2048
	// requeueJobSize is the most callbacks one requeued job carries: an intake
	// transaction's most, so that each job is at most one group.
	requeueJobSize = 128
)

// RequeueCallbacks queues process_callback again, in jobs of up to 128, for
// the accepted and hint callbacks stored before cutoff and still unapplied, and
// returns how many. Such a callback lost its job: River discarded it after its
// last attempt ended without a verdict (a timeout), or a process that could not
// read it took it. Applying is idempotent, so a callback whose job is merely
// late is applied once all the same.
func (r *Runner) RequeueCallbacks(ctx context.Context, cutoff time.Time) (int, error) {
	ids, err := r.callbacks.Stale(ctx, cutoff, requeueMax)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		for start := 0; start < len(ids); start += requeueJobSize {
			if err := r.queue.ProcessCallback(ctx, tx, ids[start:min(start+requeueJobSize, len(ids))]...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("requeue %d callbacks: %w", len(ids), err)
	}
	r.opts.Logger.Warn("stored callbacks requeued: their jobs were lost", "callbacks", len(ids), "first_inbox_id", ids[0])
	return len(ids), nil
}

// deadJobMargin is how long past its timeout a process_callback job may still
// show as running before its process is taken for dead (the worker returns,
// and River records it, well within it).
const deadJobMargin = 5 * time.Second

// RequeueDeadCallbackJobs finds process_callback jobs still running that
// started before startedBefore (a job past its timeout has returned unless its
// process died: killed, a lost machine), queues their callbacks still
// unapplied in new jobs and marks them cancelled, in one transaction, and
// returns how many callbacks it queued. River's own rescue of such a job
// comes later (it waits for its leader's sweep); the cancelled job then ends
// without running again.
func (r *Runner) RequeueDeadCallbackJobs(ctx context.Context, startedBefore time.Time) (int, error) {
	res, err := r.queue.client.JobList(ctx, river.NewJobListParams().Kinds(ProcessCallbackArgs{}.Kind()).
		States(rivertype.JobStateRunning).First(requeueMax).
		Where("attempted_at < @before AND metadata->>'cancel_attempted_at' IS NULL", river.NamedArgs{"before": startedBefore}))
	if err != nil {
		return 0, fmt.Errorf("list dead callback jobs: %w", err)
	}
	if len(res.Jobs) == 0 {
		return 0, nil
	}
	var ids, jobIDs []int64
	for _, j := range res.Jobs {
		var args ProcessCallbackArgs
		if err := json.Unmarshal(j.EncodedArgs, &args); err != nil {
			return 0, fmt.Errorf("args of job %d: %w", j.ID, err)
		}
		ids = append(ids, args.IDs()...)
		jobIDs = append(jobIDs, j.ID)
	}
	unapplied, err := r.callbacks.Unapplied(ctx, ids)
	if err != nil {
		return 0, err
	}
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		for start := 0; start < len(unapplied); start += requeueJobSize {
			if err := r.queue.ProcessCallback(ctx, tx, unapplied[start:min(start+requeueJobSize, len(unapplied))]...); err != nil {
				return err
			}
		}
		for _, id := range jobIDs {
			if _, err := r.queue.client.JobCancelTx(ctx, tx, id); err != nil {
				return fmt.Errorf("cancel dead job %d: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("requeue the callbacks of %d dead jobs: %w", len(jobIDs), err)
	}
	r.opts.Logger.Warn("callbacks of dead jobs requeued", "jobs", len(jobIDs), "callbacks", len(unapplied), "first_job_id", jobIDs[0])
	return len(unapplied), nil
}

// backoff is base * 2^(attempt-1), at most max.
func backoff(attempt int, base, max time.Duration) time.Duration {
	d := time.Duration(float64(base) * math.Pow(2, float64(attempt-1)))
	if d > max || d <= 0 {
		return max
	}
	return d
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
