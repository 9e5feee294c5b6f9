package orders

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// callbackGroup applies the stored callbacks that process_callback jobs hand it
// at the same time in one transaction: their orders locked in one statement,
// the state machine run on each in memory, then the orders, timeline events,
// webhook jobs and inbox marks written in a few round trips and every ledger
// settlement in one batch, last, so that the hot provider account is locked
// once per group, for the batch and the commit only. Under load a callback
// costs a fraction of a transaction; alone, it is a group of one.
//
// What a group cannot defer (a payout's hold, a discrepancy, a reversal, an
// order tally must first create or find by another identifier, a hint) is
// left to the caller, which applies it alone with ProcessCallback's own
// transaction, after the group committed; so are the later callbacks of the
// same order in the group, to keep their order. A group that fails leaves every
// callback to its caller.
type callbackGroup struct {
	s    *Service
	once sync.Once
	ch   chan *groupItem
	// grouped and alone count the callbacks applied by a group and those left
	// to their own transaction (CallbackStats).
	grouped, alone atomic.Int64
}

// CallbackStats counts, since the service started, the stored callbacks
// applied in a group transaction and those applied each in its own (see
// ProcessCallbacks); a callback that needed nothing counts in neither.
type CallbackStats struct {
	Grouped, Alone int64
}

// CallbackStats says how this process applied its stored callbacks.
func (s *Service) CallbackStats() CallbackStats {
	return CallbackStats{Grouped: s.group.grouped.Load(), Alone: s.group.alone.Load()}
}

