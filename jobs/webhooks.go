package jobs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tallyhq/tally/webhooks"
)

// DispatchWebhooksArgs: deliver one merchant's due webhook events
// (webhooks.Service.Dispatch). The job is unique per merchant while it
// waits, runs or is snoozed: it is the merchant's dispatcher lease, so that
// one merchant's events are delivered by one dispatcher at a time, in order.
type DispatchWebhooksArgs struct {
	MerchantID int64 `json:"merchant_id" river:"unique"`
}

// Kind is the River job kind.
func (DispatchWebhooksArgs) Kind() string { return "webhook_dispatch" }

// InsertOpts: on the webhooks queue, one per merchant. A dispatcher's
// attempts are not the events' (each event keeps its own retry schedule):
// a failed dispatcher (the database, not the merchant) is tried again soon.
func (DispatchWebhooksArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: 1000, UniqueOpts: river.UniqueOpts{ByArgs: true,
		// Not completed: a merchant's next dispatcher may start as soon as
		// the last one ended.
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

// WebhookStartEvery is how often a worker process looks for merchants with
// webhook events due and no dispatcher, and starts theirs: the longest an
// event of an idle merchant waits before its dispatcher starts, and the
// sweep that leaves no event behind (a dispatcher that ended just as its
// event committed, one whose process died).
const WebhookStartEvery = 100 * time.Millisecond

type dispatchWorker struct {
	river.WorkerDefaults[DispatchWebhooksArgs]
	svc     *webhooks.Service
	running *runningSet
}

func (w *dispatchWorker) Work(ctx context.Context, job *river.Job[DispatchWebhooksArgs]) error {
	w.running.add(job.Args.MerchantID)
	defer w.running.remove(job.Args.MerchantID)
	again, err := w.svc.Dispatch(ctx, job.Args.MerchantID)
	if err != nil {
		return err
	}
	if again > 0 {
		return river.JobSnooze(again)
	}
	return nil
}

// Timeout bounds a dispatcher: its lease, then the attempts in flight.
func (w *dispatchWorker) Timeout(*river.Job[DispatchWebhooksArgs]) time.Duration { return time.Minute }

func (w *dispatchWorker) NextRetry(job *river.Job[DispatchWebhooksArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt, time.Second, 30*time.Second))
}

// runningSet is the merchants whose dispatcher runs in this process: the
// starter does not insert theirs again.
type runningSet struct {
	mu sync.Mutex
	m  map[int64]int
}

func (s *runningSet) add(id int64) { s.mu.Lock(); s.m[id]++; s.mu.Unlock() }
func (s *runningSet) remove(id int64) {
	s.mu.Lock()
	s.m[id]--
	if s.m[id] <= 0 {
		delete(s.m, id)
	}
	s.mu.Unlock()
}
func (s *runningSet) has(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id] > 0
}

// startDispatchers is the loop of a worker process that starts the
// dispatchers of merchants with events due (every WebhookStartEvery) until
// ctx ends. A merchant whose dispatcher exists (here or in another process)
// is skipped by River's uniqueness.
func (r *Runner) startDispatchers(ctx context.Context, svc *webhooks.Service, running *runningSet) {
	t := time.NewTicker(WebhookStartEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.startDue(ctx, svc, running); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("start webhook dispatchers", "error", err)
		}
	}
}

func (r *Runner) startDue(ctx context.Context, svc *webhooks.Service, running *runningSet) error {
	ids, err := svc.DueMerchants(ctx)
	if err != nil {
		return err
	}
	ids = slices.DeleteFunc(ids, running.has)
	if len(ids) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: DispatchWebhooksArgs{MerchantID: id}}
	}
	if _, err := r.queue.client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("start %d webhook dispatchers: %w", len(ids), err)
	}
	return nil
}
