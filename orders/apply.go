package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/settle"
)

// Outcome is what applying a provider event did to an order.
type Outcome string

const (
	// Applied: the order moved (and the ledger was posted where money moved).
	Applied Outcome = "applied"
	// Duplicate: the order was already in that state; nothing was posted.
	Duplicate Outcome = "duplicate"
	// Stale: an older event arrived after a newer one; a final order never moves back.
	Stale Outcome = "stale"
	// Conflict: the event contradicts what was already applied, or its money
	// could not be booked as stated (left held); a discrepancy was opened.
	Conflict Outcome = "conflict"
)

// rank orders statuses so that events only ever move an order forward.
func rank(s Status) int {
	switch s {
	case StatusCreated:
		return 0
	case StatusPending:
		return 1
	case StatusProcessing:
		return 2
	case StatusSucceeded, StatusFailed, StatusExpired:
		return 3
	case StatusReversed:
		return 4
	}
	return -1
}

// target is the status an event asks for: a reversed flag on a success is a reversal.
func target(ev providers.Event) Status {
	if ev.Reversed && (ev.Status == providers.StatusSucceeded || ev.Status == providers.StatusReversed) {
		return StatusReversed
	}
	return Status(ev.Status)
}

// applier carries one application of an event to a locked order, inside the
// caller's transaction.
type applier struct {
	s    *Service
	tx   pgx.Tx
	q    *ordersdb.Queries
	acct merchants.ProviderAccount
	caps providers.Capabilities
	row  ordersdb.Order
	ev   providers.Event
	src  string
	ref  map[string]any // what triggered it: callback id, job id
	// settled holds the entries of a settlement posted in this same application,
	// so that a reversal that overtook its success can invert them.
	settled []ledger.Entry
	events  []int64 // order events written, to notify the merchant of each
	// group, when set, defers this application's writes to a group
	// application (Group); a step that needs the database's answer at
	// once returns errOwnTransaction instead.
	group *groupWrites
}

// groupWrites are the writes of one application deferred to its group's flush.
type groupWrites struct {
	transfers []ledger.TransferRequest
	events    []deferredEvent
	update    *ordersdb.UpdateOrderStateParams // the order's last state written, if any
}

// deferredEvent is an order event of a group application; notify says whether
// the merchant is told of it.
type deferredEvent struct {
	params ordersdb.InsertOrderEventsParams
	notify bool
}

// errOwnTransaction: this application cannot be deferred to a group (it
// resolves a hold, opens a discrepancy, reads the ledger): it runs alone.
var errOwnTransaction = errors.New("needs its own transaction")

// applyTx applies ev to the locked order row and returns the updated row.
func (s *Service) applyTx(ctx context.Context, tx pgx.Tx, acct merchants.ProviderAccount, row ordersdb.Order, ev providers.Event, src string, ref map[string]any) (ordersdb.Order, Outcome, error) {
	if unsure(row) && src != "submit" && src != "expiry" {
		// The provider speaks of an order whose submission was in doubt (its
		// callback, a query, its statement): it has the order.
		var err error
		row, err = s.q.WithTx(tx).UpdateOrderSubmit(ctx, ordersdb.UpdateOrderSubmitParams{
			ID: row.ID, ProviderOrderID: row.ProviderOrderID, Status: row.Status, StatusReason: row.StatusReason,
			CashierUrl: row.CashierUrl, PayForm: row.PayForm, Addresses: row.Addresses, SubmitState: submitSubmitted,
			SubmitAttempts: row.SubmitAttempts, LastError: "", LastErrorCode: "", FinalAt: row.FinalAt,
		})
		if err != nil {
			return row, "", fmt.Errorf("record order %d as submitted: %w", row.ID, err)
		}
	}
	// A remark in the provider's answer to one of tally's own calls (a query:
	// sync, submit's probe, a reconciliation run) is whatever the base URL
	// answered: staff read it, the merchant never does (it would become the
	// order's status reason). A callback's (signed, posted by the provider)
	// and tally's own reasons stay.
	var remark string
	if ev.Remark != "" && ev.Verified && src != "callback" && src != "statement" {
		remark, ev.Remark = ev.Remark, ""
	}
	a := &applier{s: s, tx: tx, q: s.q.WithTx(tx), acct: acct, row: row, ev: ev, src: src, ref: ref}
	if adapter, _, err := s.merchants.AdapterFor(acct); err == nil {
		a.caps = adapter.Capabilities()
	}
	out, err := a.apply(ctx)
	if err != nil {
		return row, out, fmt.Errorf("apply %s event to order %d: %w", ev.Status, row.ID, err)
	}
	if remark != "" {
		if err := s.recordStaff(ctx, a.q, a.row, src, map[string]any{"provider_remark": providers.Snippet([]byte(remark)),
			"provider_status": ev.ProviderStatus}); err != nil {
			return row, out, err
		}
	}
	if len(a.events) > 0 {
		notices := make([]Notice, len(a.events))
		for i, id := range a.events {
			notices[i] = Notice{OrderID: a.row.ID, EventID: id}
		}
		if err := s.queue.NotifyMerchant(ctx, tx, notices...); err != nil {
			return row, out, err
		}
	}
	return a.row, out, nil
}

