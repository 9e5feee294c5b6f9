package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/cxpay"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

// window is a reconciliation window around everything a test created.
func window(start time.Time) (time.Time, time.Time) {
	return start.Add(-time.Minute), time.Now().Add(time.Minute)
}

// byType indexes a summary's discrepancy lines.
func byType(sum recon.Summary) map[string]recon.DiscrepancyLine {
	out := map[string]recon.DiscrepancyLine{}
	for _, l := range sum.Discrepancies {
		prev := out[l.Type]
		prev.Type = l.Type
		prev.Found += l.Found
		prev.New += l.New
		prev.AutoClosed += l.AutoClosed
		out[l.Type] = prev
	}
	return out
}

func TestReconQueryRunFindsRepairsAndRerunsClean(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{ReconStaleAfter: time.Hour})
	// A: paid exactly: consistent.
	a := brlDeposit(e, "r1", "10.00")
	e.Control("cxpay", "POST", "/orders/"+a.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(a.ID, orders.StatusSucceeded)
	// B: paid, callback dropped: tally still pending.
	b := brlDeposit(e, "r1", "20.00")
	script(e, "cxpay", b.ProviderOrderNo, map[string]any{"outcome": "succeed", "callbacks": map[string]any{"drop": true}})
	// C: the payer paid less: the pipeline's amount_mismatch.
	c := brlDeposit(e, "r1", "30.00")
	e.Control("cxpay", "POST", "/orders/"+c.ProviderOrderNo+"/pay", map[string]string{"amount": "25.00"})
	e.WaitStatus(c.ID, orders.StatusSucceeded)
	// D: reversed by callback; CXPay's query cannot see reversals and still says
	// paid: that is not a mismatch.
	d := brlDeposit(e, "r1", "40.00")
	e.Control("cxpay", "POST", "/orders/"+d.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(d.ID, orders.StatusSucceeded)
	e.Control("cxpay", "POST", "/orders/"+d.ProviderOrderNo+"/reverse", nil)
	e.WaitStatus(d.ID, orders.StatusReversed)
	e.Eventually("B paid at the provider", func() bool {
		var o map[string]any
		e.Control("cxpay", "GET", "/orders/"+b.ProviderOrderNo, nil).JSON(t, &o)
		return o["status"] == "succeeded"
	})
	e.WaitIdle()
	if got := e.Order(b.ID).Status; got != orders.StatusPending {
		t.Fatalf("B is %s before the run, want pending (its callback was dropped)", got)
	}

	from, to := window(start)
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	if sum.Status != recon.RunCompleted || !sum.Ledger.OK {
		t.Fatalf("run: %+v", sum)
	}
	if len(sum.Orders) != 1 {
		t.Fatalf("order lines = %+v", sum.Orders)
	}
	ol := sum.Orders[0]
	if ol.Checked != 4 || ol.Matched != 4 || ol.Unmatched != 0 || ol.Repaired != 1 || !ol.MatchedAmount.Equal(dec("55")) {
		t.Fatalf("order line = %+v, want 4 checked and matched, 55 BRL moved (10 + 20 + C's 25 paid; D reversed), 1 repaired", ol)
	}
	types := byType(sum)
	if l := types["missing_callback"]; l.Found != 1 || l.New != 1 {
		t.Errorf("missing_callback = %+v", l)
	}
	if l := types["amount_mismatch"]; l.Found != 1 || l.New != 0 {
		t.Errorf("amount_mismatch = %+v, want the pipeline's one found again", l)
	}
	if l, ok := types["status_mismatch"]; ok {
		t.Errorf("status_mismatch = %+v, want none (CXPay's query hides reversals)", l)
	}
	// B was repaired through the state machine and posted.
	if o := e.WaitStatus(b.ID, orders.StatusSucceeded); !o.PaidAmount.Decimal.Equal(dec("20")) {
		t.Fatalf("B after repair: %+v", o)
	}
	var repaired bool
	for _, f := range sum.Findings {
		if f.Type == "missing_callback" && f.Repaired && f.OrderID == b.ID {
			repaired = true
		}
	}
	if !repaired {
		t.Fatalf("findings do not report B repaired: %+v", sum.Findings)
	}
	if got := e.Balance("liabilities:customer:r1:BRL"); !got.Equal(dec("30")) {
		t.Fatalf("customer r1 = %s, want 10 + 20 (C's 25 is in suspense, D reversed)", got)
	}
	before := len(e.Discrepancies(""))
	again := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	for _, l := range again.Discrepancies {
		if l.New != 0 {
			t.Errorf("re-running the window opened a new %s", l.Type)
		}
	}
	if after := len(e.Discrepancies("")); after != before {
		t.Fatalf("re-running the window changed the discrepancy rows from %d to %d", before, after)
	}
	e.CheckLedger()
}

func TestReconStalePending(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{ReconStaleAfter: time.Millisecond})
	o := brlDeposit(e, "r2", "5.00")
	time.Sleep(10 * time.Millisecond)
	from, to := window(start)
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	if l := byType(sum)["stale_pending"]; l.New != 1 {
		t.Fatalf("stale_pending = %+v (findings %+v)", l, sum.Findings)
	}
	// Paid now: the next run closes it automatically, and says why.
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	sum = e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	if l := byType(sum)["stale_pending"]; l.AutoClosed != 1 {
		t.Fatalf("stale_pending after payment = %+v", l)
	}
	ds := e.Discrepancies(discrepancies.StalePending)
	if len(ds) != 1 || ds[0].Status != discrepancies.Resolved || ds[0].Resolution != "auto_closed" || !strings.Contains(ds[0].ResolutionNote, "consistent in run") {
		t.Fatalf("stale_pending row = %+v", ds)
	}
}

