package callbacks

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tallyhq/tally/db/callbacksdb"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tracing"
)

// group applies the stored callbacks that process_callback jobs hand it at
// the same time in one transaction (an orders.Group): their inbox rows
// locked, their orders locked in one statement, the state machine run on
// each in memory, then the orders, timeline events, webhook jobs and inbox
// marks written in a few round trips and every ledger settlement in one
// batch, last, so that the hot provider account is locked once per group,
// for the batch and the commit only. Under load a callback costs a fraction
// of a transaction; alone, it is a group of one.
//
// What a group cannot defer (a payout's hold, a discrepancy, a reversal, an
// order tally must first create or find by another identifier, a hint) is
// left to the caller, which applies it alone in a transaction of its own
// (Process), after the group committed; so are the later callbacks of the
// same order in the group, to keep their order. A group that fails leaves
// every callback to its caller. The loops run from New to Close.
type group struct {
	s  *Service
	ch chan *groupItem // nil with Options.NoGroups
	// grouped and alone count the callbacks applied by a group and those left
	// to their own transaction (Stats).
	grouped, alone atomic.Int64
}

// groupItem is one callback waiting for its group.
type groupItem struct {
	inboxID int64
	done    chan bool // buffered: true when the group applied it (or it needed nothing)
	// span is the caller's (the process_callback job's) span: the group's
	// transaction continues the first traced caller's trace (tracing.Follow).
	span trace.Span
}

const (
	// groupCommitters run groups side by side, so that one group's commit does
	// not hold back the next.
	groupCommitters = 3
	// groupMaxSize bounds a group (and so one transaction's size and locks).
	groupMaxSize = 128
	// groupTimeout bounds one group's transaction.
	groupTimeout = 30 * time.Second
)

// start starts the group loops; they end when Close has closed ch and they
// have applied what it held.
func (g *group) start(s *Service) {
	g.s = s
	g.ch = make(chan *groupItem, groupMaxSize*groupCommitters)
	for range groupCommitters {
		s.loops.Go(g.loop)
	}
}

// apply waits for the groups of inboxIDs and returns the ids they applied (or
// found needing nothing). A closed Service is ErrClosed.
func (g *group) apply(ctx context.Context, inboxIDs []int64) (map[int64]bool, error) {
	items := make([]*groupItem, len(inboxIDs))
	span := trace.SpanFromContext(ctx)
	err := g.s.handIn(func() error {
		for i, id := range inboxIDs {
			items[i] = &groupItem{inboxID: id, done: make(chan bool, 1), span: span}
			select {
			case g.ch <- items[i]:
			case <-ctx.Done():
				return ctx.Err()
			case <-g.s.ctx.Done():
				return ErrClosed
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	applied := make(map[int64]bool, len(items))
	for _, it := range items {
		select {
		case ok := <-it.done:
			applied[it.inboxID] = applied[it.inboxID] || ok
		case <-ctx.Done():
			// It may still commit: the job's retry then finds it processed.
			return nil, ctx.Err()
		}
	}
	return applied, nil
}

func (g *group) loop() {
	for first := range g.ch {
		batch := []*groupItem{first}
	fill:
		for len(batch) < groupMaxSize {
			select {
			case it := <-g.ch:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		g.run(batch)
	}
}

// run applies a group in one transaction and answers every item.
func (g *group) run(batch []*groupItem) {
	ctx, cancel := context.WithTimeout(g.s.ctx, groupTimeout)
	defer cancel()
	ids := make([]int64, len(batch))
	spans := make([]trace.Span, len(batch))
	for i, it := range batch {
		ids[i], spans[i] = it.inboxID, it.span
	}
	ctx, span := tracing.Follow(ctx, spans, traceScope, "callbacks.group",
		trace.WithAttributes(attribute.Int("callbacks.batch", len(batch))))
	defer span.End()
	// The provider accounts first, outside the transaction: reading one the
	// cache no longer holds takes a second pool connection, which a group
	// holding locks must not wait for.
	if accts, err := g.s.q.CallbackAccounts(ctx, ids); err == nil {
		for _, id := range accts {
			_, _, _ = g.s.merchants.AdapterByID(ctx, id)
		}
	}
	var applied map[int64]bool
	var grouped int
	var received []time.Time
	err := pgx.BeginFunc(ctx, g.s.pool, func(tx pgx.Tx) error {
		var err error
		applied, grouped, received, err = g.applyTx(ctx, tx, ids)
		return err
	})
	if err == nil {
		for _, t := range received {
			g.s.observeApplied(t)
		}
	}
	if err != nil {
		// Each callback is applied alone instead; one of them will meet the
		// cause and its job report it.
		g.s.opts.Logger.Warn("callback group failed; applying one by one", "callbacks", len(batch), "error", err)
		applied, grouped = nil, 0
	}
	g.grouped.Add(int64(grouped))
	for _, it := range batch {
		it.done <- applied[it.inboxID]
	}
}

// applyTx applies what it can of the callbacks ids in tx (an orders.Group)
// and returns the inbox ids it applied or found needing nothing, and how many
// it applied, and when those applied to an order were received. The inbox rows are locked first, in the order intake's repeat
// deliveries lock them; the group's ledger batch is written last, after the
// inbox marks.
func (g *group) applyTx(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]bool, int, []time.Time, error) {
	s := g.s
	q := s.q.WithTx(tx)
	stored, err := q.CallbacksByIDs(ctx, ids)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("load %d callbacks: %w", len(ids), err)
	}
	applied := map[int64]bool{}
	receivedAt := map[int64]time.Time{}
	var received []time.Time
	var cbs []orders.CallbackEvent
	// Applied in inbox id order: the order intake stored them (within one
	// intake batch, the order of its inserts).
	slices.SortFunc(stored, func(a, b callbacksdb.CallbackInbox) int { return cmp.Compare(a.ID, b.ID) })
	for _, in := range stored {
		if in.ProcessedAt != nil || in.Verdict == "rejected" {
			applied[in.ID] = true
			continue
		}
		adapter, acct, err := s.merchants.AdapterByID(ctx, in.ProviderAccountID)
		if err != nil {
			continue
		}
		ev, err := adapter.ParseCallback(storedCallback(in))
		if err != nil {
			continue // refused now: the alone path says why
		}
		cbs = append(cbs, orders.CallbackEvent{ID: in.ID, Account: acct, Event: *ev})
		receivedAt[in.ID] = in.ReceivedAt
	}
	if len(cbs) == 0 {
		return applied, 0, nil, nil
	}
	group := s.orders.NewGroup(tx)
	results, err := group.Apply(ctx, cbs)
	if err != nil {
		return nil, 0, nil, err
	}
	var marks callbacksdb.MarkCallbacksProcessedParams
	for i, r := range results {
		if !r.Applied {
			continue
		}
		applied[cbs[i].ID] = true
		if r.OrderID != 0 {
			received = append(received, receivedAt[cbs[i].ID])
		}
		marks.Ids = append(marks.Ids, cbs[i].ID)
		marks.OrderIds = append(marks.OrderIds, r.OrderID)
		marks.Outcomes = append(marks.Outcomes, string(r.Outcome))
	}
	if len(marks.Ids) > 0 {
		if err := q.MarkCallbacksProcessed(ctx, marks); err != nil {
			return nil, 0, nil, fmt.Errorf("mark %d callbacks processed: %w", len(marks.Ids), err)
		}
	}
	if err := group.Post(ctx); err != nil {
		return nil, 0, nil, err
	}
	return applied, len(marks.Ids), received, nil
}