func (a *applier) apply(ctx context.Context) (Outcome, error) {
	cur, tgt := Status(a.row.Status), target(a.ev)
	if a.caps.ReversedAsFailed && tgt == StatusFailed && cur == StatusSucceeded {
		tgt = StatusReversed // this provider's only way to say reversed
	}
	if rank(tgt) < 0 {
		return Stale, fmt.Errorf("unknown event status %q: %w", a.ev.Status, ErrUnapplicable)
	}
	if a.ev.ProviderOrderID != "" && a.row.ProviderOrderID != "" && a.ev.ProviderOrderID != a.row.ProviderOrderID {
		// The event's order number names this order, its provider id another:
		// nothing moves on either until an accountant decides.
		return Conflict, a.referenceConflict(ctx)
	}
	a.fillIdentity()
	switch {
	case tgt == cur:
		return a.same(ctx)
	case rank(tgt) < rank(cur):
		_, err := a.record(ctx, string(cur), map[string]any{"ignored": "stale " + string(tgt) + " event after " + string(cur)})
		return Stale, err
	case rank(tgt) == rank(cur):
		// Two different final statuses. A deposit that expired or failed and is
		// then paid is a late payment: the money arrived, so it is applied, and
		// the contradiction is flagged all the same.
		if a.kind() == providers.KindDeposit && tgt == StatusSucceeded {
			out, err := a.succeed(ctx, "late payment after "+string(cur))
			if err != nil || out != Applied {
				return out, err
			}
			return Applied, a.contradicted(ctx, cur, tgt)
		}
		return Conflict, a.dispute(ctx, discrepancies.StatusMismatch, cur, tgt,
			fmt.Sprintf("provider says %s, order is %s", tgt, cur))
	}
	switch tgt {
	case StatusPending, StatusProcessing:
		return Applied, a.progress(ctx, tgt)
	case StatusSucceeded:
		return a.succeed(ctx, "")
	case StatusFailed, StatusExpired:
		return Applied, a.fail(ctx, tgt)
	case StatusReversed:
		if cur != StatusSucceeded {
			// The reversal overtook the success: settle first, then reverse.
			if out, err := a.succeed(ctx, "implied by a reversal"); err != nil || out != Applied {
				return out, err
			}
		}
		return Applied, a.reverse(ctx)
	}
	return Stale, nil
}

// same handles an event for the status the order already has: a repeat, new
// parts of a multi-part settlement, or a conflicting duplicate.
func (a *applier) same(ctx context.Context) (Outcome, error) {
	st := Status(a.row.Status)
	if len(a.ev.Parts) > len(partsOf(a.row)) {
		a.setParts()
		_, err := a.save(ctx, st, "", map[string]any{"parts": len(a.ev.Parts)})
		return Applied, err
	}
	if (st == StatusSucceeded || st == StatusReversed) && a.row.PaidAmount.Valid {
		if paid, ok := settle.AmountIn(a.ev, a.row.SettledCurrency); ok && !paid.Equal(a.row.PaidAmount.Decimal) {
			return Conflict, a.conflict(ctx, discrepancies.DuplicateConflict,
				fmt.Sprintf("a second %s callback says %s %s was paid, the first said %s", st, paid, a.row.SettledCurrency, a.row.PaidAmount.Decimal))
		}
	}
	if err := a.saveIdentity(ctx); err != nil {
		return Duplicate, err
	}
	return Duplicate, nil
}

// progress moves a non-final order forward without money moving.
func (a *applier) progress(ctx context.Context, to Status) error {
	a.setParts()
	_, err := a.save(ctx, to, a.ev.Remark, nil)
	return err
}

// succeed settles the order in the ledger under the rule of package settle:
// the money as the provider stated it, to the customer when it agrees with
// the order, else to suspense (or held) with a discrepancy. It is Applied
// when money moved and the order succeeded, Conflict when the money was left
// held.
func (a *applier) succeed(ctx context.Context, note string) (Outcome, error) {
	if a.kind() == providers.KindPayout {
		return a.settlePayout(ctx, note)
	}
	return a.settleDeposit(ctx, note)
}

// terms are the order's terms for settle.Check.
func (a *applier) terms() settle.Terms {
	return settle.Terms{Kind: a.kind(), Amount: a.row.Amount, Currency: a.row.Currency, PayCurrency: a.row.PayCurrency,
		Tolerance: a.acct.AmountTolerance}
}

// check applies the rule to the event.
func (a *applier) check(ctx context.Context) settle.Verdict {
	return settle.Check(a.terms(), a.ev, a.s.books(ctx, a.tx, a.acct))
}