func TestReconBalanceDriftAutoCloseAndWriteOff(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{})
	e.Opening("cxpay", "BRL", "100000") // the sandbox merchant's starting balance
	o := brlDeposit(e, "r3", "100.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	from, to := window(start)
	run := func() recon.Summary {
		return e.Reconcile(recon.Request{Kind: recon.KindBalances, ProviderAccount: "cxpay-main", From: from, To: to})
	}
	sum := run()
	if len(sum.Balances) != 1 || !sum.Balances[0].OK || !sum.Balances[0].Provider.Equal(dec("100099")) {
		t.Fatalf("balances = %+v, want 100099 BRL on both sides", sum.Balances)
	}
	e.Control("cxpay", "POST", "/merchants/M10001/adjust", map[string]string{"currency": "BRL", "amount": "-5"})
	sum = run()
	if l := byType(sum)["balance_drift"]; l.New != 1 || !sum.Balances[0].Difference.Equal(dec("-5")) {
		t.Fatalf("after drift: %+v %+v", l, sum.Balances)
	}
	e.Control("cxpay", "POST", "/merchants/M10001/adjust", map[string]string{"currency": "BRL", "amount": "5"})
	if l := byType(run())["balance_drift"]; l.AutoClosed != 1 {
		t.Fatalf("drift corrected at the provider: %+v, want it closed automatically", l)
	}
	e.Control("cxpay", "POST", "/merchants/M10001/adjust", map[string]string{"currency": "BRL", "amount": "-3"})
	sum = run()
	ds := e.Discrepancies(discrepancies.BalanceDrift)
	if len(ds) != 1 || ds[0].Status != discrepancies.Open || !ds[0].AmountDelta.Equal(dec("-3")) {
		t.Fatalf("the same drift found again must be the same row, reopened: %+v", ds)
	}
	res, err := e.Recon.Resolve(context.Background(), e.Merchant.ID, ds[0].ID, recon.Resolution{Action: recon.WriteOff, Actor: "alice", Note: "provider fee not in the API"})
	if err != nil {
		t.Fatal(err)
	}
	if res.TransferKey == "" || !e.Balance("expenses:loss:BRL").Equal(dec("3")) || !e.Balance("assets:provider:cxpay-main:BRL").Equal(dec("100096")) {
		t.Fatalf("write-off: %+v, loss %s, clearing %s", res, e.Balance("expenses:loss:BRL"), e.Balance("assets:provider:cxpay-main:BRL"))
	}
	if sum = run(); !sum.Balances[0].OK {
		t.Fatalf("after the write-off the balances must agree: %+v", sum.Balances)
	}
	if _, err := e.Recon.Resolve(context.Background(), e.Merchant.ID, ds[0].ID, recon.Resolution{Action: recon.WriteOff, Actor: "bob"}); !errors.Is(err, discrepancies.ErrClosed) {
		t.Fatalf("resolving twice: %v, want ErrClosed", err)
	}
	e.CheckLedger()
}

