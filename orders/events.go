package orders

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// CallbackEvent is a stored provider callback's event, as package callbacks
// hands it to the state machine (ApplyCallbackTx, HintTx, Group).
type CallbackEvent struct {
	// ID is the callback's inbox id: the order's timeline and the
	// discrepancies name it (callback_id).
	ID      int64
	Account merchants.ProviderAccount
	Event   providers.Event
}

// ref is what the timeline and the discrepancies say triggered an
// application.
func (cb CallbackEvent) ref() map[string]any { return map[string]any{"callback_id": cb.ID} }

// EventResult is what applying a callback's event did: the order it is about
// (zero when there is none: an order tally neither knows nor could record)
// and the outcome.
type EventResult struct {
	OrderID int64
	Outcome Outcome
}

// ApplyCallbackTx applies a verified callback's event in the caller's
// transaction tx: it finds and locks the order the event is about, or records
// one tally did not know (lockForEvent); and runs the state machine, which
// refuses an event whose references name two orders (a reference_conflict
// discrepancy, Conflict), posting the ledger transfers and queueing the
// merchant's webhooks with the writes.
func (s *Service) ApplyCallbackTx(ctx context.Context, tx pgx.Tx, cb CallbackEvent) (EventResult, error) {
	acct, ev, ref := cb.Account, cb.Event, cb.ref()
	row, found, err := s.lockForEvent(ctx, tx, acct, ev, ref)
	if err != nil || !found {
		return EventResult{}, err
	}
	f := s.facts(ctx, tx, acct, row, ev, "callback", ref)
	if f.IDOwner, err = s.providerIDOwner(ctx, tx, acct, ev, row); err != nil {
		return EventResult{}, err
	}
	row, out, err := s.execute(ctx, tx, f, row)
	if err != nil {
		return EventResult{}, err
	}
	return EventResult{OrderID: row.ID, Outcome: out}, nil
}

// HintTx handles an unsigned callback (a provider's hint) in tx: it only
// queues a query of the order it names (Queue.SyncOrderForHint, a query of
// its own) and records that on the order's timeline. It returns the order's
// id; zero when tally does not know the order, and then does nothing.
func (s *Service) HintTx(ctx context.Context, tx pgx.Tx, cb CallbackEvent) (int64, error) {
	q := s.q.WithTx(tx)
	row, err := q.OrderByProviderNoForUpdate(ctx, ordersdb.OrderByProviderNoForUpdateParams{ProviderAccountID: cb.Account.ID, ProviderOrderNo: cb.Event.OrderNo})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find order for hint: %w", err)
	}
	if err := s.queue.SyncOrderForHint(ctx, tx, row.ID, cb.ID); err != nil {
		return 0, err
	}
	if _, err := s.recordEvent(ctx, q, row, "callback", row.Status, row.Status, map[string]any{"callback_id": cb.ID, "hint": string(cb.Event.Status), "action": "query queued"}); err != nil {
		return 0, err
	}
	return row.ID, nil
}

// lockForEvent finds and locks the order an event is about. An event for an
// order tally does not know creates one: a C-Pay deposit to a user's wallet
// address credits that user; anything else is an unknown order whose money goes
// to suspense, with an unknown_order discrepancy.
func (s *Service) lockForEvent(ctx context.Context, tx pgx.Tx, acct merchants.ProviderAccount, ev providers.Event, ref map[string]any) (ordersdb.Order, bool, error) {
	q := s.q.WithTx(tx)
	row, err := s.findForUpdate(ctx, q, acct.ID, ev)
	if err == nil {
		return row, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return ordersdb.Order{}, false, fmt.Errorf("find order for event: %w", err)
	}
	amount, cur := eventAmount(ev)
	if _, err := s.ledger.CurrencyTx(ctx, tx, cur); err != nil && !errors.Is(err, ledger.ErrUnknownCurrency) {
		return ordersdb.Order{}, false, fmt.Errorf("currency of event: %w", err)
	} else if err != nil || !amount.IsPositive() {
		// Nothing to book: still a discrepancy an accountant must see.
		_, _, err := s.disc.RecordTx(ctx, tx, unknownFinding(acct, ev, amount, cur, 0, ref))
		return ordersdb.Order{}, false, err
	}
	kind := ev.Kind
	if kind == "" {
		kind = providers.KindDeposit
	}
	wallet := ev.OrderNo == "" && ev.UserID != "" && kind == providers.KindDeposit
	p := ordersdb.InsertOrderParams{
		MerchantID: acct.MerchantID, ProviderAccountID: acct.ID, Kind: string(kind), Origin: "provider",
		ProviderOrderNo: syntheticOrderNo(ev), ProviderOrderID: ev.ProviderOrderID, CustomerID: "unknown",
		Amount: amount, Currency: cur, PayCurrency: cur, Status: string(StatusCreated), Request: []byte("{}"),
	}
	if wallet {
		p.Origin, p.CustomerID = "wallet", ev.UserID
	}
	if _, err := q.InsertOrder(ctx, p); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return ordersdb.Order{}, false, fmt.Errorf("record %s order: %w", p.Origin, err)
	}
	row, err = q.OrderByProviderNoForUpdate(ctx, ordersdb.OrderByProviderNoForUpdateParams{ProviderAccountID: acct.ID, ProviderOrderNo: p.ProviderOrderNo})
	if err != nil {
		return ordersdb.Order{}, false, fmt.Errorf("lock %s order: %w", p.Origin, err)
	}
	if row.Origin == "provider" {
		if _, _, err := s.disc.RecordTx(ctx, tx, unknownFinding(acct, ev, amount, cur, row.ID, ref)); err != nil {
			return ordersdb.Order{}, false, err
		}
		if kind == providers.KindPayout {
			// Money left for a payout tally never asked for: nothing to post
			// against; the accountant decides.
			_, err := s.recordEvent(ctx, q, row, "callback", row.Status, row.Status, map[string]any{"unknown_payout": string(ev.Status)})
			return row, false, err
		}
	}
	if _, err := s.recordEvent(ctx, q, row, "callback", "", string(StatusCreated), map[string]any{"origin": row.Origin}); err != nil {
		return ordersdb.Order{}, false, err
	}
	return row, true, nil
}

