package e2e_test

// Regression tests for defects found in review: each failed before its fix.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/cxpay"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

// A create sent again after the first one's answer was lost (the worker died
// before recording it) is refused as a duplicate: the order exists, so it must
// be recorded as submitted, never failed with its hold released.
func TestResubmitOfAnExistingOrderIsNotARejection(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true})
	e.Fund("cxpay", "j1", "BRL", "500")
	r := e.API("POST", "/v1/payouts", map[string]any{"provider_account": "cxpay-main", "customer_id": "j1", "amount": "200.00", "currency": "BRL",
		"beneficiary": map[string]string{"name": "Ana", "account": "12345-6", "account_type": "CPF", "tax_id": "1", "email": "a@b.c", "phone": "1"}},
		"Idempotency-Key", "j1")
	var p orders.Order
	r.JSON(t, &p)
	// The first submit reached the provider; its answer never got recorded.
	ad, err := cxpay.New(providers.Config{Account: "cxpay-main", BaseURL: e.SandboxURL + "/cxpay", MerchantID: "M10001",
		Secret: "34797ffec7814a0b", Options: tallytest.AccountOptions("cxpay"), NotifyURL: e.CallbackURL("cxpay"), HTTPClient: e.Egress.Client(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ad.CreatePayout(context.Background(), providers.PayoutRequest{OrderNo: p.ProviderOrderNo, Amount: dec("200.00"), Currency: "BRL",
		Beneficiary: providers.Party{Name: "Ana", Account: "12345-6", AccountType: "CPF", TaxID: "1", Email: "a@b.c", Phone: "1"}}); err != nil {
		t.Fatal(err)
	}
	e.StartWorkers()
	p = e.WaitOrder(p.ID, "submitted", func(o orders.Order) bool { return o.SubmitState != "pending" })
	if p.SubmitState != "submitted" || p.Status == orders.StatusFailed {
		t.Fatalf("resubmitted payout: %s / %s (%s), want submitted", p.Status, p.SubmitState, p.LastError)
	}
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/settle", nil)
	e.WaitStatus(p.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:j1:BRL"); !got.Equal(dec("300")) {
		t.Fatalf("customer = %s, want 300 after the 200 payout", got)
	}
	e.CheckLedger()
}

// A reversal the customer can only partly cover takes what is left and books
// only the shortfall as a receivable; the receivable is what a write-off clears.
func TestReversalShortfallSplit(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "b1", "100.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	p := brlPayout(e, "b1", "60.00")
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/settle", nil)
	e.WaitStatus(p.ID, orders.StatusSucceeded)
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/reverse", nil)
	e.WaitStatus(o.ID, orders.StatusReversed)
	e.WaitIdle()
	if c, r := e.Balance("liabilities:customer:b1:BRL"), e.Balance("assets:receivable:b1:BRL"); !c.IsZero() || !r.Equal(dec("60")) {
		t.Fatalf("after the reversal: customer %s receivable %s, want 0 and 60", c, r)
	}
	d := e.Discrepancies(discrepancies.Reversal)[0]
	if _, err := e.Recon.Resolve(context.Background(), e.Merchant.ID, d.ID, recon.Resolution{Action: recon.WriteOff, Actor: "alice", Note: "uncollectable"}); err != nil {
		t.Fatal(err)
	}
	if r, l := e.Balance("assets:receivable:b1:BRL"), e.Balance("expenses:loss:BRL"); !r.IsZero() || !l.Equal(dec("60")) {
		t.Fatalf("after the write-off: receivable %s loss %s", r, l)
	}
	e.CheckLedger()
}

// Money parked in suspense that a reversal took back is no longer there to be
// resolved: an accept_received must not pay out another order's parked money.
func TestReversalClearsParkedMoney(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	a := brlDeposit(e, "c1", "100.00")
	e.Control("cxpay", "POST", "/orders/"+a.ProviderOrderNo+"/pay", map[string]string{"amount": "95.00"})
	e.WaitStatus(a.ID, orders.StatusSucceeded)
	b := brlDeposit(e, "c2", "250.00")
	e.Control("cxpay", "POST", "/orders/"+b.ProviderOrderNo+"/pay", map[string]string{"amount": "200.00"})
	e.WaitStatus(b.ID, orders.StatusSucceeded)
	e.Control("cxpay", "POST", "/orders/"+a.ProviderOrderNo+"/reverse", nil)
	e.WaitStatus(a.ID, orders.StatusReversed)
	e.WaitIdle()
	var da discrepancies.Discrepancy
	for _, d := range e.Discrepancies(discrepancies.AmountMismatch) {
		if d.OrderID == a.ID {
			da = d
		}
	}
	if !da.SuspenseAmount.IsZero() {
		t.Fatalf("reversed order's mismatch still says %s parked", da.SuspenseAmount)
	}
	if _, err := e.Recon.Resolve(context.Background(), e.Merchant.ID, da.ID, recon.Resolution{Action: recon.AcceptReceived, Actor: "alice"}); !errors.Is(err, recon.ErrNothingToMove) {
		t.Fatalf("accept_received on a reversed order: %v, want ErrNothingToMove", err)
	}
	if got := e.Balance("liabilities:suspense:BRL"); !got.Equal(dec("200")) {
		t.Fatalf("suspense = %s, want the other order's 200", got)
	}
	e.CheckLedger()
}

// A payout's reversal that overtakes its success is applied in one go.
func TestPayoutReversalOvertakesSuccess(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	e.Fund("cxpay", "a1", "BRL", "100")
	p := brlPayout(e, "a1", "40.00")
	script(e, "cxpay", p.ProviderOrderNo, map[string]any{"outcome": "succeed", "reverse_after": "30s", "callbacks": map[string]any{"reorder": true}})
	e.WaitStatus(p.ID, orders.StatusReversed)
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:a1:BRL"); !got.Equal(dec("100")) {
		t.Fatalf("customer = %s, want 100 (the payout came back)", got)
	}
	e.CheckLedger()
}

// An accountant's resolution sticks for the same problem, but the problem coming
// back with another amount reopens it, with the new amount.
func TestResolvedDriftReopensWithANewAmount(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{})
	e.Opening("cxpay", "BRL", "100000")
	from, to := window(start)
	run := func() {
		e.Reconcile(recon.Request{Kind: recon.KindBalances, ProviderAccount: "cxpay-main", From: from, To: to})
	}
	e.Control("cxpay", "POST", "/merchants/M10001/adjust", map[string]string{"currency": "BRL", "amount": "-3"})
	run()
	d := e.Discrepancies(discrepancies.BalanceDrift)[0]
	if _, err := e.Recon.Resolve(context.Background(), e.Merchant.ID, d.ID, recon.Resolution{Action: recon.Ignore, Actor: "alice", Note: "known bank fee"}); err != nil {
		t.Fatal(err)
	}
	run()
	if d = e.Discrepancies(discrepancies.BalanceDrift)[0]; d.Status != discrepancies.Ignored || !d.AmountDelta.Equal(dec("-3")) {
		t.Fatalf("the same drift again: %s %s, want it left ignored at -3", d.Status, d.AmountDelta)
	}
	e.Control("cxpay", "POST", "/merchants/M10001/adjust", map[string]string{"currency": "BRL", "amount": "-700"})
	run()
	if d = e.Discrepancies(discrepancies.BalanceDrift)[0]; d.Status != discrepancies.Open || !d.AmountDelta.Equal(dec("-703")) {
		t.Fatalf("a new drift: %s %s, want it reopened at -703", d.Status, d.AmountDelta)
	}
}