func TestResolutions(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	mismatch := func(customer, amount, paid string) discrepancies.Discrepancy {
		t.Helper()
		o := brlDeposit(e, customer, amount)
		e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", map[string]string{"amount": paid})
		e.WaitStatus(o.ID, orders.StatusSucceeded)
		e.WaitIdle()
		for _, d := range e.Discrepancies(discrepancies.AmountMismatch) {
			if d.OrderID == o.ID {
				return d
			}
		}
		t.Fatalf("no amount_mismatch for order %d", o.ID)
		return discrepancies.Discrepancy{}
	}
	// accept_received: suspense to the customer.
	d1 := mismatch("a1", "50.00", "45.00")
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, d1.ID, recon.Resolution{Action: recon.AcceptReceived, Actor: "alice", Note: "customer confirmed"}); err != nil {
		t.Fatal(err)
	}
	if !e.Balance("liabilities:customer:a1:BRL").Equal(dec("45")) || !e.Balance("liabilities:suspense:BRL").IsZero() {
		t.Fatalf("accept_received: customer %s suspense %s", e.Balance("liabilities:customer:a1:BRL"), e.Balance("liabilities:suspense:BRL"))
	}
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, d1.ID, recon.Resolution{Action: recon.AcceptReceived, Actor: "bob"}); !errors.Is(err, discrepancies.ErrClosed) {
		t.Fatalf("second resolution: %v", err)
	}
	e.CheckLedger()
	// write_off: unclaimed money in suspense is a gain (never a negative expense).
	d2 := mismatch("a2", "10.00", "12.00")
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, d2.ID, recon.Resolution{Action: recon.WriteOff, Actor: "alice", Note: "overpayment kept"}); err != nil {
		t.Fatal(err)
	}
	if !e.Balance("income:gain:BRL").Equal(dec("12")) || !e.Balance("expenses:loss:BRL").IsZero() || !e.Balance("liabilities:suspense:BRL").IsZero() {
		t.Fatalf("write_off: gain %s loss %s suspense %s", e.Balance("income:gain:BRL"), e.Balance("expenses:loss:BRL"), e.Balance("liabilities:suspense:BRL"))
	}
	e.CheckLedger()
	// refund_payer: suspense to the customer, then a payout back.
	d3 := mismatch("a3", "20.00", "19.00")
	res, err := e.Recon.Resolve(ctx, e.Merchant.ID, d3.ID, recon.Resolution{Action: recon.RefundPayer, Actor: "alice", Note: "refund",
		Beneficiary: providers.Party{Name: "Ana", Account: "12345-6", AccountType: "CPF", TaxID: "1", Email: "a@b.c", Phone: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Refund == nil || res.Refund.Kind != providers.KindPayout || !res.Refund.Amount.Equal(dec("19")) {
		t.Fatalf("refund = %+v", res.Refund)
	}
	p := e.WaitOrder(res.Refund.ID, "refund submitted", func(o orders.Order) bool { return o.SubmitState == "submitted" })
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/settle", nil)
	e.WaitStatus(p.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if !e.Balance("liabilities:customer:a3:BRL").IsZero() {
		t.Fatalf("after the refund the customer holds %s, want 0", e.Balance("liabilities:customer:a3:BRL"))
	}
	e.CheckLedger()
	// match_order: an unknown order's parked money to a known order's customer.
	ad, err := cxpay.New(providers.Config{Account: "cxpay-main", BaseURL: e.SandboxURL + "/cxpay", MerchantID: "M10001",
		Secret: "34797ffec7814a0b", Options: tallytest.AccountOptions("cxpay"), NotifyURL: e.CallbackURL("cxpay"), HTTPClient: e.Egress.Client(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ad.CreateDeposit(ctx, providers.DepositRequest{OrderNo: "LOST-1", Amount: dec("7.00"), Currency: "BRL",
		Payer: providers.Party{Name: "X", TaxID: "1", Email: "x@y.z", Phone: "1"}}); err != nil {
		t.Fatal(err)
	}
	e.Control("cxpay", "POST", "/orders/LOST-1/pay", nil)
	e.Eventually("unknown order", func() bool { return len(e.Discrepancies(discrepancies.UnknownOrder)) == 1 })
	e.WaitIdle()
	target := brlDeposit(e, "a4", "7.00")
	u := e.Discrepancies(discrepancies.UnknownOrder)[0]
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, u.ID, recon.Resolution{Action: recon.MatchOrder, Actor: "alice", OrderID: target.ID, Note: "payer used the wrong reference"}); err != nil {
		t.Fatal(err)
	}
	if !e.Balance("liabilities:customer:a4:BRL").Equal(dec("7")) {
		t.Fatalf("match_order: customer a4 = %s", e.Balance("liabilities:customer:a4:BRL"))
	}
	// ignore needs a reason.
	d5 := mismatch("a5", "3.00", "2.00")
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, d5.ID, recon.Resolution{Action: recon.Ignore, Actor: "alice"}); !errors.Is(err, recon.ErrInvalid) {
		t.Fatalf("ignore without a reason: %v", err)
	}
	got, err := e.Recon.Resolve(ctx, e.Merchant.ID, d5.ID, recon.Resolution{Action: recon.Ignore, Actor: "alice", Note: "test payment"})
	if err != nil || got.Discrepancy.Status != discrepancies.Ignored || got.TransferKey != "" {
		t.Fatalf("ignore: %+v %v", got, err)
	}
	evs, err := e.Disc.Events(ctx, e.Pool, d5.ID)
	if err != nil || evs[len(evs)-1].Action != "ignored" || evs[len(evs)-1].Actor != "alice" || evs[len(evs)-1].Note != "test payment" {
		t.Fatalf("audit trail = %+v %v", evs, err)
	}
	e.CheckLedger()
}

func TestReconLedgerInvariantIsCritical(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "r5", "9.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	ctx := context.Background()
	// Damage a stored balance behind the ledger's back.
	if _, err := e.Pool.Exec(ctx, `UPDATE balances SET credits_posted = credits_posted + 1
		WHERE account_id = (SELECT id FROM accounts WHERE code = 'liabilities:customer:r5:BRL')`); err != nil {
		t.Fatal(err)
	}
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main"})
	if sum.Ledger.OK || len(sum.Ledger.Violations) == 0 {
		t.Fatalf("ledger line = %+v", sum.Ledger)
	}
	ds := e.Discrepancies(discrepancies.LedgerInvariant)
	if len(ds) != 1 || ds[0].Severity != discrepancies.Critical {
		t.Fatalf("ledger_invariant = %+v", ds)
	}
	if _, err := e.Pool.Exec(ctx, `UPDATE balances SET credits_posted = credits_posted - 1
		WHERE account_id = (SELECT id FROM accounts WHERE code = 'liabilities:customer:r5:BRL')`); err != nil {
		t.Fatal(err)
	}
	e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main"})
	if ds = e.Discrepancies(discrepancies.LedgerInvariant); ds[0].Status != discrepancies.Resolved {
		t.Fatalf("repaired ledger: %+v", ds[0])
	}
}

func TestDuplicateConflict(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "r6", "15.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	// A second, correctly signed callback for the same order with another amount.
	params := map[string]string{"platOrderId": o.ProviderOrderID, "orderId": o.ProviderOrderNo, "amount": "16", "status": "1",
		"reverse": "false", "remark": "", "fee": "0"}
	sig := cxpay.Sign(params, "34797ffec7814a0b")
	body := fmt.Sprintf(`{"platOrderId":%q,"orderId":%q,"amount":16,"status":1,"reverse":false,"remark":"","fee":0,"sign":%q}`,
		o.ProviderOrderID, o.ProviderOrderNo, sig)
	r := e.API("POST", e.CallbackPath("cxpay"), body)
	if r.Status != 200 || string(r.Body) != "success" {
		t.Fatalf("conflicting callback: %d %s", r.Status, r.Body)
	}
	e.Eventually("duplicate_conflict", func() bool { return len(e.Discrepancies(discrepancies.DuplicateConflict)) == 1 })
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:r6:BRL"); !got.Equal(dec("15")) {
		t.Fatalf("the conflicting callback moved money: customer %s", got)
	}
	e.CheckLedger()
}

func TestReconRunKilledMidRunResumes(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{ReconPageSize: 2})
	for i := 0; i < 7; i++ {
		o := brlDeposit(e, "r7", "1.00")
		e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
		e.WaitStatus(o.ID, orders.StatusSucceeded)
	}
	from, to := window(start)
	run, err := e.Recon.Create(context.Background(), recon.Request{MerchantID: e.Merchant.ID, Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to, Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := e.Recon.Execute(ctx, run.ID, func(phase string, done int64) {
		if done >= 2 {
			cancel() // the worker dies after its first page
		}
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	if got, _ := e.Recon.Get(context.Background(), e.Merchant.ID, run.ID); got.Status != recon.RunRunning {
		t.Fatalf("interrupted run is %s, want still running", got.Status)
	}
	sum, err := e.Recon.Execute(context.Background(), run.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Orders) != 1 || sum.Orders[0].Checked != 7 || sum.Orders[0].Matched != 7 {
		t.Fatalf("resumed run counted %+v, want 7 checked and matched once each", sum.Orders)
	}
}

func TestTwoSchedulersEnqueueEachWindowOnce(t *testing.T) {
	t.Parallel()
	task := jobs.Task{Name: "recon", Every: time.Second, Args: jobs.ReconScheduleArgs{RunKind: recon.KindOrders, Every: time.Second}}
	e := tallytest.New(t, tallytest.Options{Jobs: jobs.Options{Schedule: true, Tasks: []jobs.Task{task}}})
	// A second node with its own scheduler and workers on the same database.
	second := e.Process(jobs.Options{Workers: true, Schedule: true, Tasks: []jobs.Task{task}, FetchPoll: 50 * time.Millisecond})
	if err := second.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer second.Close(context.Background())
	// Two nodes, two schedulers: whichever fires, a window is one job (unique
	// per period) and one run (the runs' unique key), never two.
	for i := 0; i < 3; i++ {
		if err := second.Jobs.Queue().EnqueueTask(context.Background(), task); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(4 * time.Second)
	rows, err := e.Pool.Query(context.Background(), `SELECT provider_account_id, window_start, count(*) FROM recon_runs
		WHERE trigger = 'schedule' GROUP BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	windows := 0
	for rows.Next() {
		var acct int64
		var ws time.Time
		var n int
		if err := rows.Scan(&acct, &ws, &n); err != nil {
			t.Fatal(err)
		}
		windows++
		if n != 1 {
			t.Errorf("account %d window %s ran %d times", acct, ws, n)
		}
	}
	if windows < 5 {
		t.Fatalf("%d scheduled windows, want at least one per provider account", windows)
	}
}

// TestHoldExpiryThenLateSettlement: a payout the provider never settles has its
// hold expired (stale_pending, the customer's money released); when the
// provider then settles it after all, the pipeline and reconciliation both flag
// the contradiction (status_mismatch) instead of posting it silently.
func TestHoldExpiryThenLateSettlement(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{HoldTTL: 50 * time.Millisecond})
	e.Fund("cxpay", "h1", "BRL", "100")
	p := brlPayout(e, "h1", "60.00")
	if got := e.Available("liabilities:customer:h1:BRL"); !got.Equal(dec("40")) {
		t.Fatalf("available during the hold = %s", got)
	}
	time.Sleep(100 * time.Millisecond)
	n, err := e.Orders.ExpireHolds(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ExpireHolds = %d, %v; want 1", n, err)
	}
	if o := e.Order(p.ID); o.Status != orders.StatusExpired {
		t.Fatalf("payout is %s after its hold expired", o.Status)
	}
	if got := e.Available("liabilities:customer:h1:BRL"); !got.Equal(dec("100")) {
		t.Fatalf("available after expiry = %s, want 100 (hold released)", got)
	}
	if ds := e.Discrepancies(discrepancies.StalePending); len(ds) != 1 || ds[0].OrderID != p.ID {
		t.Fatalf("stale_pending = %+v", ds)
	}
	// The provider settles it after all.
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/settle", nil)
	e.Eventually("status_mismatch", func() bool { return len(e.Discrepancies(discrepancies.StatusMismatch)) == 1 })
	e.WaitIdle()
	from, to := window(start)
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	if l := byType(sum)["status_mismatch"]; l.Found != 1 || l.New != 0 {
		t.Fatalf("reconciliation: status_mismatch %+v, want the pipeline's one found again", l)
	}
	if got := e.Balance("liabilities:customer:h1:BRL"); !got.Equal(dec("100")) {
		t.Fatalf("customer = %s: a contradicted settlement must not post silently", got)
	}
	e.CheckLedger()
}

// TestReconOverdueOrderFlaggedBySchedule: scheduled windows look at the orders
// created in them once, shortly after; an order still pending past its
// deadline is flagged stale_pending by the scheduled run of the window its
// deadline falls in, whichever window it was created in.
func TestReconOverdueOrderFlaggedBySchedule(t *testing.T) {
	t.Parallel()
	task := jobs.Task{Name: "recon", Every: time.Second, Args: jobs.ReconScheduleArgs{RunKind: recon.KindOrders, Every: time.Second}}
	e := tallytest.New(t, tallytest.Options{Jobs: jobs.Options{Schedule: true, Tasks: []jobs.Task{task}}})
	ctx := context.Background()
	o := brlDeposit(e, "s1", "5.00")
	deadline := o.CreatedAt.Add(2500 * time.Millisecond)
	if _, err := e.Pool.Exec(ctx, `UPDATE orders SET expires_at = $2 WHERE id = $1`, o.ID, deadline); err != nil {
		t.Fatal(err)
	}
	var d discrepancies.Discrepancy
	e.Eventually("stale_pending on the overdue deposit", func() bool {
		ds := e.Discrepancies(discrepancies.StalePending)
		if len(ds) == 1 {
			d = ds[0]
		}
		return len(ds) == 1
	})
	if d.OrderID != o.ID || d.Status != discrepancies.Open || !strings.Contains(d.Summary, "past its deadline") {
		t.Fatalf("stale_pending = %+v", d)
	}
	// Found by a scheduled run whose window holds the deadline, not the creation.
	var n int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM recon_run_findings f JOIN recon_runs r ON r.id = f.run_id
		WHERE f.discrepancy_id = $1 AND r.trigger = 'schedule' AND r.window_start <= $2 AND r.window_end > $2
		  AND NOT (r.window_start <= $3 AND r.window_end > $3)`, d.ID, deadline, o.CreatedAt).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d scheduled runs of the deadline's window flagged it, want 1", n)
	}
	// That run counted it on its own line, apart from the window's orders.
	var runID int64
	if err := e.Pool.QueryRow(ctx, `SELECT r.id FROM recon_run_findings f JOIN recon_runs r ON r.id = f.run_id
		WHERE f.discrepancy_id = $1 AND r.window_start <= $2 AND r.window_end > $2`, d.ID, deadline).Scan(&runID); err != nil {
		t.Fatal(err)
	}
	e.Eventually("the run to finish", func() bool {
		r, _ := e.Recon.Get(ctx, e.Merchant.ID, runID)
		return r.Status == recon.RunCompleted
	})
	sum, err := e.Recon.Summary(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	var overdue *recon.OrderLine
	for i, l := range sum.Orders {
		if l.Source == "overdue" {
			overdue = &sum.Orders[i]
		}
	}
	if overdue == nil || overdue.Checked != 1 || overdue.Unmatched != 1 || !overdue.UnmatchedAmount.Equal(dec("5")) {
		t.Fatalf("overdue line = %+v (lines %+v)", overdue, sum.Orders)
	}
	// Paid at last: a later run closes it, and says why.
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.Eventually("stale_pending closed", func() bool {
		ds := e.Discrepancies(discrepancies.StalePending)
		return len(ds) == 1 && ds[0].Status == discrepancies.Resolved && ds[0].Resolution == "auto_closed" &&
			strings.Contains(ds[0].ResolutionNote, "succeeded now")
	})
}

// paidDeposit is a CXPay deposit paid exactly, as tally recorded it.
func paidDeposit(e *tallytest.Env, customer, amount string) orders.Order {
	e.T.Helper()
	o := brlDeposit(e, customer, amount)
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	return e.WaitStatus(o.ID, orders.StatusSucceeded)
}

// stmtLine is one line of a statement CSV with the requested amount column.
func stmtLine(o orders.Order, status, amount, fee, currency, requested string, at time.Time) string {
	return fmt.Sprintf("%s,%s,%s,%s,%s,%s,%s,%s,,%s\n", o.ProviderOrderNo, o.ProviderOrderID, o.Kind, status, amount, fee, currency,
		at.UTC().Format(time.RFC3339), requested)
}

const stmtHeader = "order_no,provider_order_id,kind,status,amount,fee,currency,settled_at,part_id,requested\n"

// TestReconComparesEveryAmountAndCurrency: an order on whose status tally and
// the provider agree is compared by requested amount, paid amount, credited
// amount (paid less the fee), fee and currency; a provider stating the order in
// another currency is an amount_mismatch, never a match.
func TestReconComparesEveryAmountAndCurrency(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	ok := paidDeposit(e, "k1", "10.00")
	req := paidDeposit(e, "k1", "20.00")
	cur := paidDeposit(e, "k1", "30.00")
	fee := paidDeposit(e, "k1", "40.00")
	e.WaitIdle()
	for _, o := range []orders.Order{ok, req, cur, fee} {
		if !o.Fee.Valid || !o.CreditedAmount.Valid || o.SettledCurrency != "BRL" {
			t.Fatalf("order %d as settled: %+v (the test needs a stated fee)", o.ID, o)
		}
	}
	at := time.Now().UTC()
	f := func(o orders.Order) string { return o.Fee.Decimal.String() }
	csv := stmtHeader +
		stmtLine(ok, "succeeded", "10.00", f(ok), "BRL", "10.00", at) +
		stmtLine(req, "succeeded", "20.00", f(req), "BRL", "21.00", at) +
		stmtLine(cur, "succeeded", "30.00", f(cur), "USD", "30.00", at) +
		stmtLine(fee, "succeeded", "40.00", fee.Fee.Decimal.Add(dec("1.5")).String(), "BRL", "40.00", at)
	res, err := e.Recon.Import(ctx, e.Merchant.ID, "cxpay-main", "k.csv", strings.NewReader(csv), recon.ImportOptions{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	sum := e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID})
	var checked, matched, unmatched int64
	for _, l := range sum.Orders {
		checked, matched, unmatched = checked+l.Checked, matched+l.Matched, unmatched+l.Unmatched
	}
	if checked != 4 || matched != 1 || unmatched != 3 {
		t.Fatalf("order lines = %+v, want 4 checked, 1 matched, 3 unmatched", sum.Orders)
	}
	got := map[string]discrepancies.Discrepancy{}
	for _, d := range e.Discrepancies("") {
		got[d.Fingerprint] = d
	}
	fp := func(t discrepancies.Type, o orders.Order, suffix string) string {
		parts := []string{"cxpay-main", o.ProviderOrderNo}
		if suffix != "" {
			parts = append(parts, suffix)
		}
		return discrepancies.Fingerprint(t, parts...)
	}
	want := []struct {
		fp    string
		delta string
		words string
	}{
		{fp(discrepancies.AmountMismatch, req, "requested"), "1", "asked for 20 BRL"},
		{fp(discrepancies.AmountMismatch, cur, "currency"), "30", "states it in USD"},
		// The credited amount it implies is the same difference, not a second one.
		{fp(discrepancies.FeeMismatch, fee, ""), "1.5", "fee of"},
	}
	for _, w := range want {
		d, found := got[w.fp]
		if !found || d.Status != discrepancies.Open || !d.AmountDelta.Equal(dec(w.delta)) || !strings.Contains(d.Summary, w.words) {
			t.Errorf("%s = %+v, want open with delta %s saying %q", w.fp, d, w.delta, w.words)
		}
	}
	if len(got) != len(want) {
		t.Errorf("discrepancies = %v, want exactly %d", got, len(want))
	}
	// Nothing moved: the comparison flags, it never posts.
	if b := e.Balance("liabilities:customer:k1:BRL"); !b.Equal(dec("100")) {
		t.Fatalf("customer = %s, want the 100 BRL paid", b)
	}
	e.CheckLedger()
}

// TestStatementRunAutoCloses: a discrepancy a statement found is closed by a
// later statement that lists the order consistently, with the reason; one
// about an order the later statement does not list stays open.
func TestStatementRunAutoCloses(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	a := paidDeposit(e, "k2", "10.00")
	b := paidDeposit(e, "k2", "20.00")
	e.WaitIdle()
	at := time.Now().UTC()
	run := func(name, csv string) recon.Summary {
		t.Helper()
		res, err := e.Recon.Import(ctx, e.Merchant.ID, "cxpay-main", name, strings.NewReader(csv), recon.ImportOptions{Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID})
	}
	first := run("1.csv", stmtHeader+
		stmtLine(a, "succeeded", "10.00", a.Fee.Decimal.Add(dec("1")).String(), "BRL", "10.00", at)+
		stmtLine(b, "succeeded", "20.00", b.Fee.Decimal.String(), "BRL", "25.00", at))
	if l := byType(first); l["fee_mismatch"].New != 1 || l["amount_mismatch"].New != 1 {
		t.Fatalf("first statement: %+v", first.Discrepancies)
	}
	second := run("2.csv", stmtHeader+stmtLine(a, "succeeded", "10.00", a.Fee.Decimal.String(), "BRL", "10.00", at.Add(time.Second)))
	if l := byType(second); l["fee_mismatch"].AutoClosed != 1 || l["amount_mismatch"].AutoClosed != 0 {
		t.Fatalf("second statement: %+v, want a's fee_mismatch closed (b's requested amount stays)", second.Discrepancies)
	}
	for _, d := range e.Discrepancies("") {
		switch d.OrderID {
		case a.ID:
			if d.Status != discrepancies.Resolved || d.Resolution != "auto_closed" || !strings.Contains(d.ResolutionNote, "statement") {
				t.Errorf("a's %s = %+v, want closed by the consistent statement", d.Type, d)
			}
		case b.ID:
			if d.Status != discrepancies.Open {
				t.Errorf("b's %s = %+v, want open (the second statement does not list b)", d.Type, d)
			}
		}
	}
}

// TestStatementUSDTCNPayWithdrawalParts reconciles USDTCNPAY withdrawals that
// settled in several parts against its statement (one line per part), many
// lines to one order: a withdrawal whose part callbacks were dropped is
// repaired from the parts summed, and the fee a settlement did not state is
// completed from the statement (counted as such, not as a mismatch or a repair).
func TestStatementUSDTCNPayWithdrawalParts(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{})
	e.Fund("usdtcnpay", "w1", "CNY", "1000")
	payout := func(amount string) orders.Order {
		return e.CreateOrder("payout", map[string]any{"provider_account": "usdtcnpay-main", "customer_id": "w1", "amount": amount, "currency": "CNY",
			"beneficiary": map[string]string{"name": "张三", "account": "6222020202020202", "category": "0", "bank_code": "1"}})
	}
	a := payout("500")
	e.Control("usdtcnpay", "POST", "/orders/"+a.ProviderOrderNo+"/settle-part", map[string]string{"amount": "200"})
	e.Control("usdtcnpay", "POST", "/orders/"+a.ProviderOrderNo+"/settle-part", map[string]string{"amount": "300"})
	if a = e.WaitStatus(a.ID, orders.StatusSucceeded); a.Fee.Valid || len(a.Parts) != 2 {
		t.Fatalf("a settled: %+v (USDTCNPAY's callbacks state no fee)", a)
	}
	b := payout("300")
	script(e, "usdtcnpay", b.ProviderOrderNo, map[string]any{"outcome": "succeed", "parts": []string{"100", "200"}, "callbacks": map[string]any{"drop": true}})
	e.Eventually("b settled in parts at USDTCNPAY", func() bool {
		var o map[string]any
		e.Control("usdtcnpay", "GET", "/orders/"+b.ProviderOrderNo, nil).JSON(t, &o)
		return o["status"] == "succeeded"
	})
	e.WaitIdle()
	if st := e.Order(b.ID).Status; st == orders.StatusSucceeded {
		t.Fatalf("b is %s before the statement run, want open (its callbacks were dropped)", st)
	}
	imp := e.StatementFromSandbox("usdtcnpay", start.Add(-time.Minute), time.Now().Add(time.Minute))
	if imp.Statement.Lines != 4 {
		t.Fatalf("statement = %+v, want 4 lines (2 parts of 2 withdrawals)", imp.Statement)
	}
	sum := e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: imp.Statement.ID})
	if len(sum.Orders) != 1 {
		t.Fatalf("order lines = %+v", sum.Orders)
	}
	l := sum.Orders[0]
	if l.Checked != 2 || l.Matched != 2 || l.Unmatched != 0 || l.Repaired != 1 || l.FeesCompleted != 1 || !l.MatchedAmount.Equal(dec("800")) {
		t.Fatalf("order line = %+v, want 2 checked and matched (800 CNY), 1 repaired, 1 fee completed", l)
	}
	for _, d := range e.Discrepancies("") {
		if d.Type == discrepancies.FeeMismatch || d.Status == discrepancies.Open {
			t.Errorf("discrepancy %s %s: %s (a fee the settlement lacked is not a mismatch)", d.Type, d.Status, d.Summary)
		}
	}
	bb := e.WaitStatus(b.ID, orders.StatusSucceeded)
	if !bb.PaidAmount.Decimal.Equal(dec("300")) || !bb.CreditedAmount.Decimal.Equal(dec("300")) || !bb.Fee.Valid {
		t.Fatalf("b repaired from the statement's parts (100 + 200): paid %v credited %v fee %v", bb.PaidAmount, bb.CreditedAmount, bb.Fee)
	}
	if got := e.Order(a.ID); !got.Fee.Valid {
		t.Fatalf("a's fee not completed from the statement: %+v", got)
	}
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:w1:CNY"); !got.Equal(dec("200")) {
		t.Fatalf("customer = %s, want 1000 - 500 - 300", got)
	}
	again := e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: imp.Statement.ID})
	if again.Orders[0].Repaired != 0 || again.Orders[0].FeesCompleted != 0 || again.Orders[0].Matched != 2 {
		t.Fatalf("re-run = %+v, want nothing left to repair or complete", again.Orders)
	}
	e.CheckLedger()
}

// TestRefundPayerRefusedBeforeAnythingMoves: a refund the provider account
// would refuse (no beneficiary, an account that makes no payouts) refuses the
// resolution itself: the discrepancy stays open, the money stays parked. A
// valid one resolves, credits and queues the payout in one transaction;
// resolving it again is refused.
func TestRefundPayerRefusedBeforeAnythingMoves(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	o := brlDeposit(e, "rf1", "20.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", map[string]string{"amount": "19.00"})
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	ds := e.Discrepancies(discrepancies.AmountMismatch)
	if len(ds) != 1 || !ds[0].SuspenseAmount.Equal(dec("19")) {
		t.Fatalf("amount_mismatch = %+v", ds)
	}
	d := ds[0]
	ana := providers.Party{Name: "Ana", Account: "12345-6", AccountType: "CPF", TaxID: "1", Email: "a@b.c", Phone: "1"}
	for _, bad := range []recon.Resolution{
		{Action: recon.RefundPayer, Actor: "alice", Note: "refund"},                                                  // no beneficiary
		{Action: recon.RefundPayer, Actor: "alice", Note: "refund", RefundAccount: "usdtpay-main", Beneficiary: ana}, // no payouts
	} {
		if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, d.ID, bad); !errors.Is(err, recon.ErrInvalid) {
			t.Fatalf("refund %+v: %v, want ErrInvalid", bad, err)
		}
		if got, _ := e.Disc.Get(ctx, e.Pool, d.ID); got.Status != discrepancies.Open {
			t.Fatalf("after a refused refund the discrepancy is %s, want open", got.Status)
		}
		if !e.Balance("liabilities:suspense:BRL").Equal(dec("19")) || !e.Balance("liabilities:customer:rf1:BRL").IsZero() {
			t.Fatalf("a refused refund moved money: suspense %s customer %s", e.Balance("liabilities:suspense:BRL"), e.Balance("liabilities:customer:rf1:BRL"))
		}
	}
	good := recon.Resolution{Action: recon.RefundPayer, Actor: "alice", Note: "refund", Beneficiary: ana}
	res, err := e.Recon.Resolve(ctx, e.Merchant.ID, d.ID, good)
	if err != nil || res.Refund == nil || !res.Refund.Amount.Equal(dec("19")) || res.Discrepancy.Status != discrepancies.Resolved {
		t.Fatalf("refund: %+v %v", res, err)
	}
	if got := e.Available("liabilities:customer:rf1:BRL"); !got.IsZero() {
		t.Fatalf("customer available = %s, want 0 (credited 19, 19 held for the refund)", got)
	}
	if again, err := e.Recon.Resolve(ctx, e.Merchant.ID, d.ID, good); !errors.Is(err, discrepancies.ErrClosed) {
		t.Fatalf("resolving again: %+v %v, want ErrClosed", again, err)
	}
	var refundJobs int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'submit_order' AND (args->>'order_id')::bigint = $1`, res.Refund.ID).Scan(&refundJobs); err != nil || refundJobs != 1 {
		t.Fatalf("%d submit_order jobs for the refund (%v), want 1: it is queued in the resolution's transaction", refundJobs, err)
	}
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.AcceptReceived, Actor: "bob"}); !errors.Is(err, discrepancies.ErrClosed) {
		t.Fatalf("another resolution: %v, want ErrClosed", err)
	}
	var payouts int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM orders WHERE kind = 'payout' AND customer_id = 'rf1'`).Scan(&payouts); err != nil || payouts != 1 {
		t.Fatalf("%d refund payouts (%v), want 1", payouts, err)
	}
	e.CheckLedger()
}

