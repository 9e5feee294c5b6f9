package orders

// The executor of the state machine (machine.go) for one event: it gathers
// the facts, asks Decide, and writes the decision in the caller's
// transaction. Group (group.go) is the executor for many events at once.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// maxAsks bounds how often one application asks the machine again after the
// ledger refused a posting: each foreseen refusal teaches one fact (a hold
// gone, then a customer short; or a balance short), never the same twice.
const maxAsks = 3

// applyTx applies ev to the locked order row in tx and returns the updated
// row.
func (s *Service) applyTx(ctx context.Context, tx pgx.Tx, acct merchants.ProviderAccount, row ordersdb.Order, ev providers.Event, src string, ref map[string]any) (ordersdb.Order, Outcome, error) {
	return s.execute(ctx, tx, s.facts(ctx, tx, acct, row, ev, src, ref), row)
}

// facts are what the machine needs to decide on ev about row.
func (s *Service) facts(ctx context.Context, tx pgx.Tx, acct merchants.ProviderAccount, row ordersdb.Order, ev providers.Event, src string, ref map[string]any) Facts {
	f := Facts{Order: orderFromRow(row), Event: ev, Source: src, Ref: ref, Account: acct, Books: s.books(ctx, tx, acct), Now: s.opts.Now()}
	if adapter, _, err := s.merchants.AdapterFor(acct); err == nil {
		f.Caps = adapter.Capabilities()
	}
	return f
}

// execute asks the machine what f's event does to row and writes it in tx:
// the submission recorded, the postings, the findings, the order's state, its
// timeline events and the merchant's webhooks.
//
// Two answers only the database has are given to the machine when it needs
// them, and it is asked again: the settlement a reversal inverts (read from
// the ledger when the machine asks, Decision.NeedsSettlement), and what the
// ledger answers when it refuses a posting the machine foresaw a refusal of
// (Posting.Fallback: a payout's hold gone, then the customer's balance short;
// a reversal's account short, with its available balance). The machine, not
// this code, decides what follows from each answer; reading the balance
// before every reversal, or trying each alternative in advance, would cost a
// round trip on every application to spare one on a rare one, and the
// ledger's own check would still be the one that counts.
func (s *Service) execute(ctx context.Context, tx pgx.Tx, f Facts, row ordersdb.Order) (ordersdb.Order, Outcome, error) {
	failed := func(err error) (ordersdb.Order, Outcome, error) {
		return row, "", fmt.Errorf("apply %s event to order %d: %w", f.Event.Status, row.ID, err)
	}
	d, err := Decide(f)
	if err == nil && d.NeedsSettlement {
		if f.Settlement, err = s.settlement(ctx, row); err == nil {
			d, err = Decide(f)
		}
	}
	if err == nil && d.NeedsSettlement {
		err = fmt.Errorf("the settlement of order %d is still needed", row.ID)
	}
	if err != nil {
		return failed(err)
	}
	q := s.q.WithTx(tx)
	if d.Submitted {
		row, err = q.UpdateOrderSubmit(ctx, ordersdb.UpdateOrderSubmitParams{
			ID: row.ID, ProviderOrderID: row.ProviderOrderID, Status: row.Status, StatusReason: row.StatusReason,
			CashierUrl: row.CashierUrl, PayForm: row.PayForm, Addresses: row.Addresses, SubmitState: submitSubmitted,
			SubmitAttempts: row.SubmitAttempts, LastError: "", LastErrorCode: "", FinalAt: row.FinalAt,
		})
		if err != nil {
			return failed(fmt.Errorf("record order %d as submitted: %w", row.ID, err))
		}
	}
	for i, asked := 0, 0; i < len(d.Postings); i++ {
		p := d.Postings[i]
		err := s.post(ctx, tx, p)
		if err == nil {
			continue
		}
		if asked == maxAsks || !s.learn(ctx, &f, p, err) {
			return failed(fmt.Errorf("post %s: %w", p.Key(), err))
		}
		asked++
		if d, err = Decide(f); err == nil && d.NeedsSettlement {
			err = fmt.Errorf("the settlement of order %d is still needed", row.ID)
		}
		if err != nil {
			return failed(err)
		}
		i-- // the answer changes the refused posting and what follows it only
	}
	for i, fd := range d.Findings {
		if d.ClearSuspense && i == len(d.Findings)-1 {
			if err := s.disc.ClearSuspenseTx(ctx, tx, row.ID); err != nil {
				return failed(err)
			}
		}
		if _, _, err := s.disc.RecordTx(ctx, tx, fd); err != nil {
			return failed(err)
		}
	}
	if d.Save {
		if row, err = q.UpdateOrderState(ctx, stateParams(d.Order, row.Parts)); err != nil {
			return failed(fmt.Errorf("update order: %w", err))
		}
	}
	var notices []Notice
	for _, e := range d.Events {
		id, err := s.insertEvent(ctx, q, row, f.Source, string(e.From), string(e.To), e.Detail, e.Staff)
		if err != nil {
			return failed(err)
		}
		if e.Notify {
			notices = append(notices, Notice{OrderID: row.ID, EventID: id, MerchantID: row.MerchantID})
		}
	}
	if len(notices) > 0 {
		if err := s.queue.NotifyMerchant(ctx, tx, notices...); err != nil {
			return failed(err)
		}
	}
	return row, d.Outcome, nil
}

