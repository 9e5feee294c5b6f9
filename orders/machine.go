package orders

// The order state machine, a pure function: Decide takes an order, a
// provider's event about it and what the decision needs to know, and returns
// what to do (the order's new state, the ledger postings, the discrepancies,
// the timeline events and the merchant's webhooks, the outcome) without
// reading or writing anything. The executors apply its decisions: applyTx
// alone in the caller's transaction (apply.go), Group many at once with the
// ledger batch last (group.go). This file imports no database package and
// calls nothing that reads one but Facts.Books (settle's view of the
// ledger's currencies and bounds).

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

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

// Facts are what the state machine decides on: an order, a provider's event
// about it, and what the decision needs to know that neither of them states.
// The last four are answers the machine asked for (Decision.NeedsSettlement)
// or that the ledger gave when it refused a posting (Posting.Fallback): the
// executor sets them and asks again.
type Facts struct {
	// Order is the order as stored, locked by the caller.
	Order Order
	// Event is the provider's statement about the order.
	Event providers.Event
	// Source names where the event comes from, on the order's timeline and
	// in its discrepancies: "callback", "query", "submit", "expiry", "recon"
	// or "statement". A callback's references are checked for another order;
	// the remark of an answer to tally's own query is for staff only; submit
	// and expiry are tally's own events.
	Source string
	// Ref is what triggered the application (a callback id, a run): copied
	// into the detail of every timeline event and discrepancy.
	Ref map[string]any
	// Account is the order's provider account: its id and name (ledger
	// accounts, fingerprints), amount tolerance and amount policy.
	Account merchants.ProviderAccount
	// Caps are the provider's capabilities (ReversedAsFailed).
	Caps providers.Capabilities
	// Books is what the ledger can book (currency scales, the account's
	// bounds), for settle.Check.
	Books settle.Books
	// Now is the time of the decision: an order that ends ends now.
	Now time.Time
	// IDOwner is the provider order number of another order that already
	// carries the event's provider order id ("" when none does). Only a
	// callback's is looked up: a callback is found by its order number.
	IDOwner string

	// Settlement is what the order's settlement posted (its posted entries,
	// with its fee and what a payout paid beyond its hold): a reversal of a
	// succeeded order posts its exact inverse. Nil until the machine asks.
	Settlement []ledger.Entry
	// HoldGone: the ledger refused to post the payout's hold because it is
	// no longer pending (expired while the provider was silent).
	HoldGone bool
	// Uncovered: the ledger refused the payout posted without its hold: the
	// customer's balance no longer covers it.
	Uncovered bool
	// Available is the available balance of the account a reversal takes
	// the money back from (Posting.Short), read after the ledger refused
	// the whole reversal for insufficient funds.
	Available decimal.NullDecimal
}

// Decision is what the state machine decided for one event: the executor
// applies it in one transaction, in this order: the submission recorded, the
// postings, the findings, the order's state, the timeline events, then the
// merchant's webhooks for the events that notify.
type Decision struct {
	// Outcome is what the event did to the order.
	Outcome Outcome
	// NeedsSettlement: the event reverses the succeeded order, and the
	// machine needs Facts.Settlement to post the inverse. Nothing else is
	// decided: load it and ask again.
	NeedsSettlement bool
	// Submitted: the provider speaks of an order whose submission was in
	// doubt (ambiguous or unresolved), so it has it: its submission is
	// recorded as submitted before anything else.
	Submitted bool
	// Order is the order as the decision leaves it (its status, reason,
	// identifiers, amounts, parts, final time).
	Order Order
	// Save: Order's state is written. Otherwise nothing of the order is
	// (a stale or conflicting event's identifiers stay unwritten).
	Save bool
	// Postings are the ledger writes, in order.
	Postings []Posting
	// Findings are the discrepancies opened (or seen again), in order.
	Findings []discrepancies.Finding
	// ClearSuspense: a reversal took back the money the order had parked in
	// suspense. The executor clears the suspense of the order's open
	// findings before it records the last finding (the reversal's).
	ClearSuspense bool
	// Events are the order's timeline events, in order.
	Events []OrderEvent
}

// OrderEvent is one timeline event a decision writes.
type OrderEvent struct {
	From, To Status
	Detail   map[string]any
	// Notify: the merchant is sent a webhook for it (a status change, a dispute).
	Notify bool
	// Staff: a staff-only entry (the provider's own words), never shown to
	// the merchant.
	Staff bool
}