// An unchecked order is not a consistent one: when the provider's queries fail,
// the run closes nothing.
func TestFailedQueriesCloseNothing(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{ReconStaleAfter: time.Millisecond})
	o := brlDeposit(e, "e1", "5.00")
	time.Sleep(5 * time.Millisecond)
	from, to := window(start)
	e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	if ds := e.Discrepancies(discrepancies.StalePending); len(ds) != 1 {
		t.Fatalf("stale_pending = %+v", ds)
	}
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/order/query", "mode": "error_5xx"})
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	if ds := e.Discrepancies(discrepancies.StalePending); ds[0].Status != discrepancies.Open {
		t.Fatalf("a run whose queries all failed closed %+v", ds[0])
	}
	if sum.Orders[0].Unmatched != 1 {
		t.Fatalf("order line = %+v", sum.Orders[0])
	}
	_ = o
}

// Statement lines: a repeated line is not a second payment, and a line that
// names only the provider's id finds the order.
func TestStatementRepeatsAndProviderIDs(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{AmountPolicy: "credit_received"})
	o := brlDeposit(e, "g1", "100.00")
	script(e, "cxpay", o.ProviderOrderNo, map[string]any{"outcome": "succeed", "callbacks": map[string]any{"drop": true}})
	var so map[string]any
	e.Eventually("paid at CXPay", func() bool {
		e.Control("cxpay", "GET", "/orders/"+o.ProviderOrderNo, nil).JSON(t, &so)
		return so["status"] == "succeeded"
	})
	paid := time.Now().UTC().Format("2006-01-02 15:04:05")
	csv := "order_no,provider_order_id,kind,status,amount,fee,currency,settled_at\n" +
		o.ProviderOrderNo + ",,deposit,succeeded,100.00,1.00,BRL," + paid + "\n" +
		o.ProviderOrderNo + ",,deposit,succeeded,100.00,1.00,BRL," + paid + "\n"
	res, err := e.Recon.Import(context.Background(), e.Merchant.ID, "cxpay-main", "dup.csv", strings.NewReader(csv), recon.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID})
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:g1:BRL"); !got.Equal(dec("100")) {
		t.Fatalf("customer = %s, want 100: a repeated statement line is not a second payment", got)
	}
	// A line with the provider's id only.
	o2 := brlDeposit(e, "g2", "20.00")
	e.Control("cxpay", "POST", "/orders/"+o2.ProviderOrderNo+"/pay", nil)
	o2 = e.WaitStatus(o2.ID, orders.StatusSucceeded)
	csv = "order_no,provider_order_id,kind,status,amount,fee,currency,settled_at\n" +
		"," + o2.ProviderOrderID + ",deposit,succeeded,20.00,0.20,BRL," + paid + "\n"
	res, err = e.Recon.Import(context.Background(), e.Merchant.ID, "cxpay-main", "ids.csv", strings.NewReader(csv), recon.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum := e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID})
	if l := byType(sum)["unknown_order"]; l.Found != 0 || sum.Orders[0].Matched != 1 {
		t.Fatalf("a line by provider id: %+v %+v", sum.Orders, sum.Discrepancies)
	}
	e.CheckLedger()
}

