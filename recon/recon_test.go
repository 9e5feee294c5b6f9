package recon_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

func deposit(e *tallytest.Env, customer, amount string) orders.Order {
	e.T.Helper()
	return e.CreateOrder("deposit", map[string]any{"provider_account": "cxpay-main", "customer_id": customer, "amount": amount, "currency": "BRL",
		"payer": map[string]string{"name": "Ana", "tax_id": "12345678901", "email": "ana@example.com", "phone": "+5511999999999"}})
}

// A run closes the stale_pending discrepancies whose order has ended since,
// whatever window the order was created in, and leaves those whose order is
// still open: an open one before a settled one (by id) does not hide it.
func TestSettledStaleClosedWhateverComesFirst(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{ReconStaleAfter: time.Millisecond})
	open := deposit(e, "s1", "5.00")
	paid := deposit(e, "s2", "6.00")
	time.Sleep(10 * time.Millisecond)
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: start.Add(-time.Minute), To: time.Now().Add(time.Minute)})
	if n := len(e.Discrepancies(discrepancies.StalePending)); n != 2 {
		t.Fatalf("stale_pending discrepancies = %d, want 2 (findings %+v)", n, sum.Findings)
	}
	e.Control("cxpay", "POST", "/orders/"+paid.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(paid.ID, orders.StatusSucceeded)
	// A window after both orders were created and past their deadlines: the
	// run looks at neither order, only at the discrepancies about them.
	from := time.Now()
	e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: from.Add(time.Minute)})
	for _, d := range e.Discrepancies(discrepancies.StalePending) {
		switch d.OrderID {
		case open.ID:
			if d.Status != discrepancies.Open {
				t.Errorf("the still open order's stale_pending is %s (%s), want open", d.Status, d.ResolutionNote)
			}
		case paid.ID:
			if d.Status != discrepancies.Resolved || d.Resolution != "auto_closed" {
				t.Errorf("the paid order's stale_pending is %s (%s), want auto_closed", d.Status, d.Resolution)
			}
		default:
			t.Errorf("unexpected stale_pending %+v", d)
		}
	}
}

func paidDeposit(e *tallytest.Env, customer, amount string) orders.Order {
	e.T.Helper()
	o := deposit(e, customer, amount)
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	return e.WaitStatus(o.ID, orders.StatusSucceeded)
}

// statement imports a statement CSV for cxpay-main and runs it.
func statement(e *tallytest.Env, name, csv string) recon.Summary {
	e.T.Helper()
	res, err := e.Recon.Import(context.Background(), e.Merchant.ID, "cxpay-main", name, strings.NewReader(csv), recon.ImportOptions{Actor: "test"})
	if err != nil {
		e.T.Fatal(err)
	}
	return e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID})
}

const stmtHeader = "order_no,provider_order_id,kind,status,amount,fee,currency,settled_at\n"

// A statement line without an order number names its order by the
// provider's id: it is compared with that order, and a later consistent line
// of the same kind closes what the first found.
func TestStatementLineByProviderID(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := paidDeposit(e, "p1", "10.00")
	e.WaitIdle()
	if o.ProviderOrderID == "" {
		t.Fatalf("order %+v has no provider id", o)
	}
	at := time.Now().UTC().Format(time.RFC3339)
	line := func(fee string) string {
		return fmt.Sprintf(",%s,deposit,succeeded,10.00,%s,BRL,%s\n", o.ProviderOrderID, fee, at)
	}
	first := statement(e, "1.csv", stmtHeader+line(o.Fee.Decimal.Add(decimal.NewFromInt(1)).String()))
	if len(first.Findings) != 1 || first.Findings[0].Type != string(discrepancies.FeeMismatch) || first.Findings[0].OrderID != o.ID {
		t.Fatalf("first statement findings = %+v, want the order's fee_mismatch", first.Findings)
	}
	second := statement(e, "2.csv", stmtHeader+line(o.Fee.Decimal.String()))
	if len(second.Findings) != 1 || !second.Findings[0].AutoClosed || second.Findings[0].OrderNo != o.ProviderOrderNo {
		t.Fatalf("second statement findings = %+v, want the fee_mismatch closed", second.Findings)
	}
}

// Settled orders a statement does not list are found whatever page of the
// window's settled orders they are on, each once.
func TestStatementMissingOrdersOnEveryPage(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{ReconPageSize: 1})
	var listed, missing []orders.Order
	for i := range 6 {
		o := paidDeposit(e, "m1", fmt.Sprintf("%d.00", 10+i))
		if i%2 == 0 {
			missing = append(missing, o)
		} else {
			listed = append(listed, o)
		}
	}
	e.WaitIdle()
	start := time.Now().UTC()
	csv := stmtHeader
	for _, o := range listed {
		csv += fmt.Sprintf("%s,%s,deposit,succeeded,%s,%s,BRL,%s\n", o.ProviderOrderNo, o.ProviderOrderID, o.Amount, o.Fee.Decimal, start.Format(time.RFC3339))
	}
	res, err := e.Recon.Import(context.Background(), e.Merchant.ID, "cxpay-main", "m.csv", strings.NewReader(csv), recon.ImportOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Wider than the account's date tolerance (1h) at both ends.
	sum := e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID, From: start.Add(-3 * time.Hour), To: start.Add(3 * time.Hour)})
	got := map[int64]int{}
	for _, f := range sum.Findings {
		if f.Type == string(discrepancies.StatusMismatch) {
			got[f.OrderID]++
		}
	}
	if len(got) != len(missing) {
		t.Fatalf("missing orders found = %v, want %d: %+v", got, len(missing), sum.Findings)
	}
	for _, o := range missing {
		if got[o.ID] != 1 {
			t.Errorf("order %d (%s) missing from the statement found %d times, want once", o.ID, o.ProviderOrderNo, got[o.ID])
		}
	}
}
