package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// Submit states an order goes through (orders.submit_state).
const (
	submitPending   = "pending"   // not yet sent, or every attempt so far failed without the provider acting
	submitSubmitted = "submitted" // the provider has the order
	// submitAmbiguous: a create may have reached the provider (a timeout, a 5xx,
	// an answer that does not verify); the next attempt queries before creating.
	submitAmbiguous = "ambiguous"
	// submitUnresolved: submit_order ran out of attempts while ambiguous;
	// sync_order resolves the order by querying the provider (or, for a provider
	// without a query, its settlement statement does).
	submitUnresolved = "unresolved"
	submitRejected   = "rejected" // the provider refused it; the order failed
)

// unsure reports whether the provider may have an order tally has not seen it accept.
func unsure(row ordersdb.Order) bool { return inDoubt(Status(row.Status), row.SubmitState) }

// TooEarlyError is what Sync returns for an unresolved submission the provider
// does not (yet) know of while the grace period has not passed: a create that
// timed out may still be on its way. The job asks again after Wait.
type TooEarlyError struct {
	OrderID int64
	Wait    time.Duration
}

func (e *TooEarlyError) Error() string {
	return fmt.Sprintf("order %d: the provider does not know it yet; asking again in %s", e.OrderID, e.Wait)
}

// Submit makes the provider call for an order still in status created. It
// returns an error wrapping providers.ErrTransient or ErrAmbiguous when the job
// should retry; after an ambiguous failure the next attempt queries the provider
// before creating again, so that no order is created twice. A definite rejection
// fails the order and voids a payout's hold. With lastAttempt, a transient
// failure of an order the provider cannot have fails the order too; an order
// whose submission is still ambiguous is handed to sync_order instead
// (unresolved), never failed: the provider may have it. A provider's error
// reads in tally's words (providers.Public): the job queue logs and keeps it.
func (s *Service) Submit(ctx context.Context, orderID int64, lastAttempt bool) error {
	return providers.Public(s.submitOrHandOver(ctx, orderID, lastAttempt))
}

func (s *Service) submitOrHandOver(ctx context.Context, orderID int64, lastAttempt bool) error {
	err := s.submit(ctx, orderID, lastAttempt)
	if err == nil || !lastAttempt {
		return err
	}
	// The job gives up now: whatever the provider may hold must not be
	// forgotten. Record it even when the job's own context ran out.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	handed, herr := s.handOver(hctx, orderID, err)
	if herr != nil {
		return errors.Join(err, herr)
	}
	if handed {
		return nil
	}
	return err
}

// handOver marks an order whose submission is still ambiguous as unresolved and
// queues sync_order for it. It reports whether it did.
func (s *Service) handOver(ctx context.Context, orderID int64, cause error) (bool, error) {
	handed := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", orderID, err)
		}
		if Status(row.Status) != StatusCreated || row.SubmitState != submitAmbiguous {
			return nil
		}
		pub := providers.Describe(cause)
		msg := "submit attempts exhausted with the outcome unknown: " + pub.Message
		if _, err := q.UpdateOrderSubmit(ctx, ordersdb.UpdateOrderSubmitParams{
			ID: row.ID, ProviderOrderID: row.ProviderOrderID, Status: row.Status, StatusReason: row.StatusReason,
			CashierUrl: row.CashierUrl, PayForm: row.PayForm, Addresses: row.Addresses, SubmitState: submitUnresolved,
			SubmitAttempts: row.SubmitAttempts, LastError: msg, LastErrorCode: pub.Code, FinalAt: row.FinalAt,
		}); err != nil {
			return fmt.Errorf("record unresolved submit of order %d: %w", orderID, err)
		}
		if _, err := s.recordEvent(ctx, q, row, "submit", row.Status, row.Status, map[string]any{"submit_state": submitUnresolved,
			"error_code": pub.Code, "error": msg, "action": "resolved by querying the provider (sync_order) or by its statement"}); err != nil {
			return err
		}
		if err := s.recordStaff(ctx, q, row, "submit", map[string]any{"submit_state": submitUnresolved, "error_code": pub.Code, "error": staffError(cause)}); err != nil {
			return err
		}
		handed = true
		return s.queue.SyncOrder(ctx, tx, row.ID)
	})
	if handed {
		s.opts.Logger.Warn("submit gave up with the outcome unknown; the order is left to sync_order", "order_id", orderID, "error_code", providers.Describe(cause).Code)
		s.opts.Logger.Debug("submit gave up", "order_id", orderID, "error", staffError(cause))
	}
	return handed, err
}