// Posting is one ledger write of a decision: a transfer, a hold posted or a
// hold voided (exactly one is set).
type Posting struct {
	Transfer *ledger.TransferRequest
	Post     *ledger.Resolution
	Void     *ledger.Resolution
	// Fallback says what a refusal by the ledger means.
	Fallback Fallback
	// Short is the account whose available balance a FallbackShortfall
	// refusal asks for.
	Short string
}

// Key is the posting's idempotency key.
func (p Posting) Key() string {
	switch {
	case p.Transfer != nil:
		return p.Transfer.Key
	case p.Post != nil:
		return p.Post.Key
	case p.Void != nil:
		return p.Void.Key
	}
	return ""
}

// Fallback is what the executor does when the ledger refuses a posting for a
// reason the machine foresaw. A refusal the machine did not foresee is an
// error. After learning the answer the executor asks the machine again and
// goes on from the refused posting: what an answer changes is that posting
// and what follows it, never what came before.
type Fallback string

const (
	// NoFallback: any refusal is an error.
	NoFallback Fallback = ""
	// FallbackGoneHold: a hold already gone (expired, or resolved by an
	// earlier event) needs no void: the refusal is ignored.
	FallbackGoneHold Fallback = "gone_hold"
	// FallbackHoldGone: a hold post refused because the hold expired or was
	// resolved: ask again with Facts.HoldGone (the payout is posted directly).
	FallbackHoldGone Fallback = "hold_gone"
	// FallbackUncovered: a direct payout post refused for insufficient funds:
	// ask again with Facts.Uncovered (a status_mismatch, nothing posted).
	FallbackUncovered Fallback = "uncovered"
	// FallbackShortfall: a reversal refused for insufficient funds: read the
	// available balance of Posting.Short and ask again with Facts.Available
	// (what is left is taken, the rest is owed by the customer).
	FallbackShortfall Fallback = "shortfall"
)

// Deferrable reports whether a group application may take the decision with
// its deferred writes (order states, timeline events and webhooks in a few
// round trips, transfers in the ledger batch at the end): nothing in it needs
// the ledger's answer at once or is written outside those batches. A
// discrepancy, a hold, a reversal, a recorded submission or a staff entry is
// applied alone.
func (d Decision) Deferrable() bool {
	if d.NeedsSettlement || d.Submitted || d.ClearSuspense || len(d.Findings) > 0 {
		return false
	}
	for _, p := range d.Postings {
		if p.Transfer == nil || p.Fallback != NoFallback {
			return false
		}
	}
	for _, e := range d.Events {
		if e.Staff {
			return false
		}
	}
	return true
}

// Decide is the order state machine: what a provider's event does to an
// order. Orders only move forward (created → pending → processing →
// succeeded | failed | expired → reversed): a stale event is recorded on the
// timeline and ignored, a repeated one changes nothing (new parts of a
// multi-part payout excepted), a contradicting one opens a
// duplicate_conflict or status_mismatch discrepancy (a deposit that failed
// and is then paid is applied as a late payment). A success is posted under
// package settle's rule (as stated, to suspense with a discrepancy, or held);
// a failure voids a payout's hold; a reversal posts the exact inverse of the
// settlement. An event whose references name another order moves nothing
// (reference_conflict). Decide reads nothing but its Facts (and Books); its
// error wraps ErrUnapplicable for an event no order can take.
//
//	d, err := orders.Decide(orders.Facts{Order: o, Event: ev, Source: "callback", Account: acct, Books: books, Now: now})
func Decide(f Facts) (Decision, error) {
	m := &machine{f: f, o: f.Order, ev: f.Event}
	out, err := m.decide()
	if err != nil {
		return Decision{}, err
	}
	if m.needSettlement {
		return Decision{NeedsSettlement: true, Order: f.Order}, nil
	}
	m.d.Outcome, m.d.Order = out, m.o
	return m.d, nil
}

// machine is one decision in the making.
type machine struct {
	f  Facts
	o  Order           // the order as decided so far
	ev providers.Event // the event (without a remark that is for staff)
	d  Decision
	// settled holds the entries of a settlement decided in this same
	// decision, so that a reversal that overtook its success inverts them.
	settled        []ledger.Entry
	needSettlement bool
}

