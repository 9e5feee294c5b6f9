package e2e_test

// The ledger's refusals the state machine foresees, on real PostgreSQL: the
// executor learns the answer and asks the machine again (orders.Fallback).
// The shortfall of a reversal is TestReversalShortfallSplit's.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/tallytest"
)

// reversal is the provider's statement that payout p, paid in full, was
// reversed (a reconciliation repair of a reversal the callbacks missed).
func reversal(p orders.Order) providers.Event {
	return providers.Event{Provider: "cxpay", Kind: providers.KindPayout, OrderNo: p.ProviderOrderNo, ProviderOrderID: p.ProviderOrderID,
		Status: providers.StatusReversed, ProviderStatus: "1", Reversed: true, Paid: providers.Nullable(p.Amount), Currency: p.Currency, Verified: true}
}

// failedPayout is a payout of amount the provider failed: its hold voided.
func failedPayout(e *tallytest.Env, customer, amount string) orders.Order {
	e.T.Helper()
	p := brlPayout(e, customer, amount)
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/fail", map[string]string{"reason": "beneficiary bank offline"})
	p = e.WaitStatus(p.ID, orders.StatusFailed)
	e.WaitIdle()
	return p
}

// A reversal of a payout that failed implies its success first: its hold is
// gone (voided), so the payout is posted directly from the customer's
// balance, then reversed; the customer ends where they began.
func TestReversalOfAFailedPayoutPostsWithoutItsHold(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	e.Fund("cxpay", "h1", "BRL", "100")
	p := failedPayout(e, "h1", "40.00")
	res, err := e.Orders.Apply(context.Background(), p.ID, reversal(p), "recon", nil)
	if err != nil || res.Outcome != orders.Applied || res.After != orders.StatusReversed {
		t.Fatalf("Apply = %+v, %v; want applied, reversed", res, err)
	}
	if c := e.Balance("liabilities:customer:h1:BRL"); !c.Equal(dec("100")) {
		t.Fatalf("customer = %s, want 100", c)
	}
	if r := e.Balance("assets:receivable:h1:BRL"); !r.IsZero() {
		t.Fatalf("receivable = %s, want 0", r)
	}
	if _, err := e.Ledger.GetTransferByKey(context.Background(), e.Merchant.ID, fmt.Sprintf("order:%d:settle", p.ID)); err != nil {
		t.Fatalf("the direct post: %v", err)
	}
	if len(e.Discrepancies(discrepancies.Reversal)) != 1 {
		t.Fatalf("reversal discrepancies: %+v", e.Discrepancies(discrepancies.Reversal))
	}
	e.CheckLedger()
}

// The same when the customer's balance no longer covers the payout: nothing
// is posted, the order stays failed, and a status_mismatch says why.
func TestReversalOfAFailedPayoutTheCustomerNoLongerCovers(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	e.Fund("cxpay", "h2", "BRL", "40")
	p := failedPayout(e, "h2", "40.00")
	q := brlPayout(e, "h2", "40.00")
	e.Control("cxpay", "POST", "/orders/"+q.ProviderOrderNo+"/settle", nil)
	e.WaitStatus(q.ID, orders.StatusSucceeded)
	e.WaitIdle()
	res, err := e.Orders.Apply(context.Background(), p.ID, reversal(p), "recon", nil)
	if err != nil || res.Outcome != orders.Conflict || res.After != orders.StatusFailed {
		t.Fatalf("Apply = %+v, %v; want conflict, failed", res, err)
	}
	if c := e.Balance("liabilities:customer:h2:BRL"); !c.IsZero() {
		t.Fatalf("customer = %s, want 0", c)
	}
	var found bool
	for _, d := range e.Discrepancies(discrepancies.StatusMismatch) {
		found = found || (d.OrderID == p.ID && strings.Contains(d.Summary, "no longer covers"))
	}
	if !found {
		t.Fatalf("no status_mismatch for the uncovered payout: %+v", e.Discrepancies(discrepancies.StatusMismatch))
	}
	e.CheckLedger()
}