// A VPay payer who paid half, whose callback was lost, is found from the
// statement: the order is repaired with what was really paid (half the quote,
// held in suspense) and an amount_mismatch, not credited in full.
func TestQuotedUnderpaymentFromStatement(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{})
	o := e.CreateOrder("deposit", map[string]any{"provider_account": "vpay-main", "customer_id": "i1", "amount": "100.00", "currency": "CNY", "pay_currency": "USDT"})
	var so map[string]any
	e.Control("vpay", "GET", "/orders/"+o.ProviderOrderNo, nil).JSON(t, &so)
	half := dec(so["amount"].(string)).Div(dec("2")).Round(6)
	script(e, "vpay", o.ProviderOrderNo, map[string]any{"outcome": "succeed", "amount": half.String(), "callbacks": map[string]any{"drop": true}})
	e.Eventually("paid at VPay", func() bool {
		e.Control("vpay", "GET", "/orders/"+o.ProviderOrderNo, nil).JSON(t, &so)
		return so["status"] == "succeeded"
	})
	imp := e.StatementFromSandbox("vpay", start.Add(-time.Minute), time.Now().Add(time.Minute))
	e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: imp.Statement.ID})
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if c, s := e.Balance("liabilities:customer:i1:CNY"), e.Balance("liabilities:suspense:CNY"); !c.IsZero() || !s.Equal(dec("50")) {
		t.Fatalf("customer %s suspense %s, want 0 and 50 (half of the 100 CNY quote)", c, s)
	}
	if ds := e.Discrepancies(discrepancies.AmountMismatch); len(ds) != 1 || !ds[0].AmountDelta.Equal(dec("-50")) {
		t.Fatalf("amount_mismatch = %+v", ds)
	}
	e.CheckLedger()
}