func (s *Service) submit(ctx context.Context, orderID int64, lastAttempt bool) error {
	row, err := s.q.OrderByID(ctx, orderID)
	if err != nil {
		return fmt.Errorf("load order %d: %w", orderID, err)
	}
	if Status(row.Status) != StatusCreated || row.SubmitState == submitSubmitted || row.SubmitState == submitRejected {
		return nil
	}
	adapter, acct, err := s.merchants.AdapterByID(ctx, row.ProviderAccountID)
	if err != nil {
		return err
	}
	log := s.opts.Logger.With("order_id", row.ID, "provider", acct.Provider, "provider_account", acct.Name)
	canQuery := adapter.Capabilities().QueryOrder
	// provenAbsent: the provider said it does not have the order, so a
	// failure of this attempt's create cannot leave an order behind.
	provenAbsent := row.SubmitState == submitPending
	// wasAmbiguous: an earlier create may have reached the provider and may
	// still land after a query said "not found" (a slow provider): such an
	// order is never failed here, only handed to sync_order, which fails it
	// once the grace period has passed.
	wasAmbiguous := unsure(row)
	if wasAmbiguous {
		if canQuery {
			ev, err := adapter.QueryOrder(ctx, providers.OrderQuery{Kind: providers.OrderKind(row.Kind), OrderNo: row.ProviderOrderNo})
			switch {
			case err == nil:
				log.Info("ambiguous submit resolved by query: the provider has the order", "status", ev.Status)
				return s.afterSubmit(ctx, acct, row.ID, &providers.CreateResult{ProviderOrderID: ev.ProviderOrderID, Status: ev.Status}, ev, "submit")
			case errors.Is(err, providers.ErrNotFound):
				log.Info("ambiguous submit: the provider does not have the order (yet); creating it")
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
		res, err = adapter.CreateDeposit(ctx, depositRequest(req, row.ProviderOrderNo, s.merchants.NotifyURL(acct)))
	} else {
		res, err = adapter.CreatePayout(ctx, payoutRequest(req, row.ProviderOrderNo, s.merchants.NotifyURL(acct)))
	}
	if err == nil {
		log.Info("order submitted", "provider_order_id", res.ProviderOrderID, "status", res.Status)
		return s.afterSubmit(ctx, acct, row.ID, res, nil, "submit")
	}
	if errors.Is(err, providers.ErrDuplicateOrder) {
		log.Info("ambiguous submit resolved by resending: the provider already has the order")
		return s.afterSubmit(ctx, acct, row.ID, &providers.CreateResult{Status: providers.StatusPending}, nil, "submit")
	}
	kind := providers.KindOf(err)
	// The provider's words (redacted) are for the debug log; tally's at warn.
	log.Warn("submit failed", "kind", fmt.Sprint(kind), "error", providers.Public(err))
	log.Debug("submit failed", "error", staffError(err))
	if errors.Is(err, providers.ErrRejected) && canQuery {
		// Never fail an order the provider has: a refusal of a create sent again
		// (the first answer lost, the worker killed) is often "already exists".
		ev, qerr := adapter.QueryOrder(ctx, providers.OrderQuery{Kind: providers.OrderKind(row.Kind), OrderNo: row.ProviderOrderNo})
		switch {
		case qerr == nil:
			log.Info("the provider refused the create but has the order: recorded as submitted", "status", ev.Status)
			return s.afterSubmit(ctx, acct, row.ID, &providers.CreateResult{ProviderOrderID: ev.ProviderOrderID, Status: ev.Status}, ev, "submit")
		case !errors.Is(qerr, providers.ErrNotFound):
			return fmt.Errorf("query order %d after a refused create: %w", row.ID, qerr)
		}
	}
	switch {
	case errors.Is(err, providers.ErrAmbiguous), errors.Is(err, providers.ErrBadSignature):
		// A create answer that does not verify may come from an order that exists.
		if err2 := s.setSubmitState(ctx, row.ID, submitAmbiguous, err); err2 != nil {
			return err2
		}
		return err
	case errors.Is(err, providers.ErrTransient) || kind == nil:
		if lastAttempt && canQuery {
			// The last chance: fail the order only if the provider says it does
			// not have it (a worker killed mid-create leaves no ambiguous mark).
			ev, qerr := adapter.QueryOrder(ctx, providers.OrderQuery{Kind: providers.OrderKind(row.Kind), OrderNo: row.ProviderOrderNo})
			switch {
			case qerr == nil:
				return s.afterSubmit(ctx, acct, row.ID, &providers.CreateResult{ProviderOrderID: ev.ProviderOrderID, Status: ev.Status}, ev, "submit")
			case errors.Is(qerr, providers.ErrNotFound) && !wasAmbiguous:
				return s.reject(ctx, acct, row.ID, providers.Describe(err), err)
			}
			if err2 := s.setSubmitState(ctx, row.ID, submitAmbiguous, err); err2 != nil {
				return err2
			}
			return err
		}
		if lastAttempt && provenAbsent {
			return s.reject(ctx, acct, row.ID, providers.Describe(err), err)
		}
		// An earlier create may have reached a provider that cannot be asked:
		// keep the state (ambiguous stays ambiguous, for the hand-over).
		if err2 := s.setSubmitState(ctx, row.ID, row.SubmitState, err); err2 != nil {
			return err2
		}
		return err
	case wasAmbiguous:
		// Refused now, but the create that timed out earlier may yet land.
		if err2 := s.setSubmitState(ctx, row.ID, submitAmbiguous, err); err2 != nil {
			return err2
		}
		return err
	default:
		return s.reject(ctx, acct, row.ID, providers.Describe(err), err)
	}
}

// afterSubmit records the provider's answer and moves the order on.
func (s *Service) afterSubmit(ctx context.Context, acct merchants.ProviderAccount, orderID int64, res *providers.CreateResult, ev *providers.Event, src string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", orderID, err)
		}
		if row.SubmitState == submitSubmitted || row.SubmitState == submitRejected {
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
			CashierUrl: res.CashierURL, PayForm: payForm, Addresses: addrs, SubmitState: submitSubmitted,
			SubmitAttempts: row.SubmitAttempts + 1, LastError: "", LastErrorCode: "", FinalAt: row.FinalAt,
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
		_, _, err = s.applyTx(ctx, tx, acct, row, event, src, map[string]any{"cashier_url": res.CashierURL != "", "addresses": len(res.Addresses)})
		return err
	})
}