// groupItem is one callback waiting for its group.
type groupItem struct {
	inboxID int64
	done    chan bool // buffered: true when the group applied it (or it needed nothing)
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

// apply waits for the groups of inboxIDs and returns the ids they applied (or
// found needing nothing).
func (g *callbackGroup) apply(ctx context.Context, inboxIDs []int64) (map[int64]bool, error) {
	g.once.Do(func() {
		g.ch = make(chan *groupItem, groupMaxSize*groupCommitters)
		for range groupCommitters {
			go g.loop()
		}
	})
	items := make([]*groupItem, len(inboxIDs))
	for i, id := range inboxIDs {
		items[i] = &groupItem{inboxID: id, done: make(chan bool, 1)}
		select {
		case g.ch <- items[i]:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
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

func (g *callbackGroup) loop() {
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
func (g *callbackGroup) run(batch []*groupItem) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	ids := make([]int64, len(batch))
	for i, it := range batch {
		ids[i] = it.inboxID
	}
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
	err := pgx.BeginFunc(ctx, g.s.pool, func(tx pgx.Tx) error {
		var err error
		applied, grouped, err = g.applyTx(ctx, tx, ids)
		return err
	})
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

// groupCallback is a callback of a group the group may apply.
type groupCallback struct {
	inboxID int64
	acct    merchants.ProviderAccount
	ev      providers.Event
	key     orderKey
}

type orderKey struct {
	account int64
	orderNo string
}

// applyTx applies what it can of the callbacks ids in tx and returns the inbox
// ids it applied or found needing nothing, and how many it applied.
func (g *callbackGroup) applyTx(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]bool, int, error) {
	s := g.s
	q := s.q.WithTx(tx)
	stored, err := q.CallbacksByIDs(ctx, ids)
	if err != nil {
		return nil, 0, fmt.Errorf("load %d callbacks: %w", len(ids), err)
	}
	applied := map[int64]bool{}
	var cbs []groupCallback
	var keyAccounts []int64
	var keyNos []string
	// Applied in inbox id order: the order intake stored them (within one
	// intake batch, the order of its inserts).
	slices.SortFunc(stored, func(a, b ordersdb.CallbackInbox) int { return cmp.Compare(a.ID, b.ID) })
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
		if err != nil || !ev.Verified || ev.OrderNo == "" {
			// Refused now, a hint, or an order to find another way (no order
			// number: such callbacks have no order to keep in step with).
			continue
		}
		k := orderKey{acct.ID, ev.OrderNo}
		cbs = append(cbs, groupCallback{inboxID: in.ID, acct: acct, ev: *ev, key: k})
		keyAccounts, keyNos = append(keyAccounts, k.account), append(keyNos, k.orderNo)
	}
	if len(cbs) == 0 {
		return applied, 0, nil
	}
	locked, err := q.OrdersByProviderNosForUpdate(ctx, ordersdb.OrdersByProviderNosForUpdateParams{
		ProviderAccountIds: keyAccounts, ProviderOrderNos: keyNos})
	if err != nil {
		return nil, 0, fmt.Errorf("lock orders of %d callbacks: %w", len(cbs), err)
	}
	rows := make(map[orderKey]*ordersdb.Order, len(locked))
	for i := range locked {
		rows[orderKey{locked[i].ProviderAccountID, locked[i].ProviderOrderNo}] = &locked[i]
	}
	// Provider ids the orders learn now: one that already names another order
	// is a reference conflict, for the alone path to flag.
	var idAccounts []int64
	var idNos []string
	for _, cb := range cbs {
		if row, ok := rows[cb.key]; ok && cb.ev.ProviderOrderID != "" && row.ProviderOrderID == "" {
			idAccounts, idNos = append(idAccounts, cb.acct.ID), append(idNos, cb.ev.ProviderOrderID)
		}
	}
	named := map[orderKey]int64{} // (account, provider order id) -> order id
	if len(idNos) > 0 {
		found, err := q.OrderIDsByProviderIDs(ctx, ordersdb.OrderIDsByProviderIDsParams{ProviderAccountIds: idAccounts, ProviderOrderIds: idNos})
		if err != nil {
			return nil, 0, fmt.Errorf("orders of %d provider ids: %w", len(idNos), err)
		}
		for _, f := range found {
			named[orderKey{f.ProviderAccountID, f.ProviderOrderID}] = f.ID
		}
	}

	alone := map[int64]bool{} // orders whose callbacks from here on are applied alone
	var w groupFlush
	for _, cb := range cbs {
		row, ok := rows[cb.key]
		clash := false
		if ok && cb.ev.ProviderOrderID != "" && row.ProviderOrderID == "" {
			id, taken := named[orderKey{cb.acct.ID, cb.ev.ProviderOrderID}]
			clash = taken && id != row.ID
		}
		if !ok || alone[row.ID] || unsure(*row) || clash {
			if ok {
				alone[row.ID] = true
			}
			continue
		}
		ref := map[string]any{"callback_id": cb.inboxID}
		a := &applier{s: s, tx: tx, q: q, acct: cb.acct, row: *row, ev: cb.ev, src: "callback", ref: ref, group: &groupWrites{}}
		if adapter, _, err := s.merchants.AdapterFor(cb.acct); err == nil {
			a.caps = adapter.Capabilities()
		}
		out, err := a.apply(ctx)
		if err != nil {
			if !errors.Is(err, errOwnTransaction) {
				s.opts.Logger.Debug("callback left to its own transaction", "callback_id", cb.inboxID, "order_id", row.ID, "error", err)
			}
			alone[row.ID] = true
			continue
		}
		if a.group.update != nil {
			// Only what a write stores: identifiers a record-only application
			// learnt stay unwritten, as they do when it is applied alone.
			*row = a.row
		}
		w.add(row, cb.inboxID, out, a.group)
		applied[cb.inboxID] = true
	}
	if err := w.write(ctx, s, tx, q); err != nil {
		return nil, 0, err
	}
	return applied, len(w.marks.Ids), nil
}

// groupFlush collects the deferred writes of a group's applications.
type groupFlush struct {
	updates   map[int64]ordersdb.UpdateOrderStateParams // each order's last state, by id
	events    []deferredEvent
	transfers []ledger.TransferRequest
	marks     ordersdb.MarkCallbacksProcessedParams
}

func (w *groupFlush) add(row *ordersdb.Order, inboxID int64, out Outcome, g *groupWrites) {
	if g.update != nil {
		if w.updates == nil {
			w.updates = map[int64]ordersdb.UpdateOrderStateParams{}
		}
		w.updates[row.ID] = *g.update
	}
	w.events = append(w.events, g.events...)
	w.transfers = append(w.transfers, g.transfers...)
	w.marks.Ids = append(w.marks.Ids, inboxID)
	w.marks.OrderIds = append(w.marks.OrderIds, row.ID)
	w.marks.Outcomes = append(w.marks.Outcomes, string(out))
}

// write stores the group's writes: orders, events and their webhook jobs, inbox
// marks, and last the ledger batch, so that the ledger's hot rows stay locked
// for the shortest time.
func (w *groupFlush) write(ctx context.Context, s *Service, tx pgx.Tx, q *ordersdb.Queries) error {
	if len(w.updates) > 0 {
		params := make([]ordersdb.UpdateOrderStatesParams, 0, len(w.updates))
		for _, p := range w.updates {
			params = append(params, ordersdb.UpdateOrderStatesParams(p))
		}
		slices.SortFunc(params, func(a, b ordersdb.UpdateOrderStatesParams) int { return cmp.Compare(a.ID, b.ID) })
		var uerr error
		q.UpdateOrderStates(ctx, params).Exec(func(_ int, err error) {
			if err != nil && uerr == nil {
				uerr = err
			}
		})
		if uerr != nil {
			return fmt.Errorf("update %d orders: %w", len(params), uerr)
		}
	}
	if len(w.events) > 0 {
		params := make([]ordersdb.InsertOrderEventsParams, len(w.events))
		for i, e := range w.events {
			params[i] = e.params
		}
		var notices []Notice
		var eerr error
		q.InsertOrderEvents(ctx, params).QueryRow(func(i int, id int64, err error) {
			if err != nil {
				if eerr == nil {
					eerr = err
				}
				return
			}
			if w.events[i].notify {
				notices = append(notices, Notice{OrderID: params[i].OrderID, EventID: id})
			}
		})
		if eerr != nil {
			return fmt.Errorf("insert %d order events: %w", len(params), eerr)
		}
		if len(notices) > 0 {
			if err := s.queue.NotifyMerchant(ctx, tx, notices...); err != nil {
				return err
			}
		}
	}
	if len(w.marks.Ids) > 0 {
		if err := q.MarkCallbacksProcessed(ctx, w.marks); err != nil {
			return fmt.Errorf("mark %d callbacks processed: %w", len(w.marks.Ids), err)
		}
	}
	if len(w.transfers) > 0 {
		if _, err := s.ledger.TransferBatchTx(ctx, tx, w.transfers); err != nil {
			return fmt.Errorf("post %d settlements: %w", len(w.transfers), err)
		}
	}
	return nil
}
