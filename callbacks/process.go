package callbacks

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tallyhq/tally/db/callbacksdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
)

// Process applies stored callbacks through the order state machine (package
// orders). It is idempotent: a processed callback is skipped, and the ledger
// keys make a second application post nothing. Callbacks processed at the
// same time share a transaction where they can (group); the rest, and every
// callback of a group that failed, are applied each in a transaction of its
// own. A callback that could not be applied is named in an Errors.
func (s *Service) Process(ctx context.Context, inboxIDs ...int64) error {
	var done map[int64]bool
	if !s.opts.NoGroups {
		var err error
		if done, err = s.group.apply(ctx, inboxIDs); err != nil {
			return err
		}
	}
	failed := Errors{}
	for _, id := range inboxIDs {
		if done[id] {
			continue
		}
		s.group.alone.Add(1)
		err := s.processAlone(ctx, id)
		if deterministic(err) && ctx.Err() == nil {
			// It would fail the same way on every attempt: an accountant sees
			// it now, with the reason, instead of after the last retry.
			s.opts.Logger.Warn("stored callback cannot be applied; flagged", "callback_id", id, "error", err)
			err = s.Fail(ctx, id, err)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			failed[id] = err
		}
	}
	if len(failed) > 0 {
		return failed
	}
	return nil
}

// Errors are the callbacks Process could not apply, by inbox id.
type Errors map[int64]error

// Error lists the callbacks that failed and why, in inbox id order.
func (e Errors) Error() string {
	ids := make([]int64, 0, len(e))
	for id := range e {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "callback %d: %v", id, e[id])
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As each callback's error.
func (e Errors) Unwrap() []error {
	out := make([]error, 0, len(e))
	for _, err := range e {
		out = append(out, err)
	}
	return out
}

// processAlone applies a stored callback in a transaction of its own.
func (s *Service) processAlone(ctx context.Context, inboxID int64) error {
	in, err := s.q.CallbackByID(ctx, inboxID)
	if err != nil {
		return fmt.Errorf("load callback %d: %w", inboxID, err)
	}
	if in.ProcessedAt != nil || in.Verdict == "rejected" {
		return nil
	}
	adapter, acct, err := s.merchants.AdapterByID(ctx, in.ProviderAccountID)
	if err != nil {
		return err
	}
	ev, err := adapter.ParseCallback(storedCallback(in))
	if errors.Is(err, providers.ErrUnreadableEvent) {
		// Signed, acknowledged, and not an event tally can read: flagged now.
		return s.Fail(ctx, inboxID, fmt.Errorf("verified but unreadable: %w", err))
	}
	if err != nil {
		// Acknowledged at intake, refused now (the account's secret changed in
		// between): an accountant must see it.
		return s.Fail(ctx, inboxID, fmt.Errorf("no longer verifies: %w", err))
	}
	cb := orders.CallbackEvent{ID: inboxID, Account: acct, Event: *ev}
	if !ev.Verified {
		return s.hint(ctx, cb)
	}
	var onOrder bool
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if done, err := lockUnprocessed(ctx, q, inboxID); err != nil || done {
			return err
		}
		res, err := s.orders.ApplyCallbackTx(ctx, tx, cb)
		if err != nil {
			return err
		}
		mark := callbacksdb.MarkCallbackProcessedParams{ID: inboxID, Outcome: "no order"}
		if res.OrderID != 0 {
			mark.OrderID, mark.Outcome = &res.OrderID, string(res.Outcome)
			onOrder = true
		}
		return q.MarkCallbackProcessed(ctx, mark)
	})
	if err == nil && onOrder {
		s.observeApplied(in.ReceivedAt)
	}
	return err
}

// observeApplied tells Options.Applied of a callback applied to its order.
func (s *Service) observeApplied(receivedAt time.Time) {
	if s.opts.Applied == nil {
		return
	}
	s.opts.Applied(max(time.Since(receivedAt), 0))
}

// lockUnprocessed locks a stored callback inside q's transaction and reports
// whether it was processed meanwhile (by a group, or another job holding it):
// then there is nothing left to do.
func lockUnprocessed(ctx context.Context, q *callbacksdb.Queries, inboxID int64) (bool, error) {
	processed, err := q.LockCallback(ctx, inboxID)
	if err != nil {
		return false, fmt.Errorf("lock callback %d: %w", inboxID, err)
	}
	return processed != nil, nil
}

// Stale returns up to max stored callbacks (accepted or hints) that were
// stored before cutoff and are still unapplied, oldest first: their job was
// lost (requeue_callbacks queues them again).
func (s *Service) Stale(ctx context.Context, cutoff time.Time, max int32) ([]int64, error) {
	ids, err := s.q.StaleCallbacks(ctx, callbacksdb.StaleCallbacksParams{Before: cutoff, MaxRows: max})
	if err != nil {
		return nil, fmt.Errorf("stale callbacks: %w", err)
	}
	return ids, nil
}

