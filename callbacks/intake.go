package callbacks

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tallyhq/tally/db/callbacksdb"
	"github.com/tallyhq/tally/tracing"
)

// intake group-commits verified callbacks: the callbacks that reach Ingest at
// the same time share one transaction (their inbox rows in one round trip,
// their process_callback jobs in another, one commit), and each caller is
// answered only after that commit. Under load a callback costs a fraction of
// a transaction; alone, it is one transaction as before: a batch is whatever
// is waiting when a committer is free, never a timer. The committers run
// from New to Close.
type intake struct {
	s  *Service
	ch chan *intakeItem
}

// intakeItem is one callback waiting for its commit.
type intakeItem struct {
	params  callbacksdb.InsertCallbacksParams
	verdict string
	done    chan intakeResult // buffered: a committer never waits for its caller
	// span is the caller's (the callback request's) span: the batch's
	// transaction continues the first traced caller's trace (tracing.Follow).
	span trace.Span
}

type intakeResult struct {
	out Ingested
	err error
}

const (
	// intakeCommitters commit batches side by side, so that one batch's fsync
	// does not hold back the next.
	intakeCommitters = 4
	// intakeMaxBatch bounds a batch (and so one transaction's size).
	intakeMaxBatch = 128
	// intakeTimeout bounds one batch's transaction.
	intakeTimeout = 30 * time.Second
)

// start starts the committers; they end when Close has closed ch and they
// have committed what it held.
func (in *intake) start(s *Service) {
	in.s = s
	in.ch = make(chan *intakeItem, intakeMaxBatch*intakeCommitters)
	for range intakeCommitters {
		s.loops.Go(in.commitLoop)
	}
}

// store waits until its callback is stored with its job, in some batch. A
// closed Service is ErrClosed.
func (in *intake) store(ctx context.Context, it *intakeItem) (Ingested, error) {
	it.span = trace.SpanFromContext(ctx)
	err := in.s.handIn(func() error {
		select {
		case in.ch <- it:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-in.s.ctx.Done():
			return ErrClosed
		}
	})
	if err != nil {
		return Ingested{}, err
	}
	select {
	case r := <-it.done:
		return r.out, r.err
	case <-ctx.Done():
		// It may still commit: the provider's retry is then a repeat.
		return Ingested{}, ctx.Err()
	}
}

func (in *intake) commitLoop() {
	for first := range in.ch {
		batch := []*intakeItem{first}
	fill:
		for len(batch) < intakeMaxBatch {
			select {
			case it := <-in.ch:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		in.commit(batch)
	}
}

// commit stores a batch in one transaction and answers every item with the
// outcome: all stored, or none (each caller then answers 503).
func (in *intake) commit(batch []*intakeItem) {
	// One order of inserts for every batch: two batches holding copies of the
	// same callbacks wait for each other, never deadlock.
	slices.SortFunc(batch, func(a, b *intakeItem) int {
		if c := cmp.Compare(a.params.ProviderAccountID, b.params.ProviderAccountID); c != 0 {
			return c
		}
		return bytes.Compare(a.params.RequestHash, b.params.RequestHash)
	})
	ctx, cancel := context.WithTimeout(in.s.ctx, intakeTimeout)
	defer cancel()
	ctx, span := tracing.Follow(ctx, intakeSpans(batch), traceScope, "callbacks.intake",
		trace.WithAttributes(attribute.Int("callbacks.batch", len(batch))))
	defer span.End()
	outs := make([]Ingested, len(batch))
	err := pgx.BeginFunc(ctx, in.s.pool, func(tx pgx.Tx) error {
		q := in.s.q.WithTx(tx)
		params := make([]callbacksdb.InsertCallbacksParams, len(batch))
		for i, it := range batch {
			params[i] = it.params
		}
		rows := make([]callbacksdb.InsertCallbacksRow, len(batch))
		var ierr error
		q.InsertCallbacks(ctx, params).QueryRow(func(i int, r callbacksdb.InsertCallbacksRow, err error) {
			if err != nil && ierr == nil {
				ierr = err
			}
			rows[i] = r
		})
		if ierr != nil {
			return fmt.Errorf("store %d callbacks: %w", len(batch), ierr)
		}
		var jobs []int64
		for i, r := range rows {
			outs[i] = Ingested{InboxID: r.ID, Verdict: r.Verdict, Repeat: !r.Inserted}
			switch {
			case r.Inserted:
				jobs = append(jobs, r.ID)
			case r.Verdict == "rejected" && r.ProcessedAt == nil:
				// Refused before (a wrong secret, since fixed) and verified
				// now: the provider's retry is taken.
				if err := q.UpdateCallbackVerdict(ctx, callbacksdb.UpdateCallbackVerdictParams{ID: r.ID, Verdict: batch[i].verdict}); err != nil {
					return fmt.Errorf("update callback verdict: %w", err)
				}
				outs[i].Verdict = batch[i].verdict
				jobs = append(jobs, r.ID)
			}
		}
		if len(jobs) == 0 {
			return nil
		}
		return in.s.queue.ProcessCallback(ctx, tx, jobs...)
	})
	for i, it := range batch {
		it.done <- intakeResult{out: outs[i], err: err}
	}
}

// traceScope is the instrumentation scope of the callbacks service's spans.
const traceScope = "github.com/tallyhq/tally/callbacks"

// intakeSpans are the callers' spans of a batch.
func intakeSpans(batch []*intakeItem) []trace.Span {
	spans := make([]trace.Span, len(batch))
	for i, it := range batch {
		spans[i] = it.span
	}
	return spans
}