// settleDeposit posts a deposit as the provider stated it: the provider
// clearing account up by the gross amount, the customer (or suspense)
// credited, the fee from clearing to fees. A cross-currency deposit balances
// each currency through the FX accounts; money in a currency the order does
// not settle in (or whose value in the order's currency nothing states) goes
// to suspense in its own currency. Money that cannot be booked as stated is
// left held: only the discrepancy records it.
func (a *applier) settleDeposit(ctx context.Context, note string) (Outcome, error) {
	r := a.row
	v := a.check(ctx)
	if !v.Bookable {
		return Conflict, a.hold(ctx, v)
	}
	ordCur, payCur := r.Currency, v.Stated.Currency
	inPay, fee := v.Stated.Gross, v.Stated.Fee
	origin := r.Origin
	// Foreign: booked in its own currency, with no rate to the order's.
	foreign := v.Has(settle.FieldCurrency) || (payCur != ordCur && !v.Value.IsPositive())
	suspense := origin == "provider" || foreign || (!v.Agrees() && !(a.acct.AmountPolicy == merchants.CreditReceived && v.OnlyAmounts()))
	inOrder, creditCur := v.Value, ordCur
	if foreign {
		inOrder, creditCur = inPay, payCur
	}
	creditTo := ledger.CustomerAccount(r.CustomerID, creditCur)
	if suspense {
		creditTo = ledger.SuspenseAccount(creditCur)
	}
	entries := []ledger.Entry{{Account: ledger.ProviderAccount(a.acct.Name, payCur), Side: ledger.Debit, Amount: inPay}}
	meta := map[string]string{"provider_order_no": r.ProviderOrderNo, "provider_order_id": a.ev.ProviderOrderID}
	var rate decimal.NullDecimal
	if creditCur != payCur {
		rate = v.Rate
		meta["fx_rate"] = rate.Decimal.String()
		meta["fx_pair"] = ordCur + "/" + payCur
		entries = append(entries,
			ledger.Entry{Account: ledger.FXAccount(payCur), Side: ledger.Credit, Amount: inPay},
			ledger.Entry{Account: ledger.FXAccount(ordCur), Side: ledger.Debit, Amount: inOrder})
	}
	entries = append(entries, ledger.Entry{Account: creditTo, Side: ledger.Credit, Amount: inOrder})
	if fee.IsPositive() {
		entries = append(entries,
			ledger.Entry{Account: ledger.FeesAccount(a.acct.Name, payCur), Side: ledger.Debit, Amount: fee},
			ledger.Entry{Account: ledger.ProviderAccount(a.acct.Name, payCur), Side: ledger.Credit, Amount: fee})
	}
	if err := a.transfer(ctx, ledger.TransferRequest{
		Merchant: r.MerchantID, Key: settleKey(r.ID), Entries: entries, Reference: orderRef(r.ID), Metadata: meta,
	}); err != nil {
		return Applied, fmt.Errorf("post deposit settlement: %w", err)
	}
	a.settled = entries
	a.row.PaidAmount = providers.Nullable(inPay)
	a.row.CreditedAmount, a.row.Fee = decimal.NullDecimal{}, decimal.NullDecimal{}
	if v.Stated.FeeStated {
		// A fee the provider did not state stays unknown (NULL) until a query or
		// its statement does; reconciliation then books it.
		a.row.CreditedAmount = providers.Nullable(inPay.Sub(fee))
		a.row.Fee = providers.Nullable(fee)
	}
	a.row.SettledCurrency = payCur
	a.row.FxRate = rate
	a.row.CreditedTo = creditTo

	if origin == "provider" {
		// The money of an order tally does not know is parked now: say how much.
		if err := a.open(ctx, discrepancies.Finding{Type: discrepancies.UnknownOrder, Currency: creditCur,
			Actual: providers.Nullable(inOrder), Delta: inOrder, Suspense: inOrder,
			Summary: fmt.Sprintf("%s reported paid order %s (%s %s) that tally does not know: held in suspense", a.acct.Name, r.ProviderOrderNo, inOrder, creditCur),
			Detail:  statedDetail(v, a.ev)}); err != nil {
			return Applied, err
		}
	} else if !v.Agrees() {
		sev := discrepancies.Medium
		switch {
		case foreign || v.Has(settle.FieldFee):
			sev = discrepancies.High
		case !suspense:
			sev = discrepancies.Low
		}
		f := discrepancies.Finding{
			Type: discrepancies.AmountMismatch, Severity: sev, Currency: creditCur, Actual: providers.Nullable(inOrder),
			Summary: fmt.Sprintf("order %s: %s (%s)", r.ProviderOrderNo, v.Summary(),
				map[bool]string{true: fmt.Sprintf("%s %s held in suspense", inOrder, creditCur), false: "credited to the customer"}[suspense]),
			Detail: statedDetail(v, a.ev),
		}
		if creditCur == ordCur {
			f.Expected, f.Delta = providers.Nullable(r.Amount), inOrder.Sub(r.Amount)
		} else {
			f.Delta = inOrder
		}
		if suspense {
			f.Suspense = inOrder
		}
		if v.Has(settle.FieldFee) {
			f.Type = discrepancies.FeeMismatch
		}
		if err := a.open(ctx, f); err != nil {
			return Applied, err
		}
	}
	if note == "" && !v.Agrees() {
		note = "amount differs from order"
		if foreign {
			note = "currency differs from order"
		}
	}
	_, err := a.save(ctx, StatusSucceeded, note, map[string]any{"paid": inPay.String(), "currency": payCur, "fee": fee.String(), "credited_to": creditTo})
	return Applied, err
}

