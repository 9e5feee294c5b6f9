package orders

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/ledger"
)

// Group applies the events of many callbacks in one transaction, the
// caller's (package callbacks applies the callbacks that process_callback
// jobs hand it at the same time so): their orders locked in one statement,
// the state machine run on each in memory, then the orders, timeline events
// and webhook jobs written in a few round trips (Apply), and every ledger
// settlement in one batch, last (Post), so that the hot provider account is
// locked once per group, for the batch and the commit only. Under load a
// callback costs a fraction of a transaction; alone, it is a group of one.
//
// What a group cannot defer (a decision that is not Deferrable: a payout's
// hold, a discrepancy, a reversal; an order tally must first create or find
// by another identifier, one whose provider id names another order, a hint) is
// left to the caller, which applies it alone (ApplyCallbackTx) in a
// transaction of its own after the group committed; so are the later
// callbacks of the same order in the group, to keep their order. A group
// that fails leaves every callback to its caller.
//
//	g := svc.NewGroup(tx)                // svc is the *orders.Service
//	results, err := g.Apply(ctx, events) // then the caller's own writes
//	err = g.Post(ctx)                    // the ledger batch, last
type Group struct {
	s         *Service
	tx        pgx.Tx
	q         *ordersdb.Queries
	transfers []ledger.TransferRequest // the settlements Post writes
}

// NewGroup starts a group application in tx.
func (s *Service) NewGroup(tx pgx.Tx) *Group {
	return &Group{s: s, tx: tx, q: s.q.WithTx(tx)}
}

// GroupResult is what a Group did with one callback's event.
type GroupResult struct {
	// Applied: the group applied it (its order and outcome follow).
	// Otherwise the caller applies it alone, after the group committed.
	Applied bool
	OrderID int64
	Outcome Outcome
}

type orderKey struct {
	account int64
	orderNo string
}

// Apply applies what it can of cbs, in their order, and writes the orders,
// their timeline events and webhook jobs; the ledger settlements wait for
// Post. Only verified events that name their order number are applied here.
func (g *Group) Apply(ctx context.Context, cbs []CallbackEvent) ([]GroupResult, error) {
	s, tx, q := g.s, g.tx, g.q
	results := make([]GroupResult, len(cbs))
	var keyAccounts []int64
	var keyNos []string
	for _, cb := range cbs {
		if cb.Event.Verified && cb.Event.OrderNo != "" {
			keyAccounts, keyNos = append(keyAccounts, cb.Account.ID), append(keyNos, cb.Event.OrderNo)
		}
	}
	// A hint, or an order to find another way (no order number: such
	// callbacks have no order to keep in step with), is left to the caller.
	if len(keyNos) == 0 {
		return results, nil
	}
	locked, err := q.OrdersByProviderNosForUpdate(ctx, ordersdb.OrdersByProviderNosForUpdateParams{
		ProviderAccountIds: keyAccounts, ProviderOrderNos: keyNos})
	if err != nil {
		return nil, fmt.Errorf("lock orders of %d callbacks: %w", len(keyNos), err)
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
		if row, ok := rows[orderKey{cb.Account.ID, cb.Event.OrderNo}]; ok && cb.Event.ProviderOrderID != "" && row.ProviderOrderID == "" {
			idAccounts, idNos = append(idAccounts, cb.Account.ID), append(idNos, cb.Event.ProviderOrderID)
		}
	}
	named := map[orderKey]int64{} // (account, provider order id) -> order id
	if len(idNos) > 0 {
		found, err := q.OrderIDsByProviderIDs(ctx, ordersdb.OrderIDsByProviderIDsParams{ProviderAccountIds: idAccounts, ProviderOrderIds: idNos})
		if err != nil {
			return nil, fmt.Errorf("orders of %d provider ids: %w", len(idNos), err)
		}
		for _, f := range found {
			named[orderKey{f.ProviderAccountID, f.ProviderOrderID}] = f.ID
		}
	}

	alone := map[int64]bool{} // orders whose callbacks from here on are applied alone
	var w groupFlush
	for i, cb := range cbs {
		if !cb.Event.Verified || cb.Event.OrderNo == "" {
			continue
		}
		row, ok := rows[orderKey{cb.Account.ID, cb.Event.OrderNo}]
		clash := false
		if ok && cb.Event.ProviderOrderID != "" && row.ProviderOrderID == "" {
			id, taken := named[orderKey{cb.Account.ID, cb.Event.ProviderOrderID}]
			clash = taken && id != row.ID
		}
		if !ok || alone[row.ID] || unsure(*row) || clash {
			if ok {
				alone[row.ID] = true
			}
			continue
		}
		f := s.facts(ctx, tx, cb.Account, *row, cb.Event, "callback", cb.ref())
		d, err := Decide(f)
		if err != nil || !d.Deferrable() {
			if err != nil {
				s.opts.Logger.Debug("callback left to its own transaction", "callback_id", cb.ID, "order_id", row.ID, "error", err)
			}
			alone[row.ID] = true
			continue
		}
		if err := w.add(row, d); err != nil {
			s.opts.Logger.Debug("callback left to its own transaction", "callback_id", cb.ID, "order_id", row.ID, "error", err)
			alone[row.ID] = true
			continue
		}
		if d.Save {
			// Later callbacks of the order in this group see its new state. Only
			// what a write stores: identifiers a record-only decision learnt stay
			// unwritten, as they do when it is applied alone.
			setState(row, w.updates[row.ID])
			row.UpdatedAt = s.opts.Now()
		}
		results[i] = GroupResult{Applied: true, OrderID: row.ID, Outcome: d.Outcome}
	}
	if err := w.write(ctx, s, tx, q); err != nil {
		return nil, err
	}
	g.transfers = append(g.transfers, w.transfers...)
	return results, nil
}