// reject fails an order the provider refused (or that the provider cannot
// have), voiding a payout's hold. The merchant reads why in tally's words
// (pub: the order's status reason and last error); cause, the provider's
// error if there is one, goes to a staff-only timeline entry.
func (s *Service) reject(ctx context.Context, acct merchants.ProviderAccount, orderID int64, pub providers.Problem, cause error) error {
	reason := pub.Message
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
			CashierUrl: row.CashierUrl, PayForm: row.PayForm, Addresses: row.Addresses, SubmitState: submitRejected,
			SubmitAttempts: row.SubmitAttempts + 1, LastError: reason, LastErrorCode: pub.Code, FinalAt: row.FinalAt,
		})
		if err != nil {
			return fmt.Errorf("record rejection of order %d: %w", orderID, err)
		}
		if cause != nil {
			if err := s.recordStaff(ctx, q, row, "submit", map[string]any{"submit_state": submitRejected, "error_code": pub.Code, "error": staffError(cause)}); err != nil {
				return err
			}
		}
		_, _, err = s.applyTx(ctx, tx, acct, row, providers.Event{Status: providers.StatusFailed, Remark: reason}, "submit", nil)
		return err
	})
}

// setSubmitState records a failed submit attempt: the merchant reads tally's
// words for it (providers.Describe: the order's last error and a timeline
// entry), staff the provider's (a staff-only entry and the debug log).
func (s *Service) setSubmitState(ctx context.Context, orderID int64, state string, cause error) error {
	pub := providers.Describe(cause)
	s.opts.Logger.Debug("submit attempt failed", "order_id", orderID, "submit_state", state, "error_code", pub.Code, "error", staffError(cause))
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", orderID, err)
		}
		if _, err := q.UpdateOrderSubmit(ctx, ordersdb.UpdateOrderSubmitParams{
			ID: row.ID, ProviderOrderID: row.ProviderOrderID, Status: row.Status, StatusReason: row.StatusReason,
			CashierUrl: row.CashierUrl, PayForm: row.PayForm, Addresses: row.Addresses, SubmitState: state,
			SubmitAttempts: row.SubmitAttempts + 1, LastError: pub.Message, LastErrorCode: pub.Code, FinalAt: row.FinalAt,
		}); err != nil {
			return fmt.Errorf("record submit attempt of order %d: %w", orderID, err)
		}
		if _, err = s.recordEvent(ctx, q, row, "submit", row.Status, row.Status, map[string]any{"error_code": pub.Code, "error": pub.Message,
			"submit_state": state}); err != nil {
			return err
		}
		return s.recordStaff(ctx, q, row, "submit", map[string]any{"error_code": pub.Code, "error": staffError(cause), "submit_state": state})
	})
}