// hold records a success whose money cannot be booked as the provider stated
// it (a currency the ledger cannot book or the order does not settle in for a
// payout, an amount finer than the currency's scale or above the account's
// bound, no amount at all): nothing is posted, the order keeps its status, and
// a discrepancy carries the provider's own figures for an accountant.
func (a *applier) hold(ctx context.Context, v settle.Verdict) error {
	r := a.row
	f := discrepancies.Finding{Type: discrepancies.AmountMismatch, Severity: discrepancies.High, Currency: v.Stated.Currency,
		Summary: fmt.Sprintf("%s %s: the provider reports success, nothing was posted: %s", r.Kind, r.ProviderOrderNo, v.Summary()),
		Detail:  statedDetail(v, a.ev)}
	if v.Stated.GrossStated {
		f.Actual, f.Delta = providers.Nullable(v.Stated.Gross), v.Stated.Gross
	}
	if v.Stated.Currency == r.Currency {
		f.Expected = providers.Nullable(r.Amount)
		f.Delta = f.Delta.Sub(r.Amount)
	}
	if err := a.open(ctx, f); err != nil {
		return err
	}
	_, err := a.record(ctx, r.Status, map[string]any{"held": v.Summary(), "differs": v.Fields()})
	return err
}

// statedDetail is the evidence of a verdict: the provider's own figures and
// what differs.
func statedDetail(v settle.Verdict, ev providers.Event) map[string]any {
	stated := map[string]any{"currency": v.Stated.Currency, "provider_status": ev.ProviderStatus}
	if v.Stated.GrossStated {
		stated["amount"] = v.Stated.Gross.String()
	}
	if v.Stated.FeeStated {
		stated["fee"] = v.Stated.Fee.String()
	}
	if ev.Requested.Valid {
		stated["requested"] = ev.Requested.Decimal.String()
	}
	if ev.Credited.Valid {
		stated["credited"] = ev.Credited.Decimal.String()
	}
	if q := ev.Quote; q != nil {
		stated["quote"] = map[string]string{"currency": q.Currency, "amount": q.Amount.String(), "rate": q.Rate.String()}
	}
	d := map[string]any{"stated": stated}
	if len(v.Differences) > 0 {
		d["differs"] = v.Fields()
		d["differences"] = v.Differences
	}
	return d
}