func (m *machine) decide() (Outcome, error) {
	if m.f.Source == "callback" {
		if clash := m.clash(); clash != "" {
			m.referenceConflict(clash)
			return Conflict, nil
		}
	}
	if inDoubt(m.o.Status, m.o.SubmitState) && m.f.Source != "submit" && m.f.Source != "expiry" {
		// The provider speaks of an order whose submission was in doubt (its
		// callback, a query, its statement): it has the order.
		m.d.Submitted = true
		m.o.SubmitState, m.o.LastError, m.o.LastErrorCode = submitSubmitted, "", ""
	}
	// A remark in the provider's answer to one of tally's own calls (a query:
	// sync, submit's probe, a reconciliation run) is whatever the base URL
	// answered: staff read it, the merchant never does (it would become the
	// order's status reason). A callback's (signed, posted by the provider)
	// and tally's own reasons stay.
	var remark string
	if m.ev.Remark != "" && m.ev.Verified && m.f.Source != "callback" && m.f.Source != "statement" {
		remark, m.ev.Remark = m.ev.Remark, ""
	}
	out, err := m.apply()
	if err != nil {
		return out, err
	}
	if remark != "" {
		m.d.Events = append(m.d.Events, OrderEvent{From: m.o.Status, To: m.o.Status, Staff: true,
			Detail: map[string]any{"provider_remark": providers.Snippet([]byte(remark)), "provider_status": m.ev.ProviderStatus}})
	}
	return out, nil
}

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

// target is the status an event asks for: a reversed flag on a success is a
// reversal, and so is a failure of a succeeded order at a provider whose only
// way to say reversed it is (Capabilities.ReversedAsFailed).
func target(ev providers.Event, cur Status, caps providers.Capabilities) Status {
	if ev.Reversed && (ev.Status == providers.StatusSucceeded || ev.Status == providers.StatusReversed) {
		return StatusReversed
	}
	if caps.ReversedAsFailed && ev.Status == providers.StatusFailed && cur == StatusSucceeded {
		return StatusReversed
	}
	return Status(ev.Status)
}

func (m *machine) apply() (Outcome, error) {
	cur, tgt := m.o.Status, target(m.ev, m.o.Status, m.f.Caps)
	if rank(tgt) < 0 {
		return Stale, fmt.Errorf("unknown event status %q: %w", m.ev.Status, ErrUnapplicable)
	}
	if m.ev.ProviderOrderID != "" && m.o.ProviderOrderID != "" && m.ev.ProviderOrderID != m.o.ProviderOrderID {
		// The event's order number names this order, its provider id another:
		// nothing moves on either until an accountant decides.
		m.referenceConflict(fmt.Sprintf("the provider's event names order %s and provider order id %s, which is not this order's (%s): nothing applied",
			m.ev.OrderNo, m.ev.ProviderOrderID, m.o.ProviderOrderID))
		return Conflict, nil
	}
	m.fillIdentity()
	switch {
	case tgt == cur:
		return m.same(), nil
	case rank(tgt) < rank(cur):
		m.record(cur, map[string]any{"ignored": "stale " + string(tgt) + " event after " + string(cur)})
		return Stale, nil
	case rank(tgt) == rank(cur):
		// Two different final statuses. A deposit that expired or failed and is
		// then paid is a late payment: the money arrived, so it is applied, and
		// the contradiction is flagged all the same.
		if m.o.Kind == providers.KindDeposit && tgt == StatusSucceeded {
			if out := m.succeed("late payment after " + string(cur)); out != Applied {
				return out, nil
			}
			m.contradicted(cur, tgt)
			return Applied, nil
		}
		m.dispute(cur, tgt, fmt.Sprintf("provider says %s, order is %s", tgt, cur))
		return Conflict, nil
	}
	switch tgt {
	case StatusPending, StatusProcessing:
		m.setParts()
		m.save(tgt, m.ev.Remark, nil)
		return Applied, nil
	case StatusSucceeded:
		return m.succeed(""), nil
	case StatusFailed, StatusExpired:
		m.fail(tgt)
		return Applied, nil
	case StatusReversed:
		if cur != StatusSucceeded {
			// The reversal overtook the success: settle first, then reverse.
			if out := m.succeed("implied by a reversal"); out != Applied {
				return out, nil
			}
		}
		m.reverse()
		return Applied, nil
	}
	return Stale, nil
}