// staffErrorLen bounds a provider error kept for staff.
const staffErrorLen = 2000

// staffError is a provider call's error as staff read it: its whole text
// (the provider's code, message and the start of its answer), credentials
// and signatures redacted (providers.Redact).
func staffError(err error) string {
	if err == nil {
		return ""
	}
	s := providers.Redact(err.Error())
	if len(s) > staffErrorLen {
		s = strings.ToValidUTF8(s[:staffErrorLen], "") + "..."
	}
	return s
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
// callbacks are unsigned, and the one that resolves an order whose submission
// stayed ambiguous: the provider has it (it is recorded as submitted and its
// status applied) or, once submit_order has given up and the grace period
// (Options.UnresolvedGrace) has passed, it definitely does not (ErrNotFound:
// the order fails and a payout's hold is voided). Providers without an order
// query return a zero result; their unresolved orders wait for a statement.
// A provider's error reads in tally's words (providers.Public); its own
// words are in the debug log.
func (s *Service) Sync(ctx context.Context, orderID int64) (SyncResult, error) {
	res, err := s.sync(ctx, orderID, false)
	if err != nil && providers.IsProviderError(err) {
		s.opts.Logger.Debug("order query failed", "order_id", orderID, "error", staffError(err))
	}
	return res, providers.Public(err)
}

// sync is Sync; expiring (the hold's deadline passed) also queries orders
// still created whose submit_order never recorded an answer.
func (s *Service) sync(ctx context.Context, orderID int64, expiring bool) (SyncResult, error) {
	row, err := s.q.OrderByID(ctx, orderID)
	if err != nil {
		return SyncResult{}, fmt.Errorf("load order %d: %w", orderID, err)
	}
	res := SyncResult{Before: Status(row.Status), After: Status(row.Status)}
	if row.Origin != "api" {
		return res, nil
	}
	created := Status(row.Status) == StatusCreated
	if created && !unsure(row) && !expiring {
		return res, nil // submit_order has not sent it yet, or is sending it
	}
	adapter, acct, err := s.merchants.AdapterByID(ctx, row.ProviderAccountID)
	if err != nil {
		return res, err
	}
	if !adapter.Capabilities().QueryOrder {
		return res, nil
	}
	ev, err := adapter.QueryOrder(ctx, providers.OrderQuery{Kind: providers.OrderKind(row.Kind), OrderNo: row.ProviderOrderNo, ProviderOrderID: row.ProviderOrderID})
	s.touchSynced(ctx, row.ID)
	if errors.Is(err, providers.ErrNotFound) {
		if !created {
			return res, s.note(ctx, row, "query", map[string]any{"query": "provider does not know the order"})
		}
		abandoned := row.SubmitState == submitAmbiguous && s.opts.Now().Sub(row.UpdatedAt) > s.opts.AbandonedAfter
		if row.SubmitState != submitUnresolved && !abandoned {
			return res, nil // not submitted yet, or submit_order will find out
		}
		// submit_order gave up. The adapter's contract: ErrNotFound means the
		// provider does not have the order, so it is safe to fail it, once a
		// create that timed out cannot still be on its way.
		if wait := s.opts.UnresolvedGrace - s.opts.Now().Sub(row.UpdatedAt); wait > 0 && !expiring {
			return res, &TooEarlyError{OrderID: row.ID, Wait: wait}
		}
		if err := s.reject(ctx, acct, row.ID, providers.Problem{Code: providers.CodeNotFound,
			Message: "the provider does not have the order after an ambiguous submit"}, nil); err != nil {
			return res, err
		}
		res.After = StatusFailed
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("query order %d: %w", orderID, err)
	}
	res.Event = ev
	if created {
		// The provider has it and submit_order never recorded that: record it
		// now, with the status the provider reports.
		if err := s.afterSubmit(ctx, acct, row.ID, &providers.CreateResult{ProviderOrderID: ev.ProviderOrderID, Status: ev.Status}, ev, "query"); err != nil {
			return res, err
		}
		cur, err := s.q.OrderByID(ctx, orderID)
		if err != nil {
			return res, fmt.Errorf("load order %d: %w", orderID, err)
		}
		res.After, res.Outcome = Status(cur.Status), Applied
		return res, nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.WithTx(tx).OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return err
		}
		row, res.Outcome, err = s.applyTx(ctx, tx, acct, row, *ev, "query", nil)
		res.After = Status(row.Status)
		return err
	})
	return res, err
}