// settlePayout posts a payout as the provider stated it: its hold posted
// (partially when the provider paid out less, the rest released), what it
// paid out beyond the hold owed by the customer (a receivable), and its fee.
// A payout whose money cannot be booked in the order's currency keeps its hold.
func (a *applier) settlePayout(ctx context.Context, note string) (Outcome, error) {
	if a.group != nil {
		return Applied, errOwnTransaction // a hold's resolution is refused or not by the ledger
	}
	r := a.row
	v := a.check(ctx)
	if !v.Bookable || v.Has(settle.FieldCurrency) {
		return Conflict, a.hold(ctx, v)
	}
	paid := v.Stated.Gross
	post := decimal.Min(paid, r.Amount)
	excess := paid.Sub(post)
	res := ledger.Resolution{Merchant: r.MerchantID, Key: fmt.Sprintf("order:%d:post", r.ID), HoldKey: r.HoldKey, Reference: orderRef(r.ID),
		Metadata: map[string]string{"provider_order_no": r.ProviderOrderNo, "provider_order_id": a.ev.ProviderOrderID}}
	if post.LessThan(r.Amount) {
		res.Amount = post
	}
	_, err := a.s.ledger.PostPendingTx(ctx, a.tx, res)
	if errors.Is(err, ledger.ErrHoldExpired) || errors.Is(err, ledger.ErrHoldNotPending) {
		// The hold is gone (expired while the provider was silent): post directly.
		_, err = a.s.ledger.TransferTx(ctx, a.tx, ledger.TransferRequest{
			Merchant: r.MerchantID, Key: settleKey(r.ID), Reference: orderRef(r.ID), Metadata: res.Metadata,
			Entries: []ledger.Entry{
				{Account: ledger.CustomerAccount(r.CustomerID, r.Currency), Side: ledger.Debit, Amount: post},
				{Account: ledger.ProviderAccount(a.acct.Name, r.Currency), Side: ledger.Credit, Amount: post},
			}})
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			return Conflict, a.conflict(ctx, discrepancies.StatusMismatch, fmt.Sprintf("the provider paid the payout after its hold ended, and the customer balance no longer covers %s %s", post, r.Currency))
		}
	}
	if err != nil {
		return Applied, fmt.Errorf("post payout hold: %w", err)
	}
	a.settled = []ledger.Entry{
		{Account: ledger.CustomerAccount(r.CustomerID, r.Currency), Side: ledger.Debit, Amount: post},
		{Account: ledger.ProviderAccount(a.acct.Name, r.Currency), Side: ledger.Credit, Amount: post},
	}
	if excess.IsPositive() {
		// Paid out beyond the hold: the customer received it, so the customer
		// owes it until an accountant decides.
		entries := []ledger.Entry{
			{Account: ledger.ReceivableAccount(r.CustomerID, r.Currency), Side: ledger.Debit, Amount: excess},
			{Account: ledger.ProviderAccount(a.acct.Name, r.Currency), Side: ledger.Credit, Amount: excess},
		}
		if _, err := a.s.ledger.TransferTx(ctx, a.tx, ledger.TransferRequest{Merchant: r.MerchantID, Key: excessKey(r.ID),
			Reference: orderRef(r.ID), Entries: entries}); err != nil {
			return Applied, fmt.Errorf("post payout excess: %w", err)
		}
		a.settled = append(a.settled, entries...)
	}
	fee := v.Stated.Fee
	if fee.IsPositive() {
		entries := []ledger.Entry{
			{Account: ledger.FeesAccount(a.acct.Name, r.Currency), Side: ledger.Debit, Amount: fee},
			{Account: ledger.ProviderAccount(a.acct.Name, r.Currency), Side: ledger.Credit, Amount: fee},
		}
		if _, err := a.s.ledger.TransferTx(ctx, a.tx, ledger.TransferRequest{
			Merchant: r.MerchantID, Key: fmt.Sprintf("order:%d:fee", r.ID), Reference: orderRef(r.ID), Entries: entries}); err != nil {
			return Applied, fmt.Errorf("post payout fee: %w", err)
		}
		a.settled = append(a.settled, entries...)
	}
	a.row.PaidAmount = providers.Nullable(paid)
	a.row.CreditedAmount = providers.Nullable(post)
	a.row.Fee = decimal.NullDecimal{}
	if v.Stated.FeeStated {
		a.row.Fee = providers.Nullable(fee)
	}
	a.row.SettledCurrency = r.Currency
	a.row.CreditedTo = ledger.CustomerAccount(r.CustomerID, r.Currency)
	a.setParts()
	if !v.Agrees() {
		sev := discrepancies.Low
		if excess.IsPositive() {
			sev = discrepancies.High
		}
		if err := a.open(ctx, discrepancies.Finding{
			Type: discrepancies.AmountMismatch, Severity: sev, Currency: r.Currency,
			Expected: providers.Nullable(r.Amount), Actual: providers.Nullable(paid), Delta: paid.Sub(r.Amount),
			Summary: fmt.Sprintf("payout %s: %s", r.ProviderOrderNo, v.Summary()),
			Detail:  statedDetail(v, a.ev), Suspense: excess,
		}); err != nil {
			return Applied, err
		}
	}
	_, err = a.save(ctx, StatusSucceeded, note, map[string]any{"paid": paid.String(), "fee": fee.String()})
	return Applied, err
}

// fail ends an order without money moving; a payout's hold is released.
func (a *applier) fail(ctx context.Context, to Status) error {
	if a.kind() == providers.KindPayout && a.row.HoldKey != "" {
		if a.group != nil {
			return errOwnTransaction
		}
		_, err := a.s.ledger.VoidPendingTx(ctx, a.tx, ledger.Resolution{Merchant: a.row.MerchantID,
			Key: fmt.Sprintf("order:%d:void", a.row.ID), HoldKey: a.row.HoldKey, Reference: orderRef(a.row.ID)})
		if err != nil && !errors.Is(err, ledger.ErrHoldExpired) && !errors.Is(err, ledger.ErrHoldNotPending) {
			return fmt.Errorf("void payout hold: %w", err)
		}
	}
	_, err := a.save(ctx, to, a.ev.Remark, nil)
	return err
}