// TestDayReportCountsEachOrderOnce: a day's report merges the runs whose
// window ends in that day, choosing windows that do not overlap: the whole-day
// run, run twice, a short manual run inside it and a run that began the day
// before count each order once; the previous day's run (ending at midnight,
// finished today) is yesterday's, a run ending tomorrow is left out, and
// notes say so.
func TestDayReportCountsEachOrderOnce(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	a := paidDeposit(e, "d1", "10.00")
	c := brlDeposit(e, "d1", "30.00")
	e.Control("cxpay", "POST", "/orders/"+c.ProviderOrderNo+"/pay", map[string]string{"amount": "25.00"})
	e.WaitStatus(c.ID, orders.StatusSucceeded)
	e.WaitIdle()
	day := a.CreatedAt.UTC().Truncate(24 * time.Hour)
	if !c.CreatedAt.UTC().Truncate(24 * time.Hour).Equal(day) {
		t.Skip("the orders straddle midnight UTC")
	}
	run := func(from, to time.Time) recon.Summary {
		return e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	}
	run(day.Add(-24*time.Hour), day) // yesterday's daily run, finished today
	run(day, day.Add(24*time.Hour))
	run(day, day.Add(24*time.Hour)) // the same window again
	run(a.CreatedAt.Add(-time.Second), c.CreatedAt.Add(time.Second))
	early := run(day.Add(-time.Hour), day.Add(time.Hour)) // began yesterday: today's
	run(day.Add(23*time.Hour), day.Add(25*time.Hour))     // ends tomorrow: not today's
	sum, err := e.Recon.Day(ctx, e.Merchant.ID, day.Add(12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Orders) != 1 {
		t.Fatalf("order lines = %+v", sum.Orders)
	}
	l := sum.Orders[0]
	if l.Checked != 2 || l.Matched != 2 || !l.MatchedAmount.Equal(dec("35")) || l.Unmatched != 0 {
		t.Fatalf("day line = %+v, want the 2 orders once, 35 BRL moved (10 + the 25 paid for 30)", l)
	}
	types := byType(sum)
	if d := types["amount_mismatch"]; d.Found != 1 {
		t.Fatalf("amount_mismatch = %+v, want the one discrepancy once", d)
	}
	if len(sum.Findings) != 1 {
		t.Fatalf("findings = %+v, want one", sum.Findings)
	}
	// The run that began yesterday overlaps the daily run, which counts the
	// day's orders: none of its own count, so no note names it.
	if len(sum.Notes) != 1 || !strings.HasPrefix(sum.Notes[0], "1 runs whose window ends after this day") {
		t.Fatalf("notes = %q, want the run ending tomorrow counted (run %d, begun yesterday, not chosen)", sum.Notes, early.RunID)
	}
	// Yesterday's report has its own run, with none of today's orders.
	prev, err := e.Recon.Day(ctx, e.Merchant.ID, day.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(prev.Orders) != 0 || len(prev.Findings) != 0 {
		t.Fatalf("yesterday = %+v %+v, want no orders", prev.Orders, prev.Findings)
	}
}

// TestReconFeeMismatch: the callback CXPay sent stated one fee, its order
// query states another: the run flags a fee_mismatch with the exact
// difference (once: not again as the credited amount it implies), and moves
// no money.
func TestReconFeeMismatch(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "f1", "10.00")
	script(e, "cxpay", o.ProviderOrderNo, map[string]any{"outcome": "succeed", "callbacks": map[string]any{"drop": true}})
	var so struct {
		ID     string          `json:"id"`
		Status string          `json:"status"`
		Fee    decimal.Decimal `json:"fee"`
	}
	e.Eventually("paid at CXPay", func() bool {
		e.Control("cxpay", "GET", "/orders/"+o.ProviderOrderNo, nil).JSON(t, &so)
		return so.Status == "succeeded"
	})
	if !so.Fee.Equal(dec("0.1")) {
		t.Fatalf("CXPay's fee = %s, want 1%% of 10", so.Fee)
	}
	// The callback tally gets (correctly signed) says the fee was nothing.
	params := map[string]string{"platOrderId": so.ID, "orderId": o.ProviderOrderNo, "amount": "10", "status": "1", "reverse": "false", "remark": "", "fee": "0"}
	body := fmt.Sprintf(`{"platOrderId":%q,"orderId":%q,"amount":10,"status":1,"reverse":false,"remark":"","fee":0,"sign":%q}`,
		so.ID, o.ProviderOrderNo, cxpay.Sign(params, "34797ffec7814a0b"))
	if r := e.API("POST", e.CallbackPath("cxpay"), body); r.Status != 200 {
		t.Fatalf("callback: %d %s", r.Status, r.Body)
	}
	if got := e.WaitStatus(o.ID, orders.StatusSucceeded); !got.Fee.Valid || !got.Fee.Decimal.IsZero() {
		t.Fatalf("order fee = %v, want the callback's 0", got.Fee)
	}
	e.WaitIdle()
	from, to := window(start)
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: from, To: to})
	if l := byType(sum)["fee_mismatch"]; l.Found != 1 || l.New != 1 {
		t.Fatalf("fee_mismatch = %+v (findings %+v)", l, sum.Findings)
	}
	ds := e.Discrepancies(discrepancies.FeeMismatch)
	if len(ds) != 1 || ds[0].OrderID != o.ID || !ds[0].AmountDelta.Equal(dec("0.1")) || ds[0].Expected == nil || *ds[0].Expected != "0" ||
		ds[0].Actual == nil || !dec(*ds[0].Actual).Equal(dec("0.1")) || ds[0].Status != discrepancies.Open || ds[0].Severity != discrepancies.Low {
		t.Fatalf("fee_mismatch row = %+v", ds)
	}
	if ds := e.Discrepancies(discrepancies.AmountMismatch); len(ds) != 0 {
		t.Fatalf("amount_mismatch = %+v: the credit the fee implies is the same difference, not a second", ds)
	}
	if sum.Orders[0].Unmatched != 1 || sum.Orders[0].Matched != 0 {
		t.Fatalf("order line = %+v, want the order unmatched", sum.Orders[0])
	}
	if got := e.Balance("expenses:fees:cxpay-main:BRL"); !got.IsZero() {
		t.Fatalf("fees = %s: a flagged fee is an accountant's to book", got)
	}
	e.CheckLedger()
}