// clash says why a callback's references name another order than the one it
// was found by: its order number is not the order's (the order was found by
// the provider's id), or its provider order id belongs to another order
// (Facts.IDOwner). It is "" when they agree.
func (m *machine) clash() string {
	ev, o := m.ev, m.o
	if ev.OrderNo != "" && o.ProviderOrderNo != ev.OrderNo {
		return fmt.Sprintf("the provider's event names order %s, its provider order id %s names order %s: nothing applied",
			ev.OrderNo, ev.ProviderOrderID, o.ProviderOrderNo)
	}
	if ev.ProviderOrderID == "" || o.ProviderOrderID != "" || m.f.IDOwner == "" {
		return "" // a provider id that differs from the order's is apply's to refuse
	}
	return fmt.Sprintf("the provider's event names order %s, its provider order id %s belongs to order %s: nothing applied",
		ev.OrderNo, ev.ProviderOrderID, m.f.IDOwner)
}

// same handles an event for the status the order already has: a repeat, new
// parts of a multi-part settlement, or a conflicting duplicate.
func (m *machine) same() Outcome {
	st := m.o.Status
	if len(m.ev.Parts) > len(m.o.Parts) {
		m.setParts()
		m.save(st, "", map[string]any{"parts": len(m.ev.Parts)})
		return Applied
	}
	if (st == StatusSucceeded || st == StatusReversed) && m.o.PaidAmount.Valid {
		if paid, ok := settle.AmountIn(m.ev, m.o.SettledCurrency); ok && !paid.Equal(m.o.PaidAmount.Decimal) {
			m.conflict(discrepancies.DuplicateConflict,
				fmt.Sprintf("a second %s callback says %s %s was paid, the first said %s", st, paid, m.o.SettledCurrency, m.o.PaidAmount.Decimal))
			return Conflict
		}
	}
	// Identifiers a repeated event taught are stored, without an event.
	m.d.Save = true
	return Duplicate
}

// succeed settles the order under the rule of package settle: the money as
// the provider stated it, to the customer when it agrees with the order, else
// to suspense (or held) with a discrepancy. It is Applied when money moved and
// the order succeeded, Conflict when the money was left held.
func (m *machine) succeed(note string) Outcome {
	if m.o.Kind == providers.KindPayout {
		return m.settlePayout(note)
	}
	return m.settleDeposit(note)
}

// check applies settle's rule to the event.
func (m *machine) check() settle.Verdict {
	t := settle.Terms{Kind: m.o.Kind, Amount: m.o.Amount, Currency: m.o.Currency, PayCurrency: m.o.PayCurrency,
		Tolerance: m.f.Account.AmountTolerance}
	return settle.Check(t, m.ev, m.f.Books)
}