// Post writes the group's ledger settlements in one batch: the last writes
// of the transaction, so that the ledger's hot rows stay locked for the
// shortest time.
func (g *Group) Post(ctx context.Context) error {
	if len(g.transfers) == 0 {
		return nil
	}
	if _, err := g.s.ledger.TransferBatchTx(ctx, g.tx, g.transfers); err != nil {
		return fmt.Errorf("post %d settlements: %w", len(g.transfers), err)
	}
	g.transfers = nil
	return nil
}

// groupFlush collects the deferred writes of a group's decisions.
type groupFlush struct {
	updates   map[int64]ordersdb.UpdateOrderStateParams // each order's last state, by id
	events    []deferredEvent
	transfers []ledger.TransferRequest
}

// deferredEvent is an order event of a group application; notify says whether
// the merchant is told of it.
type deferredEvent struct {
	params ordersdb.InsertOrderEventsParams
	notify bool
}

// add defers a deferrable decision d about row (as locked, or as an earlier
// decision of the group left it).
func (w *groupFlush) add(row *ordersdb.Order, d Decision) error {
	events := make([]deferredEvent, len(d.Events))
	for i, e := range d.Events {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("order event detail: %w", err)
		}
		events[i] = deferredEvent{notify: e.Notify, params: ordersdb.InsertOrderEventsParams{
			OrderID: row.ID, MerchantID: row.MerchantID, Source: "callback", FromStatus: string(e.From), ToStatus: string(e.To), Detail: b}}
	}
	if d.Save {
		if w.updates == nil {
			w.updates = map[int64]ordersdb.UpdateOrderStateParams{}
		}
		w.updates[row.ID] = stateParams(d.Order, row.Parts)
	}
	w.events = append(w.events, events...)
	for _, p := range d.Postings {
		w.transfers = append(w.transfers, *p.Transfer)
	}
	return nil
}

// setState sets a row's state to what p writes.
func setState(r *ordersdb.Order, p ordersdb.UpdateOrderStateParams) {
	r.Status, r.StatusReason, r.ProviderOrderID = p.Status, p.StatusReason, p.ProviderOrderID
	r.PaidAmount, r.CreditedAmount, r.Fee = p.PaidAmount, p.CreditedAmount, p.Fee
	r.SettledCurrency, r.FxRate, r.TxHash = p.SettledCurrency, p.FxRate, p.TxHash
	r.CreditedTo, r.Parts, r.FinalAt = p.CreditedTo, p.Parts, p.FinalAt
}

// write stores the group's writes but its ledger settlements (Post): orders,
// events and their webhook jobs.
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
				notices = append(notices, Notice{OrderID: params[i].OrderID, EventID: id, MerchantID: params[i].MerchantID})
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
	return nil
}