// reverse posts the exact inverse of a succeeded order's settlement, fee
// included: the provider takes back what it credited for a deposit and returns
// what it debited for a payout, principal and fee (the providers' documents are
// silent on fees; the simulators, and so the provider balances reconciliation
// compares with, behave so). It opens a reversal discrepancy. When the
// customer's balance no longer covers a deposit's reversal, the shortfall is
// booked as a receivable from the customer.
func (a *applier) reverse(ctx context.Context) error {
	if a.group != nil {
		return errOwnTransaction // it reads the settlement and may find the customer short
	}
	r := a.row
	settlement := a.settled
	if settlement == nil {
		key := settleKey(r.ID)
		if a.kind() == providers.KindPayout {
			key = fmt.Sprintf("order:%d:post", r.ID)
		}
		d, err := a.s.ledger.GetTransferByKey(ctx, r.MerchantID, key)
		if errors.Is(err, ledger.ErrNotFound) && a.kind() == providers.KindPayout {
			d, err = a.s.ledger.GetTransferByKey(ctx, r.MerchantID, settleKey(r.ID))
		}
		if err != nil {
			return fmt.Errorf("find settlement to reverse: %w", err)
		}
		for _, e := range d.Entries {
			if e.Phase == ledger.PhasePosted {
				settlement = append(settlement, ledger.Entry{Account: e.Account, Side: e.Side, Amount: e.Amount})
			}
		}
		// The fee booked on its own (a payout's, or one completed later) and what
		// a payout paid beyond its hold are part of what the provider gives back.
		for _, key := range []string{fmt.Sprintf("order:%d:fee", r.ID), excessKey(r.ID)} {
			t, err := a.s.ledger.GetTransferByKey(ctx, r.MerchantID, key)
			if errors.Is(err, ledger.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("find %s to reverse: %w", key, err)
			}
			for _, e := range t.Entries {
				settlement = append(settlement, ledger.Entry{Account: e.Account, Side: e.Side, Amount: e.Amount})
			}
		}
	}
	inverse := make([]ledger.Entry, len(settlement))
	for i, e := range settlement {
		inverse[i] = ledger.Entry{Account: e.Account, Side: e.Side.Opposite(), Amount: e.Amount}
	}
	req := ledger.TransferRequest{Merchant: r.MerchantID, Key: fmt.Sprintf("order:%d:reverse", r.ID), Entries: inverse,
		Reference: orderRef(r.ID), Metadata: map[string]string{"reverses": settleKey(r.ID)}}
	_, err := a.s.ledger.TransferTx(ctx, a.tx, req)
	shortfall := decimal.Zero
	if errors.Is(err, ledger.ErrInsufficientFunds) {
		// The customer (or suspense) already spent part of it: take what is left
		// and book the rest as owed by the customer.
		var entries []ledger.Entry
		for _, e := range req.Entries {
			if e.Side != ledger.Debit || e.Account != r.CreditedTo {
				entries = append(entries, e)
				continue
			}
			avail := decimal.Zero
			if b, berr := a.s.ledger.Balance(ctx, r.MerchantID, e.Account); berr == nil && b.Available.IsPositive() {
				avail = decimal.Min(b.Available, e.Amount)
			}
			if avail.IsPositive() {
				entries = append(entries, ledger.Entry{Account: e.Account, Side: ledger.Debit, Amount: avail})
			}
			shortfall = e.Amount.Sub(avail)
			entries = append(entries, ledger.Entry{Account: receivableAccount(r.CustomerID, ledgerCurrency(e.Account)), Side: ledger.Debit, Amount: shortfall})
		}
		req.Entries = entries
		req.Metadata["shortfall"] = shortfall.String()
		_, err = a.s.ledger.TransferTx(ctx, a.tx, req)
	}
	if err != nil {
		return fmt.Errorf("post reversal: %w", err)
	}
	if r.CreditedTo == ledger.SuspenseAccount(ledgerCurrency(r.CreditedTo)) {
		// The money parked for this order left with the reversal.
		if err := a.s.disc.ClearSuspenseTx(ctx, a.tx, r.ID); err != nil {
			return err
		}
	}
	amount, cur := r.Amount, r.Currency
	if r.PaidAmount.Valid {
		amount, cur = r.PaidAmount.Decimal, r.SettledCurrency
	}
	summary := fmt.Sprintf("%s %s reversed by the provider after success (%s %s)", r.Kind, r.ProviderOrderNo, amount, cur)
	if shortfall.IsPositive() {
		// What is owed is in the currency of the account that was short.
		cur = ledgerCurrency(r.CreditedTo)
		summary += fmt.Sprintf("; the customer owes %s it had already spent", shortfall)
	}
	if err := a.open(ctx, discrepancies.Finding{
		Type: discrepancies.Reversal, Currency: cur, Expected: providers.Nullable(amount), Actual: providers.Nullable(decimal.Zero),
		Delta: amount.Neg(), Summary: summary, Suspense: shortfall,
	}); err != nil {
		return err
	}
	_, err = a.save(ctx, StatusReversed, a.ev.Remark, nil)
	return err
}

// conflict opens a discrepancy for an event that contradicts the order, and
// records it on the timeline without moving the order.
func (a *applier) conflict(ctx context.Context, t discrepancies.Type, summary string) error {
	cur := a.row.Currency
	paid, _ := settle.AmountIn(a.ev, cur)
	f := discrepancies.Finding{Type: t, Currency: cur, Summary: fmt.Sprintf("order %s: %s", a.row.ProviderOrderNo, summary),
		Detail: map[string]any{"event_status": a.ev.Status, "provider_status": a.ev.ProviderStatus}}
	if a.row.PaidAmount.Valid {
		f.Expected = a.row.PaidAmount
		f.Actual = providers.Nullable(paid)
		f.Delta = paid.Sub(a.row.PaidAmount.Decimal)
	}
	if err := a.open(ctx, f); err != nil {
		return err
	}
	_, err := a.record(ctx, a.row.Status, map[string]any{"conflict": summary})
	return err
}