// ExpireHolds ends payouts whose hold passed its deadline without the provider
// settling: each is queried first (an order still created too: its submission
// may have reached the provider); one still open is marked expired (its hold
// released) with a stale_pending discrepancy, so that a late success surfaces as
// a status_mismatch rather than silently. A payout whose submission is
// unresolved — the provider may have it and cannot say, or cannot be asked —
// keeps its hold: it gets a stale_pending discrepancy for an accountant and is
// tried again on the next run. It returns how many it expired.
func (s *Service) ExpireHolds(ctx context.Context) (int, error) {
	now := s.opts.Now()
	rows, err := s.q.DueHolds(ctx, ordersdb.DueHoldsParams{Now: now, RowLimit: 500})
	if err != nil {
		return 0, fmt.Errorf("due holds: %w", err)
	}
	n := 0
	for _, r := range rows {
		if r.Origin == "api" {
			if _, err := s.sync(ctx, r.ID, true); err != nil {
				s.opts.Logger.Warn("query before hold expiry failed", "order_id", r.ID, "error_code", providers.Describe(err).Code)
				s.opts.Logger.Debug("query before hold expiry failed", "order_id", r.ID, "error", staffError(err))
			}
		}
		expired := false
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			row, err := s.q.WithTx(tx).OrderByIDForUpdate(ctx, r.ID)
			if err != nil || Status(row.Status).Final() {
				return err
			}
			_, acct, err := s.merchants.AdapterByID(ctx, row.ProviderAccountID)
			if err != nil {
				return err
			}
			finding := discrepancies.Finding{
				Type: discrepancies.StalePending, MerchantID: row.MerchantID, ProviderAccountID: acct.ID, OrderID: row.ID,
				Fingerprint: discrepancies.Fingerprint(discrepancies.StalePending, acct.Name, row.ProviderOrderNo),
				Currency:    row.Currency, Expected: providers.Nullable(row.Amount), Delta: row.Amount,
				Summary: fmt.Sprintf("payout %s still %s when its hold expired", row.ProviderOrderNo, row.Status),
			}
			if unsure(row) {
				// Never release the money of a payout the provider may have made.
				finding.Summary = fmt.Sprintf("payout %s: its submission is unresolved (the provider may have it) and its hold expired; the hold is kept until the provider answers, its statement shows it, or an accountant decides", row.ProviderOrderNo)
				finding.Detail = map[string]any{"submit_state": row.SubmitState, "last_error": row.LastError, "last_error_code": row.LastErrorCode}
				_, _, err := s.disc.RecordTx(ctx, tx, finding)
				return err
			}
			reason := fmt.Sprintf("hold expired at %s before the provider settled", row.ExpiresAt.Format(time.RFC3339))
			if _, _, err := s.disc.RecordTx(ctx, tx, finding); err != nil {
				return err
			}
			if _, _, err := s.applyTx(ctx, tx, acct, row, providers.Event{Status: providers.StatusExpired, Remark: reason}, "expiry", nil); err != nil {
				return err
			}
			expired = true
			return nil
		})
		// Checked now: a payout whose hold is kept goes to the back of the queue.
		s.touchSynced(ctx, r.ID)
		if err != nil {
			// One order must not block every later one: log it and go on.
			s.opts.Logger.Error("expire payout", "order_id", r.ID, "error", err)
			continue
		}
		if expired {
			n++
		}
	}
	// Holds of payouts carry no ledger deadline (the order decides when its hold
	// ends, above); this releases holds made with one.
	if _, err := s.ledger.ExpirePending(ctx, now); err != nil {
		return n, fmt.Errorf("expire ledger holds: %w", err)
	}
	return n, nil
}