// TestReconJobRetriedByRiverResumes: the recon_run job fails mid-run (CXPay's
// balance endpoint answers 5xx after every order was compared and
// checkpointed); River retries the job, and the retry resumes at the balances:
// the orders are not queried again (a fault on the order query set between
// the attempts is never hit) and every count is exact.
func TestReconJobRetriedByRiverResumes(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{ReconPageSize: 2})
	ctx := context.Background()
	e.Opening("cxpay", "BRL", "100000")
	for i := 0; i < 7; i++ {
		paidDeposit(e, "j1", "1.00")
	}
	e.WaitIdle()
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/order/balance", "mode": "error_5xx"})
	from, to := window(start)
	// The run and its recon_run job, as the API and the schedule start one.
	run, err := e.Recon.Start(ctx, recon.Request{MerchantID: e.Merchant.ID, Kind: recon.KindFull, ProviderAccount: "cxpay-main", From: from, To: to, Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e.Eventually("the first attempt to fail at the balances", func() bool {
		var failed int
		_ = e.Pool.QueryRow(ctx, `SELECT COALESCE(array_length(errors, 1), 0) FROM river_job WHERE kind = 'recon_run' AND args->>'run_id' = $1`,
			fmt.Sprint(run.ID)).Scan(&failed)
		return failed == 1
	})
	var phase string
	var done int64
	if err := e.Pool.QueryRow(ctx, `SELECT checkpoint->>'phase', (checkpoint->>'done')::bigint FROM recon_runs WHERE id = $1`, run.ID).Scan(&phase, &done); err != nil {
		t.Fatal(err)
	}
	if phase != "balances" || done != 7 {
		t.Fatalf("checkpoint after the failed attempt: phase %q, %d done; want balances, 7", phase, done)
	}
	// Between the attempts the balances recover and the order query breaks.
	e.Control("cxpay", "DELETE", "/faults", nil)
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/order/query", "mode": "error_5xx"})
	e.Eventually("the retried run to complete", func() bool {
		r, _ := e.Recon.Get(ctx, e.Merchant.ID, run.ID)
		return r.Status == recon.RunCompleted
	})
	var attempt int
	if err := e.Pool.QueryRow(ctx, `SELECT attempt FROM river_job WHERE kind = 'recon_run' AND args->>'run_id' = $1`, fmt.Sprint(run.ID)).Scan(&attempt); err != nil || attempt != 2 {
		var errs string
		_ = e.Pool.QueryRow(ctx, `SELECT errors::text FROM river_job WHERE kind = 'recon_run' AND args->>'run_id' = $1`, fmt.Sprint(run.ID)).Scan(&errs)
		t.Fatalf("job attempts = %d (%v), want 2; errors %s", attempt, err, errs)
	}
	var faults []struct {
		Path string
		Hits int
	}
	e.Control("cxpay", "GET", "/faults", nil).JSON(t, &faults)
	if len(faults) != 1 || faults[0].Hits != 0 {
		t.Fatalf("order query faults = %+v: the retry queried orders again instead of resuming", faults)
	}
	sum, err := e.Recon.Summary(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Orders) != 1 || sum.Orders[0].Checked != 7 || sum.Orders[0].Matched != 7 || !sum.Orders[0].MatchedAmount.Equal(dec("7")) {
		t.Fatalf("resumed run counted %+v, want 7 checked and matched (7 BRL) once each", sum.Orders)
	}
	if len(sum.Balances) != 1 || !sum.Balances[0].OK {
		t.Fatalf("balances = %+v, want one comparison, consistent", sum.Balances)
	}
	if len(sum.Notes) != 0 {
		t.Fatalf("notes = %q, want none (no query failed)", sum.Notes)
	}
}

// TestScheduledWindowRetriedAfterFailure: a scheduled window whose run failed
// no longer holds the window: the next schedule tick runs it again (and only
// it, once), while a window with a live run stays a duplicate.
func TestScheduledWindowRetriedAfterFailure(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	e.Opening("cxpay", "BRL", "100000")
	hour := time.Now().UTC().Truncate(time.Hour)
	w := recon.Request{MerchantID: e.Merchant.ID, ProviderAccount: "cxpay-main", Kind: recon.KindBalances,
		From: hour.Add(-2 * time.Hour), To: hour.Add(-time.Hour), Trigger: "schedule"}
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/order/balance", "mode": "error_5xx"})
	failed, err := e.Recon.Create(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Recon.Execute(ctx, failed.ID, nil); err == nil {
		t.Fatal("the run should fail while CXPay's balance endpoint is down")
	}
	if r, _ := e.Recon.Get(ctx, e.Merchant.ID, failed.ID); r.Status != recon.RunFailed {
		t.Fatalf("run is %s, want failed", r.Status)
	}
	e.Control("cxpay", "DELETE", "/faults", nil)
	// A schedule tick for hourly windows: the current window for every
	// account, and the failed one again.
	if err := e.Runner.Queue().EnqueueTask(ctx, jobs.Task{Name: "recon_schedule", Every: time.Hour,
		Args: jobs.ReconScheduleArgs{RunKind: recon.KindBalances, Every: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	var retry recon.Run
	e.Eventually("the failed window run again", func() bool {
		runs, _ := e.Recon.Runs(ctx, e.Merchant.ID, 0, 100)
		for _, r := range runs {
			if r.ID != failed.ID && r.ProviderAccount == "cxpay-main" && r.WindowStart.Equal(w.From) && r.Status == recon.RunCompleted {
				retry = r
				return true
			}
		}
		return false
	})
	if retry.Trigger != "schedule" || !retry.WindowEnd.Equal(w.To) {
		t.Fatalf("retry = %+v", retry)
	}
	sum, err := e.Recon.Summary(ctx, retry.ID)
	if err != nil || len(sum.Balances) != 1 || !sum.Balances[0].OK {
		t.Fatalf("retried run: %+v %v", sum.Balances, err)
	}
	// Now the window is held again: creating it once more is a duplicate.
	if _, err := e.Recon.Create(ctx, w); !errors.Is(err, recon.ErrDuplicate) {
		t.Fatalf("creating a completed window again: %v, want ErrDuplicate", err)
	}
	e.WaitIdle()
	var n int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM recon_runs WHERE trigger = 'schedule' AND window_start = $1`, w.From).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d runs of the window (%v), want the failed one and its retry", n, err)
	}
	var current int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM recon_runs WHERE trigger = 'schedule' AND window_start = $1`, hour.Add(-time.Hour)).Scan(&current); err != nil || current != 5 {
		t.Fatalf("%d runs of the current window (%v), want one per account", current, err)
	}
}