// referenceConflict opens a discrepancy for an event whose order number names
// this order while its provider order id names another (or another id than
// this order's): nothing moves on either order.
func (a *applier) referenceConflict(ctx context.Context) error {
	summary := fmt.Sprintf("the provider's event names order %s and provider order id %s, which is not this order's (%s): nothing applied",
		a.ev.OrderNo, a.ev.ProviderOrderID, a.row.ProviderOrderID)
	return a.referenceConflictWith(ctx, summary)
}

// referenceConflictWith opens the reference_conflict discrepancy summary
// describes and records it on the order's timeline.
func (a *applier) referenceConflictWith(ctx context.Context, summary string) error {
	if a.group != nil {
		return errOwnTransaction
	}
	m := settle.StatedMoney(a.ev, a.row.PayCurrency)
	f := discrepancies.Finding{Type: discrepancies.ReferenceConflict, MerchantID: a.row.MerchantID, ProviderAccountID: a.acct.ID,
		OrderID: a.row.ID, Currency: m.Currency, Summary: fmt.Sprintf("order %s: %s", a.row.ProviderOrderNo, summary),
		Fingerprint: discrepancies.Fingerprint(discrepancies.ReferenceConflict, a.acct.Name, a.ev.OrderNo, a.ev.ProviderOrderID),
		Detail: map[string]any{"source": a.src, "order_no": a.ev.OrderNo, "provider_order_id": a.ev.ProviderOrderID,
			"order_provider_order_id": a.row.ProviderOrderID, "event_status": a.ev.Status, "provider_status": a.ev.ProviderStatus}}
	if m.GrossStated {
		f.Actual, f.Delta = providers.Nullable(m.Gross), m.Gross
	}
	for k, v := range a.ref {
		f.Detail[k] = v
	}
	if _, _, err := a.s.disc.RecordTx(ctx, a.tx, f); err != nil {
		return err
	}
	_, err := a.record(ctx, a.row.Status, map[string]any{"conflict": summary})
	return err
}

// contradicted flags a deposit the provider first said failed (or expired)
// and now says succeeded: the late payment was applied, the merchant's
// webhooks said both, and an accountant sees the contradiction.
func (a *applier) contradicted(ctx context.Context, was, now Status) error {
	return a.open(ctx, discrepancies.Finding{Type: discrepancies.StatusMismatch, Severity: discrepancies.Medium, Currency: a.row.SettledCurrency,
		Actual: a.row.PaidAmount, Delta: a.row.PaidAmount.Decimal,
		Summary: fmt.Sprintf("order %s: the provider said %s, then %s: applied as a late payment", a.row.ProviderOrderNo, was, now),
		Detail:  map[string]any{"was": string(was), "now": string(now), "provider_status": a.ev.ProviderStatus}})
}

// dispute opens a discrepancy for a final status the provider contradicts
// and that tally does not follow, and tells the merchant (an order.disputed
// webhook) that the provider now says otherwise.
func (a *applier) dispute(ctx context.Context, t discrepancies.Type, cur, said Status, summary string) error {
	if a.group != nil {
		return errOwnTransaction
	}
	if err := a.conflict(ctx, t, summary); err != nil {
		return err
	}
	_, err := a.event(ctx, string(cur), string(cur), a.detail(map[string]any{"disputed": string(said), "dispute": summary}), true)
	return err
}

// open records a discrepancy about this order.
func (a *applier) open(ctx context.Context, f discrepancies.Finding) error {
	if a.group != nil {
		return errOwnTransaction
	}
	f.MerchantID = a.row.MerchantID
	f.ProviderAccountID = a.acct.ID
	f.OrderID = a.row.ID
	f.Fingerprint = discrepancies.Fingerprint(f.Type, a.acct.Name, a.row.ProviderOrderNo)
	if f.Detail == nil {
		f.Detail = map[string]any{}
	}
	f.Detail["source"] = a.src
	for k, v := range a.ref {
		f.Detail[k] = v
	}
	_, _, err := a.s.disc.RecordTx(ctx, a.tx, f)
	return err
}

// save stores the order's new status and amounts and a timeline event.
func (a *applier) save(ctx context.Context, to Status, reason string, detail map[string]any) (int64, error) {
	from := a.row.Status
	var final *time.Time
	if to.Final() {
		now := a.s.opts.Now()
		final = &now
	} else {
		final = a.row.FinalAt
	}
	if reason == "" {
		reason = a.row.StatusReason
	}
	if err := a.update(ctx, ordersdb.UpdateOrderStateParams{
		ID: a.row.ID, Status: string(to), StatusReason: reason, ProviderOrderID: a.row.ProviderOrderID,
		PaidAmount: a.row.PaidAmount, CreditedAmount: a.row.CreditedAmount, Fee: a.row.Fee,
		SettledCurrency: a.row.SettledCurrency, FxRate: a.row.FxRate, TxHash: a.row.TxHash,
		CreditedTo: a.row.CreditedTo, Parts: a.row.Parts, FinalAt: final,
	}); err != nil {
		return 0, err
	}
	return a.event(ctx, from, string(to), a.detail(detail), from != string(to))
}