// post writes one posting of a decision in tx.
func (s *Service) post(ctx context.Context, tx pgx.Tx, p Posting) error {
	var err error
	switch {
	case p.Transfer != nil:
		_, err = s.ledger.TransferTx(ctx, tx, *p.Transfer)
	case p.Post != nil:
		_, err = s.ledger.PostPendingTx(ctx, tx, *p.Post)
	case p.Void != nil:
		_, err = s.ledger.VoidPendingTx(ctx, tx, *p.Void)
	default:
		return errors.New("a posting with nothing to post")
	}
	if p.Fallback == FallbackGoneHold && (errors.Is(err, ledger.ErrHoldExpired) || errors.Is(err, ledger.ErrHoldNotPending)) {
		return nil
	}
	return err
}

// learn records in f what the ledger's refusal err of p tells the machine,
// when p foresaw it; it reports whether it did.
func (s *Service) learn(ctx context.Context, f *Facts, p Posting, err error) bool {
	switch {
	case p.Fallback == FallbackHoldGone && !f.HoldGone && (errors.Is(err, ledger.ErrHoldExpired) || errors.Is(err, ledger.ErrHoldNotPending)):
		f.HoldGone = true
	case p.Fallback == FallbackUncovered && !f.Uncovered && errors.Is(err, ledger.ErrInsufficientFunds):
		f.Uncovered = true
	case p.Fallback == FallbackShortfall && !f.Available.Valid && errors.Is(err, ledger.ErrInsufficientFunds):
		// A balance that cannot be read counts as nothing left: the whole
		// amount is then owed by the customer.
		avail := decimal.Zero
		if b, berr := s.ledger.Balance(ctx, f.Order.MerchantID, p.Short); berr == nil {
			avail = b.Available
		}
		f.Available = providers.Nullable(avail)
	default:
		return false
	}
	return true
}

// settlement reads what the order's settlement posted, for its reversal: the
// posted entries of its settlement (a payout's hold post, or its direct
// post), and the fee booked on its own (a payout's, or one completed later)
// and what a payout paid beyond its hold, which the provider gives back too.
func (s *Service) settlement(ctx context.Context, r ordersdb.Order) ([]ledger.Entry, error) {
	payout := r.Kind == string(providers.KindPayout)
	key := settleKey(r.ID)
	if payout {
		key = fmt.Sprintf("order:%d:post", r.ID)
	}
	d, err := s.ledger.GetTransferByKey(ctx, r.MerchantID, key)
	if errors.Is(err, ledger.ErrNotFound) && payout {
		d, err = s.ledger.GetTransferByKey(ctx, r.MerchantID, settleKey(r.ID))
	}
	if err != nil {
		return nil, fmt.Errorf("find settlement to reverse: %w", err)
	}
	settlement := []ledger.Entry{}
	for _, e := range d.Entries {
		if e.Phase == ledger.PhasePosted {
			settlement = append(settlement, ledger.Entry{Account: e.Account, Side: e.Side, Amount: e.Amount})
		}
	}
	for _, key := range []string{fmt.Sprintf("order:%d:fee", r.ID), excessKey(r.ID)} {
		t, err := s.ledger.GetTransferByKey(ctx, r.MerchantID, key)
		if errors.Is(err, ledger.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find %s to reverse: %w", key, err)
		}
		for _, e := range t.Entries {
			settlement = append(settlement, ledger.Entry{Account: e.Account, Side: e.Side, Amount: e.Amount})
		}
	}
	return settlement, nil
}

// stateParams is the write of a decided order's state; parts are the stored
// ones, kept when the order has none decoded.
func stateParams(o Order, parts []byte) ordersdb.UpdateOrderStateParams {
	if len(o.Parts) > 0 {
		parts, _ = json.Marshal(o.Parts)
	}
	return ordersdb.UpdateOrderStateParams{
		ID: o.ID, Status: string(o.Status), StatusReason: o.StatusReason, ProviderOrderID: o.ProviderOrderID,
		PaidAmount: o.PaidAmount, CreditedAmount: o.CreditedAmount, Fee: o.Fee,
		SettledCurrency: o.SettledCurrency, FxRate: o.FXRate, TxHash: o.TxHash,
		CreditedTo: o.CreditedTo, Parts: parts, FinalAt: o.FinalAt,
	}
}

// recordEvent writes an order timeline event.
func (s *Service) recordEvent(ctx context.Context, q *ordersdb.Queries, row ordersdb.Order, source, from, to string, detail map[string]any) (int64, error) {
	return s.insertEvent(ctx, q, row, source, from, to, detail, false)
}

// recordStaff writes a staff-only timeline entry (the provider's own words,
// redacted): the merchant API leaves it out and no webhook quotes it.
func (s *Service) recordStaff(ctx context.Context, q *ordersdb.Queries, row ordersdb.Order, source string, detail map[string]any) error {
	_, err := s.insertEvent(ctx, q, row, source, row.Status, row.Status, detail, true)
	return err
}

func (s *Service) insertEvent(ctx context.Context, q *ordersdb.Queries, row ordersdb.Order, source, from, to string, detail map[string]any, staff bool) (int64, error) {
	b, err := json.Marshal(detail)
	if err != nil {
		return 0, fmt.Errorf("order event detail: %w", err)
	}
	ev, err := q.InsertOrderEvent(ctx, ordersdb.InsertOrderEventParams{OrderID: row.ID, MerchantID: row.MerchantID, Source: source,
		FromStatus: from, ToStatus: to, Detail: b, StaffOnly: staff})
	if err != nil {
		return 0, fmt.Errorf("insert order event: %w", err)
	}
	return ev.ID, nil
}