// Unapplied returns which of ids are stored callbacks still to be applied
// (those of a dead job, for requeue_callbacks).
func (s *Service) Unapplied(ctx context.Context, ids []int64) ([]int64, error) {
	out, err := s.q.UnappliedOf(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("unapplied callbacks of %d: %w", len(ids), err)
	}
	return out, nil
}

// storedCallback is the request an inbox row stored, to parse again.
func storedCallback(in callbacksdb.CallbackInbox) *providers.Callback {
	query, _ := url.ParseQuery(in.Query)
	header := http.Header{}
	var hs map[string][]string
	if json.Unmarshal(in.Headers, &hs) == nil {
		for k, v := range hs {
			header[k] = v
		}
	}
	return &providers.Callback{Method: in.Method, Path: in.Path, Query: query, Header: header, Body: in.Body, RemoteAddr: in.RemoteAddr}
}

// hint handles an unsigned callback: it only makes tally query the order
// (orders.Service.HintTx).
func (s *Service) hint(ctx context.Context, cb orders.CallbackEvent) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if done, err := lockUnprocessed(ctx, q, cb.ID); err != nil || done {
			return err
		}
		orderID, err := s.orders.HintTx(ctx, tx, cb)
		if err != nil {
			return err
		}
		if orderID == 0 {
			return q.MarkCallbackProcessed(ctx, callbacksdb.MarkCallbackProcessedParams{ID: cb.ID, Outcome: "hint for an unknown order: ignored"})
		}
		return q.MarkCallbackProcessed(ctx, callbacksdb.MarkCallbackProcessedParams{ID: cb.ID, OrderID: &orderID, Outcome: "hint: query queued"})
	})
}

// Fail gives up on a stored callback that cannot be applied (its job
// ran out of attempts, or it no longer verifies): it is marked processed with
// the reason and opens a rejected_callback discrepancy, so that it is neither
// lost nor counted as in flight forever.
func (s *Service) Fail(ctx context.Context, inboxID int64, cause error) error {
	in, err := s.q.CallbackByID(ctx, inboxID)
	if err != nil {
		return fmt.Errorf("load callback %d: %w", inboxID, err)
	}
	acct, err := s.merchants.ProviderAccountByID(ctx, in.ProviderAccountID)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if done, err := lockUnprocessed(ctx, s.q.WithTx(tx), inboxID); err != nil || done {
			return err
		}
		if _, _, err := s.disc.RecordTx(ctx, tx, discrepancies.Finding{
			Type: discrepancies.RejectedCallback, MerchantID: acct.MerchantID, ProviderAccountID: acct.ID,
			Fingerprint: discrepancies.Fingerprint(discrepancies.RejectedCallback, acct.Name, hex.EncodeToString(in.RequestHash[:12])),
			Summary:     fmt.Sprintf("callback %d to %s could not be applied: %v", inboxID, acct.Name, cause),
			Detail:      map[string]any{"inbox_id": inboxID, "error": cause.Error()},
		}); err != nil {
			return err
		}
		return s.q.WithTx(tx).MarkCallbackProcessed(ctx, callbacksdb.MarkCallbackProcessedParams{ID: inboxID, Outcome: "failed: " + cause.Error()})
	})
}

// deterministic reports whether err will fail the same way however often a
// stored callback is applied again: a verified event tally cannot apply (a
// business rule, a validation, content that does not parse after its
// signature verified), a refusal of the ledger's, or a value PostgreSQL
// refuses. Everything else (the database or the network unavailable, a
// deadlock, a timeout) is transient and retried.
func deterministic(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ledger.ErrConflict):
		return false
	case errors.Is(err, orders.ErrUnapplicable), errors.Is(err, providers.ErrInvalidRequest), errors.Is(err, providers.ErrBadSignature),
		errors.Is(err, ledger.ErrInvalid), errors.Is(err, ledger.ErrUnknownCurrency), errors.Is(err, ledger.ErrUnknownAccount),
		errors.Is(err, ledger.ErrIdempotencyConflict), errors.Is(err, ledger.ErrUnbalanced), errors.Is(err, ledger.ErrScale),
		errors.Is(err, ledger.ErrNonPositive), errors.Is(err, ledger.ErrCurrencyMismatch), errors.Is(err, ledger.ErrInsufficientFunds),
		errors.Is(err, ledger.ErrPostExceedsHold):
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && len(pg.Code) == 5 {
		// Class 22: data exceptions (a numeric value out of range, a malformed
		// value), and a check or not-null constraint: the same row fails the
		// same way. (A unique violation may be a race a retry resolves.)
		return pg.Code[:2] == "22" || pg.Code == "23514" || pg.Code == "23502"
	}
	return false
}
