package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// Submit makes the provider call for an order still in status created. It
// returns an error wrapping providers.ErrTransient or ErrAmbiguous when the job
// should retry; after an ambiguous failure the next attempt queries the provider
// before creating again, so that no order is created twice. A definite rejection
// fails the order and voids a payout's hold. With lastAttempt, a transient
// failure fails the order too (the provider never took it).
func (s *Service) Submit(ctx context.Context, orderID int64, lastAttempt bool) error {
	row, err := s.q.OrderByID(ctx, orderID)
	if err != nil {
		return fmt.Errorf("load order %d: %w", orderID, err)
	}
	if Status(row.Status) != StatusCreated || row.SubmitState == "submitted" || row.SubmitState == "rejected" {
		return nil
	}
	adapter, acct, err := s.AdapterByID(ctx, row.ProviderAccountID)
	if err != nil {
		return err
	}
	log := s.opts.Logger.With("order_id", row.ID, "provider", acct.Provider, "provider_account", acct.Name)
	if row.SubmitState == "ambiguous" {
		if adapter.Capabilities().QueryOrder {
			ev, err := adapter.QueryOrder(ctx, providers.OrderQuery{Kind: providers.OrderKind(row.Kind), OrderNo: row.ProviderOrderNo})
			switch {
			case err == nil:
				log.Info("ambiguous submit resolved by query: the provider has the order", "status", ev.Status)
				return s.afterSubmit(ctx, acct, row.ID, &providers.CreateResult{ProviderOrderID: ev.ProviderOrderID, Status: ev.Status}, ev)
			case errors.Is(err, providers.ErrNotFound):
				log.Info("ambiguous submit resolved by query: the provider does not have the order; creating it")
			default:
				return fmt.Errorf("query order %d after an ambiguous submit: %w", row.ID, err)
			}
		}
		// No query: sending the same order number again is the probe; a
		// duplicate refusal proves the first create worked (below).
	}
	var req CreateRequest
	if err := json.Unmarshal(row.Request, &req); err != nil {
		return fmt.Errorf("order %d request: %w", row.ID, err)
	}
	var res *providers.CreateResult
	if row.Kind == string(providers.KindDeposit) {
		if req.PayCurrency == "" {
			req.PayCurrency = req.Currency
		}
		res, err = adapter.CreateDeposit(ctx, depositRequest(req, row.ProviderOrderNo, s.NotifyURL(acct.Name)))
	} else {
		res, err = adapter.CreatePayout(ctx, payoutRequest(req, row.ProviderOrderNo, s.NotifyURL(acct.Name)))
	}
	if err == nil {
		log.Info("order submitted", "provider_order_id", res.ProviderOrderID, "status", res.Status)
		return s.afterSubmit(ctx, acct, row.ID, res, nil)
	}
	if errors.Is(err, providers.ErrDuplicateOrder) {
		log.Info("ambiguous submit resolved by resending: the provider already has the order")
		return s.afterSubmit(ctx, acct, row.ID, &providers.CreateResult{Status: providers.StatusPending}, nil)
	}
	kind := providers.KindOf(err)
	log.Warn("submit failed", "kind", fmt.Sprint(kind), "error", err)
	if errors.Is(err, providers.ErrRejected) && adapter.Capabilities().QueryOrder {
		// Never fail an order the provider has: a refusal of a create sent again
		// (the first answer lost, the worker killed) is often "already exists".
		ev, qerr := adapter.QueryOrder(ctx, providers.OrderQuery{Kind: providers.OrderKind(row.Kind), OrderNo: row.ProviderOrderNo})
		switch {
		case qerr == nil:
			log.Info("the provider refused the create but has the order: recorded as submitted", "status", ev.Status)
			return s.afterSubmit(ctx, acct, row.ID, &providers.CreateResult{ProviderOrderID: ev.ProviderOrderID, Status: ev.Status}, ev)
		case !errors.Is(qerr, providers.ErrNotFound):
			return fmt.Errorf("query order %d after a refused create: %w", row.ID, qerr)
		}
	}
	switch {
	case errors.Is(err, providers.ErrAmbiguous), errors.Is(err, providers.ErrBadSignature):
		// A create answer that does not verify may come from an order that exists.
		if err2 := s.setSubmitState(ctx, row.ID, "ambiguous", err.Error()); err2 != nil {
			return err2
		}
		return err
	case errors.Is(err, providers.ErrTransient) || kind == nil:
		if lastAttempt {
			return s.reject(ctx, acct, row.ID, "provider unavailable: "+err.Error())
		}
		if err2 := s.setSubmitState(ctx, row.ID, row.SubmitState, err.Error()); err2 != nil {
			return err2
		}
		return err
	default:
		return s.reject(ctx, acct, row.ID, err.Error())
	}
}