// An order tally settled in a statement's period that the statement does not
// list is a status_mismatch; one settled within the date tolerance of the
// period's edge is not (it may be in the next statement).
func TestSettledOrderMissingFromStatement(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{DateTolerance: time.Second})
	start := time.Now().Add(-10 * time.Second)
	o := brlDeposit(e, "m1", "30.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	end := time.Now().Add(10 * time.Second)
	csv := "order_no,kind,status,amount,currency,settled_at\nSOMETHING-ELSE,deposit,failed,1.00,BRL," + start.UTC().Format(time.RFC3339) + "\n"
	res, err := e.Recon.Import(context.Background(), e.Merchant.ID, "cxpay-main", "partial.csv", strings.NewReader(csv), recon.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sum := e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID, From: start, To: end})
	found := false
	for _, f := range sum.Findings {
		if f.Type == "status_mismatch" && f.OrderID == o.ID && strings.Contains(f.Summary, "not in the provider's statement") {
			found = true
		}
	}
	if !found {
		t.Fatalf("findings = %+v, want the settled order flagged as missing from the statement", sum.Findings)
	}
	// With the period ending half a second after it settled (inside the one
	// second tolerance), the same order is not checked at all.
	settled := *e.Order(o.ID).FinalAt
	sum = e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID, From: start, To: settled.Add(500 * time.Millisecond)})
	for _, f := range sum.Findings {
		if f.OrderID == o.ID {
			t.Fatalf("an order settled at the period's edge was flagged: %+v", f)
		}
	}
}

// simBalance is what the sandbox provider holds for its merchant in a currency.
func simBalance(e *tallytest.Env, provider, currency string) decimal.Decimal {
	e.T.Helper()
	var ms []struct {
		Balances map[string]struct{ Available, Frozen decimal.Decimal } `json:"balances"`
	}
	e.Control(provider, "GET", "/merchants", nil).JSON(e.T, &ms)
	if len(ms) != 1 {
		e.T.Fatalf("%s has %d sandbox merchants, want 1", provider, len(ms))
	}
	b := ms[0].Balances[currency]
	return b.Available.Add(b.Frozen)
}

// A provider reversing a payout gives back everything the payout took from the
// merchant's balance there, principal and fee: the ledger reverses the fee too,
// so that the clearing account keeps agreeing with the provider's balance.
func TestPayoutReversalReturnsPrincipalAndFee(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	e.Fund("cxpay", "r1", "BRL", "100")
	before := simBalance(e, "cxpay", "BRL")
	p := brlPayout(e, "r1", "40.00")
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/settle", nil)
	e.WaitStatus(p.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if got := e.Balance("expenses:fees:cxpay-main:BRL"); !got.Equal(dec("0.4")) {
		t.Fatalf("fee after the payout = %s, want 0.4", got)
	}
	if d := simBalance(e, "cxpay", "BRL").Sub(before); !d.Equal(dec("-40.4")) {
		t.Fatalf("the provider's balance moved %s for the payout, want -40.4", d)
	}
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/reverse", nil)
	e.WaitStatus(p.ID, orders.StatusReversed)
	e.WaitIdle()
	if d := simBalance(e, "cxpay", "BRL").Sub(before); !d.IsZero() {
		t.Fatalf("the provider's balance is %s off after the reversal, want 0 (principal and fee returned)", d)
	}
	for acct, want := range map[string]string{"liabilities:customer:r1:BRL": "100", "assets:provider:cxpay-main:BRL": "100", "expenses:fees:cxpay-main:BRL": "0"} {
		if got := e.Balance(acct); !got.Equal(dec(want)) {
			t.Errorf("%s = %s, want %s after the reversal", acct, got, want)
		}
	}
	ds := e.Discrepancies(discrepancies.Reversal)
	if len(ds) != 1 || ds[0].OrderID != p.ID || !ds[0].AmountDelta.Equal(dec("-40")) {
		t.Fatalf("reversal discrepancies = %+v", ds)
	}
	e.CheckLedger()
}