// saveIdentity stores identifiers a repeated event taught us, without an event.
func (a *applier) saveIdentity(ctx context.Context) error {
	return a.update(ctx, ordersdb.UpdateOrderStateParams{
		ID: a.row.ID, Status: a.row.Status, StatusReason: a.row.StatusReason, ProviderOrderID: a.row.ProviderOrderID,
		PaidAmount: a.row.PaidAmount, CreditedAmount: a.row.CreditedAmount, Fee: a.row.Fee,
		SettledCurrency: a.row.SettledCurrency, FxRate: a.row.FxRate, TxHash: a.row.TxHash,
		CreditedTo: a.row.CreditedTo, Parts: a.row.Parts, FinalAt: a.row.FinalAt,
	})
}

// record writes a timeline event without changing the order.
func (a *applier) record(ctx context.Context, status string, detail map[string]any) (int64, error) {
	return a.event(ctx, a.row.Status, status, a.detail(detail), false)
}

// transfer posts req, or defers it to the group.
func (a *applier) transfer(ctx context.Context, req ledger.TransferRequest) error {
	if a.group != nil {
		a.group.transfers = append(a.group.transfers, req)
		return nil
	}
	_, err := a.s.ledger.TransferTx(ctx, a.tx, req)
	return err
}

// update stores the order's new state (in a group: in a.row, written at the
// flush) and keeps a.row as stored.
func (a *applier) update(ctx context.Context, p ordersdb.UpdateOrderStateParams) error {
	if a.group != nil {
		r := &a.row
		r.Status, r.StatusReason, r.ProviderOrderID = p.Status, p.StatusReason, p.ProviderOrderID
		r.PaidAmount, r.CreditedAmount, r.Fee = p.PaidAmount, p.CreditedAmount, p.Fee
		r.SettledCurrency, r.FxRate, r.TxHash = p.SettledCurrency, p.FxRate, p.TxHash
		r.CreditedTo, r.Parts, r.FinalAt = p.CreditedTo, p.Parts, p.FinalAt
		r.UpdatedAt = a.s.opts.Now()
		a.group.update = &p
		return nil
	}
	row, err := a.q.UpdateOrderState(ctx, p)
	if err != nil {
		return fmt.Errorf("update order: %w", err)
	}
	a.row = row
	return nil
}

// event writes a timeline event of the order (in a group: at the flush, with
// id 0 here); notify queues the merchant's webhook for it.
func (a *applier) event(ctx context.Context, from, to string, detail map[string]any, notify bool) (int64, error) {
	if a.group != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			return 0, fmt.Errorf("order event detail: %w", err)
		}
		a.group.events = append(a.group.events, deferredEvent{notify: notify, params: ordersdb.InsertOrderEventsParams{
			OrderID: a.row.ID, MerchantID: a.row.MerchantID, Source: a.src, FromStatus: from, ToStatus: to, Detail: b}})
		return 0, nil
	}
	id, err := a.s.recordEvent(ctx, a.q, a.row, a.src, from, to, detail)
	if err != nil {
		return 0, err
	}
	if notify {
		a.events = append(a.events, id)
	}
	return id, nil
}

func (a *applier) detail(extra map[string]any) map[string]any {
	d := map[string]any{"provider_status": a.ev.ProviderStatus}
	for k, v := range a.ref {
		d[k] = v
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// fillIdentity copies identifiers the event carries that the order lacks.
func (a *applier) fillIdentity() {
	if a.row.ProviderOrderID == "" && a.ev.ProviderOrderID != "" {
		a.row.ProviderOrderID = a.ev.ProviderOrderID
	}
	if a.row.TxHash == "" && a.ev.TxHash != "" {
		a.row.TxHash = a.ev.TxHash
	}
}

func (a *applier) setParts() {
	if len(a.ev.Parts) > 0 {
		a.row.Parts, _ = json.Marshal(a.ev.Parts)
	}
}

func (a *applier) kind() providers.OrderKind { return providers.OrderKind(a.row.Kind) }

func partsOf(r ordersdb.Order) []providers.Part {
	var p []providers.Part
	if len(r.Parts) > 0 {
		_ = json.Unmarshal(r.Parts, &p)
	}
	return p
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

func settleKey(id int64) string { return fmt.Sprintf("order:%d:settle", id) }

// excessKey is the transfer of what a payout paid out beyond its hold.
func excessKey(id int64) string { return fmt.Sprintf("order:%d:excess", id) }

// receivableAccount is what a customer owes the merchant after a reversal their
// balance did not cover.
func receivableAccount(customer, cur string) string { return ledger.ReceivableAccount(customer, cur) }

func ledgerCurrency(code string) string {
	for i := len(code) - 1; i >= 0; i-- {
		if code[i] == ':' {
			return code[i+1:]
		}
	}
	return code
}