// afterSubmit records the provider's answer and moves the order on.
func (s *Service) afterSubmit(ctx context.Context, acct merchants.ProviderAccount, orderID int64, res *providers.CreateResult, ev *providers.Event) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", orderID, err)
		}
		if row.SubmitState == "submitted" {
			return nil
		}
		var payForm, addrs []byte
		if res.PayForm != nil {
			payForm, _ = json.Marshal(res.PayForm)
		}
		if len(res.Addresses) > 0 {
			addrs, _ = json.Marshal(res.Addresses)
		}
		pid := row.ProviderOrderID
		if res.ProviderOrderID != "" {
			pid = res.ProviderOrderID
		}
		row, err = q.UpdateOrderSubmit(ctx, ordersdb.UpdateOrderSubmitParams{
			ID: row.ID, ProviderOrderID: pid, Status: row.Status, StatusReason: row.StatusReason,
			CashierUrl: res.CashierURL, PayForm: payForm, Addresses: addrs, SubmitState: "submitted",
			SubmitAttempts: row.SubmitAttempts + 1, LastError: "", FinalAt: row.FinalAt,
		})
		if err != nil {
			return fmt.Errorf("record submit of order %d: %w", orderID, err)
		}
		event := providers.Event{Status: res.Status, ProviderOrderID: pid}
		if event.Status == "" {
			event.Status = providers.StatusPending
		}
		if ev != nil {
			event = *ev
		}
		_, _, err = s.applyTx(ctx, tx, acct, row, event, "submit", map[string]any{"cashier_url": res.CashierURL != "", "addresses": len(res.Addresses)})
		return err
	})
}

// reject fails an order the provider refused, voiding a payout's hold.
func (s *Service) reject(ctx context.Context, acct merchants.ProviderAccount, orderID int64, reason string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", orderID, err)
		}
		if Status(row.Status) != StatusCreated {
			return nil
		}
		row, err = q.UpdateOrderSubmit(ctx, ordersdb.UpdateOrderSubmitParams{
			ID: row.ID, ProviderOrderID: row.ProviderOrderID, Status: row.Status, StatusReason: row.StatusReason,
			CashierUrl: row.CashierUrl, PayForm: row.PayForm, Addresses: row.Addresses, SubmitState: "rejected",
			SubmitAttempts: row.SubmitAttempts + 1, LastError: reason, FinalAt: row.FinalAt,
		})
		if err != nil {
			return fmt.Errorf("record rejection of order %d: %w", orderID, err)
		}
		_, _, err = s.applyTx(ctx, tx, acct, row, providers.Event{Status: providers.StatusFailed, Remark: reason}, "submit", nil)
		return err
	})
}

func (s *Service) setSubmitState(ctx context.Context, orderID int64, state, lastErr string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", orderID, err)
		}
		if _, err := q.UpdateOrderSubmit(ctx, ordersdb.UpdateOrderSubmitParams{
			ID: row.ID, ProviderOrderID: row.ProviderOrderID, Status: row.Status, StatusReason: row.StatusReason,
			CashierUrl: row.CashierUrl, PayForm: row.PayForm, Addresses: row.Addresses, SubmitState: state,
			SubmitAttempts: row.SubmitAttempts + 1, LastError: lastErr, FinalAt: row.FinalAt,
		}); err != nil {
			return fmt.Errorf("record submit attempt of order %d: %w", orderID, err)
		}
		_, err = s.recordEvent(ctx, q, row, "submit", row.Status, row.Status, map[string]any{"error": lastErr, "submit_state": state})
		return err
	})
}

// note writes a timeline entry without changing the order.
func (s *Service) note(ctx context.Context, row ordersdb.Order, source string, detail map[string]any) error {
	_, err := s.recordEvent(ctx, s.q, row, source, row.Status, row.Status, detail)
	return err
}

// SyncResult is what a query of the provider did to an order.
type SyncResult struct {
	Outcome Outcome
	Before  Status
	After   Status
	Event   *providers.Event
}