// providerIDOwner is the provider order number of another order than row
// that already carries the event's provider order id, for the machine to
// refuse (Facts.IDOwner); "" when none does, or when it need not be asked:
// the event states no provider id, row has one already (the machine compares
// them), or the event's order number is not row's (row was found by the
// provider's id: the machine refuses it as it is).
func (s *Service) providerIDOwner(ctx context.Context, tx pgx.Tx, acct merchants.ProviderAccount, ev providers.Event, row ordersdb.Order) (string, error) {
	if ev.ProviderOrderID == "" || row.ProviderOrderID != "" || (ev.OrderNo != "" && row.ProviderOrderNo != ev.OrderNo) {
		return "", nil
	}
	other, err := s.q.WithTx(tx).OrderIDByProviderID(ctx, ordersdb.OrderIDByProviderIDParams{ProviderAccountID: acct.ID, ProviderOrderID: ev.ProviderOrderID})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("order of provider id %s: %w", ev.ProviderOrderID, err)
	}
	if other.ID == row.ID {
		return "", nil
	}
	return other.ProviderOrderNo, nil
}

func (s *Service) findForUpdate(ctx context.Context, q *ordersdb.Queries, acctID int64, ev providers.Event) (ordersdb.Order, error) {
	if ev.OrderNo != "" {
		row, err := q.OrderByProviderNoForUpdate(ctx, ordersdb.OrderByProviderNoForUpdateParams{ProviderAccountID: acctID, ProviderOrderNo: ev.OrderNo})
		if !errors.Is(err, pgx.ErrNoRows) {
			return row, err
		}
	}
	if ev.OrderNo == "" {
		if row, err := q.OrderByProviderNoForUpdate(ctx, ordersdb.OrderByProviderNoForUpdateParams{ProviderAccountID: acctID, ProviderOrderNo: syntheticOrderNo(ev)}); !errors.Is(err, pgx.ErrNoRows) {
			return row, err
		}
	}
	if ev.ProviderOrderID != "" {
		row, err := q.OrderByProviderIDForUpdate(ctx, ordersdb.OrderByProviderIDForUpdateParams{ProviderAccountID: acctID, ProviderOrderID: ev.ProviderOrderID})
		if !errors.Is(err, pgx.ErrNoRows) {
			return row, err
		}
	}
	if ev.TxHash != "" {
		return q.OrderByTxHashForUpdate(ctx, ordersdb.OrderByTxHashForUpdateParams{ProviderAccountID: acctID, TxHash: ev.TxHash})
	}
	return ordersdb.Order{}, pgx.ErrNoRows
}

// syntheticOrderNo names an order tally learns of from the provider: its own
// order number when it has one, else "wallet:" (a deposit to a user's address)
// or "unknown:" and the provider's id or transaction hash.
func syntheticOrderNo(ev providers.Event) string {
	if ev.OrderNo != "" {
		return ev.OrderNo
	}
	prefix := "unknown:"
	if ev.UserID != "" && ev.Kind != providers.KindPayout {
		prefix = "wallet:"
	}
	if ev.ProviderOrderID != "" {
		return prefix + ev.ProviderOrderID
	}
	return prefix + ev.TxHash
}

func unknownFinding(acct merchants.ProviderAccount, ev providers.Event, amount decimal.Decimal, cur string, orderID int64, ref map[string]any) discrepancies.Finding {
	detail := map[string]any{"order_no": ev.OrderNo, "provider_order_id": ev.ProviderOrderID, "tx_hash": ev.TxHash,
		"status": ev.Status, "kind": ev.Kind}
	for k, v := range ref {
		detail[k] = v
	}
	return discrepancies.Finding{
		Type: discrepancies.UnknownOrder, MerchantID: acct.MerchantID, ProviderAccountID: acct.ID, OrderID: orderID,
		Fingerprint: discrepancies.Fingerprint(discrepancies.UnknownOrder, acct.Name, syntheticOrderNo(ev)),
		Currency:    cur, Actual: providers.Nullable(amount), Delta: amount,
		Summary: fmt.Sprintf("%s reported %s order %s (%s %s) that tally does not know", acct.Name, ev.Status,
			firstOf(ev.OrderNo, ev.ProviderOrderID, ev.TxHash), amount, cur),
		Detail: detail,
	}
}

// eventAmount is the best amount an event states, with its currency.
func eventAmount(ev providers.Event) (decimal.Decimal, string) {
	for _, d := range []decimal.NullDecimal{ev.Paid, ev.Requested} {
		if d.Valid && d.Decimal.IsPositive() {
			return d.Decimal, ev.Currency
		}
	}
	if ev.Credited.Valid && ev.Credited.Decimal.IsPositive() {
		amt := ev.Credited.Decimal
		if ev.Fee.Valid {
			amt = amt.Add(ev.Fee.Decimal)
		}
		return amt, ev.Currency
	}
	if ev.Quote != nil && ev.Quote.Amount.IsPositive() {
		return ev.Quote.Amount, ev.Quote.Currency
	}
	return decimal.Zero, ev.Currency
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
