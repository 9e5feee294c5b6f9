package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/webhooks"
)

// Queue inserts tally's jobs: inside the caller's transaction for the order
// pipeline (orders.Queue), stored callbacks (callbacks.Queue) and
// reconciliation runs (recon.Queue), so that a job exists only if the writes
// that call for it commit; on the pool for the schedule and the sweeps.
//
// It is an insert-only River client (River inserts without workers), built
// from the pool before the services that queue through it and before the
// Runner whose workers call those services: the Runner shares it for every
// insert of its own, so that one process inserts through one client. A
// worker client elsewhere (this process's Runner or another process's) is
// woken by the insert's notification as it would be by its own insert.
type Queue struct {
	client         *river.Client[pgx.Tx]
	submitAttempts int
}

// NewQueue builds the Queue of a process from the same Options as its Runner:
// SubmitAttempts (submit_order's attempts), FetchPoll (how often an insert may
// wake the workers of a queue) and Logger.
func NewQueue(pool *pgxpool.Pool, opts Options) (*Queue, error) {
	opts = opts.withDefaults()
	cfg := &river.Config{Logger: riverLogger(opts.Logger)}
	// River notifies the workers of a queue of an insert at most once per
	// fetch cooldown: the Runner's own timing, so that an insert wakes them
	// as soon as they may fetch.
	cfg.FetchPollInterval, cfg.FetchCooldown = opts.fetchTiming()
	cfg.Plugins = tracePlugins(opts.Tracer)
	client, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: insert-only client: %w", ErrRiver, err)
	}
	return &Queue{client: client, submitAttempts: opts.SubmitAttempts}, nil
}

// SubmitOrder queues submit_order.
func (q *Queue) SubmitOrder(ctx context.Context, tx pgx.Tx, orderID int64) error {
	var opts *river.InsertOpts
	if q.submitAttempts > 0 {
		opts = &river.InsertOpts{MaxAttempts: q.submitAttempts}
	}
	return q.insertTx(ctx, tx, SubmitOrderArgs{OrderID: orderID}, opts)
}

// ProcessCallback queues one process_callback job for the stored callbacks,
// which its worker applies as a group.
func (q *Queue) ProcessCallback(ctx context.Context, tx pgx.Tx, inboxIDs ...int64) error {
	args := ProcessCallbackArgs{InboxIDs: inboxIDs}
	if len(inboxIDs) == 1 {
		args = ProcessCallbackArgs{InboxID: inboxIDs[0]}
	}
	return q.insertTx(ctx, tx, args, nil)
}

// SyncOrder queues sync_order (one waiting per order at a time).
func (q *Queue) SyncOrder(ctx context.Context, tx pgx.Tx, orderID int64) error {
	return q.insertTx(ctx, tx, SyncOrderArgs{OrderID: orderID}, nil)
}

// SyncOrderForHint queues sync_order for a provider's hint (one per hint).
func (q *Queue) SyncOrderForHint(ctx context.Context, tx pgx.Tx, orderID, inboxID int64) error {
	return q.insertTx(ctx, tx, SyncOrderArgs{OrderID: orderID, HintID: inboxID}, nil)
}

// NotifyMerchant queues the webhook of each event (orders.Queue):
// rows of the webhook outbox in tx
// (webhooks.EnqueueTx), which the merchants' dispatchers (webhook_dispatch)
// deliver; no job per event.
func (q *Queue) NotifyMerchant(ctx context.Context, tx pgx.Tx, notices ...orders.Notice) error {
	return webhooks.EnqueueTx(ctx, tx, notices...)
}

// RunRecon queues a reconciliation run's recon_run job (one per run while it
// waits or runs): recon.Service.Start and the schedule call it in the
// transaction that creates the run.
func (q *Queue) RunRecon(ctx context.Context, tx pgx.Tx, runID int64) error {
	return q.insertTx(ctx, tx, ReconRunArgs{RunID: runID}, nil)
}

// EnqueueTask inserts a scheduled task's job for the current period (unique
// per period of t.Every): a job already inserted for that period, by this
// process or another's scheduler, makes it a no-op. It is what the schedule
// does on every tick.
func (q *Queue) EnqueueTask(ctx context.Context, t Task) error {
	opts := river.InsertOpts{}
	if t.Opts != nil {
		opts = *t.Opts
	}
	period := t.Every
	if period < time.Second {
		period = time.Second // River's smallest uniqueness period
	}
	opts.UniqueOpts = river.UniqueOpts{ByArgs: true, ByPeriod: period}
	if _, err := q.client.Insert(ctx, t.Args, &opts); err != nil {
		return fmt.Errorf("enqueue %s (%s): %w", t.Name, t.Args.Kind(), err)
	}
	return nil
}

// syncOrders queues sync_order for each order, on the pool, in one insert.
func (q *Queue) syncOrders(ctx context.Context, ids []int64) error {
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: SyncOrderArgs{OrderID: id}}
	}
	if _, err := q.client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("queue %d sync_order jobs: %w", len(ids), err)
	}
	return nil
}

func (q *Queue) insertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := q.client.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("queue %s: %w", args.Kind(), err)
	}
	return nil
}