// Sync asks the provider for an order's state and applies the answer through the
// state machine. It is the only path that moves orders of providers whose
// callbacks are unsigned. Providers without an order query return a zero result.
func (s *Service) Sync(ctx context.Context, orderID int64) (SyncResult, error) {
	row, err := s.q.OrderByID(ctx, orderID)
	if err != nil {
		return SyncResult{}, fmt.Errorf("load order %d: %w", orderID, err)
	}
	res := SyncResult{Before: Status(row.Status), After: Status(row.Status)}
	if row.Origin != "api" {
		return res, nil
	}
	adapter, acct, err := s.AdapterByID(ctx, row.ProviderAccountID)
	if err != nil {
		return res, err
	}
	if !adapter.Capabilities().QueryOrder {
		return res, nil
	}
	ev, err := adapter.QueryOrder(ctx, providers.OrderQuery{Kind: providers.OrderKind(row.Kind), OrderNo: row.ProviderOrderNo, ProviderOrderID: row.ProviderOrderID})
	if errors.Is(err, providers.ErrNotFound) {
		if Status(row.Status) == StatusCreated {
			return res, nil // not submitted yet, or submit will find out
		}
		return res, s.note(ctx, row, "query", map[string]any{"query": "provider does not know the order"})
	}
	if err != nil {
		return res, fmt.Errorf("query order %d: %w", orderID, err)
	}
	res.Event = ev
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.WithTx(tx).OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return err
		}
		if Status(row.Status) == StatusCreated {
			// The provider has it but submit_order has not recorded that yet: let
			// the submit path record the provider's answer first.
			return nil
		}
		row, res.Outcome, err = s.applyTx(ctx, tx, acct, row, *ev, "query", nil)
		res.After = Status(row.Status)
		return err
	})
	return res, err
}

// ExpireHolds ends payouts whose hold passed its deadline without the provider
// settling: each is queried first; one still open is marked expired (its hold
// released) with a stale_pending discrepancy, so that a late success surfaces as
// a status_mismatch rather than silently. It returns how many it expired.
func (s *Service) ExpireHolds(ctx context.Context) (int, error) {
	now := s.opts.Now()
	rows, err := s.q.DueHolds(ctx, ordersdb.DueHoldsParams{Now: now, RowLimit: 500})
	if err != nil {
		return 0, fmt.Errorf("due holds: %w", err)
	}
	n := 0
	for _, r := range rows {
		if r.Origin == "api" && Status(r.Status) != StatusCreated {
			if _, err := s.Sync(ctx, r.ID); err != nil {
				s.opts.Logger.Warn("query before hold expiry failed", "order_id", r.ID, "error", err)
			}
		}
		expired := false
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			row, err := s.q.WithTx(tx).OrderByIDForUpdate(ctx, r.ID)
			if err != nil || Status(row.Status).Final() {
				return err
			}
			_, acct, err := s.AdapterByID(ctx, row.ProviderAccountID)
			if err != nil {
				return err
			}
			reason := fmt.Sprintf("hold expired at %s before the provider settled", row.ExpiresAt.Format(time.RFC3339))
			if _, _, err := s.disc.RecordTx(ctx, tx, discrepancies.Finding{
				Type: discrepancies.StalePending, MerchantID: row.MerchantID, ProviderAccountID: acct.ID, OrderID: row.ID,
				Fingerprint: discrepancies.Fingerprint(discrepancies.StalePending, acct.Name, row.ProviderOrderNo),
				Currency:    row.Currency, Expected: providers.Nullable(row.Amount), Delta: row.Amount,
				Summary: fmt.Sprintf("payout %s still %s when its hold expired", row.ProviderOrderNo, row.Status),
			}); err != nil {
				return err
			}
			if _, _, err := s.applyTx(ctx, tx, acct, row, providers.Event{Status: providers.StatusExpired, Remark: reason}, "expiry", nil); err != nil {
				return err
			}
			expired = true
			return nil
		})
		if err != nil {
			// One order must not block every later one: log it and go on.
			s.opts.Logger.Error("expire payout", "order_id", r.ID, "error", err)
			continue
		}
		if expired {
			n++
		}
	}
	if _, err := s.ledger.ExpirePending(ctx, now); err != nil {
		return n, fmt.Errorf("expire ledger holds: %w", err)
	}
	return n, nil
}

// OpenOrders returns orders without a final status created before cutoff, for
// the sync schedule.
func (s *Service) OpenOrders(ctx context.Context, cutoff time.Time, limit int32) ([]int64, error) {
	rows, err := s.q.OpenOrdersToSync(ctx, ordersdb.OpenOrdersToSyncParams{CreatedBefore: cutoff, RowLimit: limit})
	if err != nil {
		return nil, fmt.Errorf("open orders: %w", err)
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, nil
}