// OpenOrders returns the open orders a query can move, created before cutoff,
// least recently asked first, for the sync schedule: orders of provider accounts
// with an order query that came through the API (a created one only when its
// submission was ambiguous). Orders no query can move (UsdtPay, VPay, orders the
// provider reported) never fill the page, and every pollable one gets its turn.
func (s *Service) OpenOrders(ctx context.Context, cutoff time.Time, limit int32) ([]int64, error) {
	ids, err := s.pollableAccounts(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	// Each account gets an equal share of the page, so that one busy account
	// does not starve the others.
	share := max(limit/int32(len(ids)), 1)
	var out []int64
	for _, id := range ids {
		rows, err := s.q.OpenOrdersToSync(ctx, ordersdb.OpenOrdersToSyncParams{CreatedBefore: cutoff, ProviderAccountID: id, RowLimit: share})
		if err != nil {
			return nil, fmt.Errorf("open orders of provider account %d: %w", id, err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// pollableAccounts lists the provider accounts (enabled or not: their open
// orders still settle) whose provider answers order queries.
func (s *Service) pollableAccounts(ctx context.Context) ([]int64, error) {
	accts, err := s.merchants.ProviderAccounts(ctx, 0)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, a := range accts {
		adapter, _, err := s.merchants.AdapterFor(a)
		if err != nil {
			s.opts.Logger.Warn("provider account not polled: its adapter does not build", "provider_account", a.Name, "error", err)
			continue
		}
		if adapter.Capabilities().QueryOrder {
			ids = append(ids, a.ID)
		}
	}
	return ids, nil
}

// touchSynced records that the provider was just asked about an order, so that
// the schedule asks about the others first.
func (s *Service) touchSynced(ctx context.Context, orderID int64) {
	if err := s.q.TouchOrderSynced(ctx, orderID); err != nil {
		s.opts.Logger.Warn("record order sync time", "order_id", orderID, "error", err)
	}
}