// settleDeposit posts a deposit as the provider stated it: the provider
// clearing account up by the gross amount, the customer (or suspense)
// credited, the fee from clearing to fees. A cross-currency deposit balances
// each currency through the FX accounts; money in a currency the order does
// not settle in (or whose value in the order's currency nothing states) goes
// to suspense in its own currency. Money that cannot be booked as stated is
// left held: only the discrepancy records it.
func (m *machine) settleDeposit(note string) Outcome {
	r := m.o
	v := m.check()
	if !v.Bookable {
		m.hold(v)
		return Conflict
	}
	ordCur, payCur := r.Currency, v.Stated.Currency
	inPay, fee := v.Stated.Gross, v.Stated.Fee
	// Foreign: booked in its own currency, with no rate to the order's.
	foreign := v.Has(settle.FieldCurrency) || (payCur != ordCur && !v.Value.IsPositive())
	suspense := r.Origin == "provider" || foreign || (!v.Agrees() && !(m.f.Account.AmountPolicy == merchants.CreditReceived && v.OnlyAmounts()))
	inOrder, creditCur := v.Value, ordCur
	if foreign {
		inOrder, creditCur = inPay, payCur
	}
	creditTo := ledger.CustomerAccount(r.CustomerID, creditCur)
	if suspense {
		creditTo = ledger.SuspenseAccount(creditCur)
	}
	entries := []ledger.Entry{{Account: ledger.ProviderAccount(m.f.Account.Name, payCur), Side: ledger.Debit, Amount: inPay}}
	meta := map[string]string{"provider_order_no": r.ProviderOrderNo, "provider_order_id": m.ev.ProviderOrderID}
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
			ledger.Entry{Account: ledger.FeesAccount(m.f.Account.Name, payCur), Side: ledger.Debit, Amount: fee},
			ledger.Entry{Account: ledger.ProviderAccount(m.f.Account.Name, payCur), Side: ledger.Credit, Amount: fee})
	}
	m.post(Posting{Transfer: &ledger.TransferRequest{
		Merchant: r.MerchantID, Key: settleKey(r.ID), Entries: entries, Reference: orderRef(r.ID), Metadata: meta,
	}})
	m.settled = entries
	m.o.PaidAmount = providers.Nullable(inPay)
	m.o.CreditedAmount, m.o.Fee = decimal.NullDecimal{}, decimal.NullDecimal{}
	if v.Stated.FeeStated {
		// A fee the provider did not state stays unknown (NULL) until a query or
		// its statement does; reconciliation then books it.
		m.o.CreditedAmount = providers.Nullable(inPay.Sub(fee))
		m.o.Fee = providers.Nullable(fee)
	}
	m.o.SettledCurrency = payCur
	m.o.FXRate = rate
	m.o.CreditedTo = creditTo

	if r.Origin == "provider" {
		// The money of an order tally does not know is parked now: say how much.
		m.open(discrepancies.Finding{Type: discrepancies.UnknownOrder, Currency: creditCur,
			Actual: providers.Nullable(inOrder), Delta: inOrder, Suspense: inOrder,
			Summary: fmt.Sprintf("%s reported paid order %s (%s %s) that tally does not know: held in suspense", m.f.Account.Name, r.ProviderOrderNo, inOrder, creditCur),
			Detail:  statedDetail(v, m.ev)})
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
			Detail: statedDetail(v, m.ev),
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
		m.open(f)
	}
	if note == "" && !v.Agrees() {
		note = "amount differs from order"
		if foreign {
			note = "currency differs from order"
		}
	}
	m.save(StatusSucceeded, note, map[string]any{"paid": inPay.String(), "currency": payCur, "fee": fee.String(), "credited_to": creditTo})
	return Applied
}

// hold records a success whose money cannot be booked as the provider stated
// it (a currency the ledger cannot book or the order does not settle in for a
// payout, an amount finer than the currency's scale or above the account's
// bound, no amount at all): nothing is posted, the order keeps its status, and
// a discrepancy carries the provider's own figures for an accountant.
func (m *machine) hold(v settle.Verdict) {
	r := m.o
	f := discrepancies.Finding{Type: discrepancies.AmountMismatch, Severity: discrepancies.High, Currency: v.Stated.Currency,
		Summary: fmt.Sprintf("%s %s: the provider reports success, nothing was posted: %s", r.Kind, r.ProviderOrderNo, v.Summary()),
		Detail:  statedDetail(v, m.ev)}
	if v.Stated.GrossStated {
		f.Actual, f.Delta = providers.Nullable(v.Stated.Gross), v.Stated.Gross
	}
	if v.Stated.Currency == r.Currency {
		f.Expected = providers.Nullable(r.Amount)
		f.Delta = f.Delta.Sub(r.Amount)
	}
	m.open(f)
	m.record(r.Status, map[string]any{"held": v.Summary(), "differs": v.Fields()})
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
// A payout whose money cannot be booked in the order's currency keeps its
// hold. A hold that is gone (Facts.HoldGone: expired while the provider was
// silent) is replaced by a direct post from the customer's balance; one the
// balance no longer covers (Facts.Uncovered) posts nothing and opens a
// status_mismatch.
func (m *machine) settlePayout(note string) Outcome {
	r := m.o
	v := m.check()
	if !v.Bookable || v.Has(settle.FieldCurrency) {
		m.hold(v)
		return Conflict
	}
	paid := v.Stated.Gross
	post := decimal.Min(paid, r.Amount)
	excess := paid.Sub(post)
	meta := map[string]string{"provider_order_no": r.ProviderOrderNo, "provider_order_id": m.ev.ProviderOrderID}
	customer, provider := ledger.CustomerAccount(r.CustomerID, r.Currency), ledger.ProviderAccount(m.f.Account.Name, r.Currency)
	switch {
	case !m.f.HoldGone:
		res := ledger.Resolution{Merchant: r.MerchantID, Key: fmt.Sprintf("order:%d:post", r.ID), HoldKey: r.HoldKey, Reference: orderRef(r.ID), Metadata: meta}
		if post.LessThan(r.Amount) {
			res.Amount = post
		}
		m.post(Posting{Post: &res, Fallback: FallbackHoldGone})
	case !m.f.Uncovered:
		// The hold is gone (expired while the provider was silent): post directly.
		m.post(Posting{Fallback: FallbackUncovered, Transfer: &ledger.TransferRequest{
			Merchant: r.MerchantID, Key: settleKey(r.ID), Reference: orderRef(r.ID), Metadata: meta,
			Entries: []ledger.Entry{
				{Account: customer, Side: ledger.Debit, Amount: post},
				{Account: provider, Side: ledger.Credit, Amount: post},
			}}})
	default:
		m.conflict(discrepancies.StatusMismatch, fmt.Sprintf("the provider paid the payout after its hold ended, and the customer balance no longer covers %s %s", post, r.Currency))
		return Conflict
	}
	m.settled = []ledger.Entry{
		{Account: customer, Side: ledger.Debit, Amount: post},
		{Account: provider, Side: ledger.Credit, Amount: post},
	}
	if excess.IsPositive() {
		// Paid out beyond the hold: the customer received it, so the customer
		// owes it until an accountant decides.
		entries := []ledger.Entry{
			{Account: ledger.ReceivableAccount(r.CustomerID, r.Currency), Side: ledger.Debit, Amount: excess},
			{Account: provider, Side: ledger.Credit, Amount: excess},
		}
		m.post(Posting{Transfer: &ledger.TransferRequest{Merchant: r.MerchantID, Key: excessKey(r.ID), Reference: orderRef(r.ID), Entries: entries}})
		m.settled = append(m.settled, entries...)
	}
	fee := v.Stated.Fee
	if fee.IsPositive() {
		entries := []ledger.Entry{
			{Account: ledger.FeesAccount(m.f.Account.Name, r.Currency), Side: ledger.Debit, Amount: fee},
			{Account: provider, Side: ledger.Credit, Amount: fee},
		}
		m.post(Posting{Transfer: &ledger.TransferRequest{Merchant: r.MerchantID, Key: fmt.Sprintf("order:%d:fee", r.ID), Reference: orderRef(r.ID), Entries: entries}})
		m.settled = append(m.settled, entries...)
	}
	m.o.PaidAmount = providers.Nullable(paid)
	m.o.CreditedAmount = providers.Nullable(post)
	m.o.Fee = decimal.NullDecimal{}
	if v.Stated.FeeStated {
		m.o.Fee = providers.Nullable(fee)
	}
	m.o.SettledCurrency = r.Currency
	m.o.CreditedTo = customer
	m.setParts()
	if !v.Agrees() {
		sev := discrepancies.Low
		if excess.IsPositive() {
			sev = discrepancies.High
		}
		m.open(discrepancies.Finding{
			Type: discrepancies.AmountMismatch, Severity: sev, Currency: r.Currency,
			Expected: providers.Nullable(r.Amount), Actual: providers.Nullable(paid), Delta: paid.Sub(r.Amount),
			Summary: fmt.Sprintf("payout %s: %s", r.ProviderOrderNo, v.Summary()),
			Detail:  statedDetail(v, m.ev), Suspense: excess,
		})
	}
	m.save(StatusSucceeded, note, map[string]any{"paid": paid.String(), "fee": fee.String()})
	return Applied
}

// fail ends an order without money moving; a payout's hold is released.
func (m *machine) fail(to Status) {
	if m.o.Kind == providers.KindPayout && m.o.HoldKey != "" {
		m.post(Posting{Fallback: FallbackGoneHold, Void: &ledger.Resolution{Merchant: m.o.MerchantID,
			Key: fmt.Sprintf("order:%d:void", m.o.ID), HoldKey: m.o.HoldKey, Reference: orderRef(m.o.ID)}})
	}
	m.save(to, m.ev.Remark, nil)
}

// reverse posts the exact inverse of a succeeded order's settlement, fee
// included: the provider takes back what it credited for a deposit and returns
// what it debited for a payout, principal and fee (the providers' documents are
// silent on fees; the simulators, and so the provider balances reconciliation
// compares with, behave so). It opens a reversal discrepancy. When the
// customer's balance no longer covers a deposit's reversal (Facts.Available),
// the shortfall is booked as a receivable from the customer.
func (m *machine) reverse() {
	r := m.o
	settlement := m.settled
	if settlement == nil {
		if m.f.Settlement == nil {
			m.needSettlement = true
			return
		}
		settlement = m.f.Settlement
	}
	inverse := make([]ledger.Entry, len(settlement))
	for i, e := range settlement {
		inverse[i] = ledger.Entry{Account: e.Account, Side: e.Side.Opposite(), Amount: e.Amount}
	}
	req := ledger.TransferRequest{Merchant: r.MerchantID, Key: fmt.Sprintf("order:%d:reverse", r.ID), Entries: inverse,
		Reference: orderRef(r.ID), Metadata: map[string]string{"reverses": settleKey(r.ID)}}
	p := Posting{Transfer: &req, Fallback: FallbackShortfall, Short: r.CreditedTo}
	shortfall := decimal.Zero
	if m.f.Available.Valid {
		// The customer (or suspense) already spent part of it: take what is left
		// and book the rest as owed by the customer.
		var entries []ledger.Entry
		for _, e := range req.Entries {
			if e.Side != ledger.Debit || e.Account != r.CreditedTo {
				entries = append(entries, e)
				continue
			}
			avail := decimal.Zero
			if b := m.f.Available.Decimal; b.IsPositive() {
				avail = decimal.Min(b, e.Amount)
			}
			if avail.IsPositive() {
				entries = append(entries, ledger.Entry{Account: e.Account, Side: ledger.Debit, Amount: avail})
			}
			shortfall = e.Amount.Sub(avail)
			entries = append(entries, ledger.Entry{Account: receivableAccount(r.CustomerID, ledgerCurrency(e.Account)), Side: ledger.Debit, Amount: shortfall})
		}
		req.Entries = entries
		req.Metadata["shortfall"] = shortfall.String()
		p = Posting{Transfer: &req}
	}
	m.post(p)
	if r.CreditedTo == ledger.SuspenseAccount(ledgerCurrency(r.CreditedTo)) {
		// The money parked for this order left with the reversal.
		m.d.ClearSuspense = true
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
	m.open(discrepancies.Finding{
		Type: discrepancies.Reversal, Currency: cur, Expected: providers.Nullable(amount), Actual: providers.Nullable(decimal.Zero),
		Delta: amount.Neg(), Summary: summary, Suspense: shortfall,
	})
	m.save(StatusReversed, m.ev.Remark, nil)
}

// conflict opens a discrepancy for an event that contradicts the order, and
// records it on the timeline without moving the order.
func (m *machine) conflict(t discrepancies.Type, summary string) {
	cur := m.o.Currency
	paid, _ := settle.AmountIn(m.ev, cur)
	f := discrepancies.Finding{Type: t, Currency: cur, Summary: fmt.Sprintf("order %s: %s", m.o.ProviderOrderNo, summary),
		Detail: map[string]any{"event_status": m.ev.Status, "provider_status": m.ev.ProviderStatus}}
	if m.o.PaidAmount.Valid {
		f.Expected = m.o.PaidAmount
		f.Actual = providers.Nullable(paid)
		f.Delta = paid.Sub(m.o.PaidAmount.Decimal)
	}
	m.open(f)
	m.record(m.o.Status, map[string]any{"conflict": summary})
}

// referenceConflict opens the reference_conflict discrepancy summary
// describes (an event whose references name another order than this one)
// and records it on the order's timeline: nothing moves on either order.
func (m *machine) referenceConflict(summary string) {
	st := settle.StatedMoney(m.ev, m.o.PayCurrency)
	f := discrepancies.Finding{Type: discrepancies.ReferenceConflict, MerchantID: m.o.MerchantID, ProviderAccountID: m.f.Account.ID,
		OrderID: m.o.ID, Currency: st.Currency, Summary: fmt.Sprintf("order %s: %s", m.o.ProviderOrderNo, summary),
		Fingerprint: discrepancies.Fingerprint(discrepancies.ReferenceConflict, m.f.Account.Name, m.ev.OrderNo, m.ev.ProviderOrderID),
		Detail: map[string]any{"source": m.f.Source, "order_no": m.ev.OrderNo, "provider_order_id": m.ev.ProviderOrderID,
			"order_provider_order_id": m.o.ProviderOrderID, "event_status": m.ev.Status, "provider_status": m.ev.ProviderStatus}}
	if st.GrossStated {
		f.Actual, f.Delta = providers.Nullable(st.Gross), st.Gross
	}
	for k, v := range m.f.Ref {
		f.Detail[k] = v
	}
	m.d.Findings = append(m.d.Findings, f)
	m.record(m.o.Status, map[string]any{"conflict": summary})
}

// contradicted flags a deposit the provider first said failed (or expired)
// and now says succeeded: the late payment was applied, the merchant's
// webhooks said both, and an accountant sees the contradiction.
func (m *machine) contradicted(was, now Status) {
	m.open(discrepancies.Finding{Type: discrepancies.StatusMismatch, Severity: discrepancies.Medium, Currency: m.o.SettledCurrency,
		Actual: m.o.PaidAmount, Delta: m.o.PaidAmount.Decimal,
		Summary: fmt.Sprintf("order %s: the provider said %s, then %s: applied as a late payment", m.o.ProviderOrderNo, was, now),
		Detail:  map[string]any{"was": string(was), "now": string(now), "provider_status": m.ev.ProviderStatus}})
}

// dispute opens a status_mismatch for a final status the provider
// contradicts and that tally does not follow, and tells the merchant (an
// order.disputed webhook) that the provider now says otherwise.
func (m *machine) dispute(cur, said Status, summary string) {
	m.conflict(discrepancies.StatusMismatch, summary)
	m.event(cur, cur, m.detail(map[string]any{"disputed": string(said), "dispute": summary}), true)
}

// open records a discrepancy about this order.
func (m *machine) open(f discrepancies.Finding) {
	f.MerchantID = m.o.MerchantID
	f.ProviderAccountID = m.f.Account.ID
	f.OrderID = m.o.ID
	f.Fingerprint = discrepancies.Fingerprint(f.Type, m.f.Account.Name, m.o.ProviderOrderNo)
	if f.Detail == nil {
		f.Detail = map[string]any{}
	}
	f.Detail["source"] = m.f.Source
	for k, v := range m.f.Ref {
		f.Detail[k] = v
	}
	m.d.Findings = append(m.d.Findings, f)
}

// post adds a ledger write.
func (m *machine) post(p Posting) { m.d.Postings = append(m.d.Postings, p) }

// save moves the order to status to (reason, when given, becomes its status
// reason; a final status sets its final time) with a timeline event, which
// notifies the merchant when the status changed.
func (m *machine) save(to Status, reason string, detail map[string]any) {
	from := m.o.Status
	if to.Final() {
		now := m.f.Now
		m.o.FinalAt = &now
	}
	if reason != "" {
		m.o.StatusReason = reason
	}
	m.o.Status = to
	m.d.Save = true
	m.event(from, to, m.detail(detail), from != to)
}

// record adds a timeline event that does not change the order.
func (m *machine) record(status Status, detail map[string]any) {
	m.event(m.o.Status, status, m.detail(detail), false)
}

func (m *machine) event(from, to Status, detail map[string]any, notify bool) {
	m.d.Events = append(m.d.Events, OrderEvent{From: from, To: to, Detail: detail, Notify: notify})
}

// detail is a timeline event's detail: the provider's status, what triggered
// the application, and extra.
func (m *machine) detail(extra map[string]any) map[string]any {
	d := map[string]any{"provider_status": m.ev.ProviderStatus}
	for k, v := range m.f.Ref {
		d[k] = v
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// fillIdentity copies identifiers the event carries that the order lacks.
func (m *machine) fillIdentity() {
	if m.o.ProviderOrderID == "" && m.ev.ProviderOrderID != "" {
		m.o.ProviderOrderID = m.ev.ProviderOrderID
	}
	if m.o.TxHash == "" && m.ev.TxHash != "" {
		m.o.TxHash = m.ev.TxHash
	}
}

// setParts takes the event's parts, when it has any.
func (m *machine) setParts() {
	if len(m.ev.Parts) > 0 {
		m.o.Parts = m.ev.Parts
	}
}

// inDoubt reports whether the provider may have an order tally has not seen
// it accept: still created, its submission ambiguous or unresolved.
func inDoubt(status Status, submitState string) bool {
	return status == StatusCreated && (submitState == submitAmbiguous || submitState == submitUnresolved)
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
