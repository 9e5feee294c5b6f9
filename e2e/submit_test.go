package e2e_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// simOrderCount is how many orders the provider's simulator holds under a merchant order number.
func simOrderCount(e *tallytest.Env, provider, orderNo string) int {
	e.T.Helper()
	var list []map[string]any
	e.Control(provider, "GET", "/orders", nil).JSON(e.T, &list)
	n := 0
	for _, so := range list {
		if so["order_no"] == orderNo {
			n++
		}
	}
	return n
}

// balances asserts exact posted and available balances: account -> {posted, available}.
func balances(t *testing.T, e *tallytest.Env, want map[string][2]string) {
	t.Helper()
	for acct, w := range want {
		if got := e.Balance(acct); !got.Equal(dec(w[0])) {
			t.Errorf("%s posted = %s, want %s", acct, got, w[0])
		}
		if got := e.Available(acct); !got.Equal(dec(w[1])) {
			t.Errorf("%s available = %s, want %s", acct, got, w[1])
		}
	}
}

// submitEnv is a tally whose provider calls give up quickly and whose
// submit_order gives up after three attempts.
func submitEnv(t *testing.T, grace, holdTTL time.Duration, schedule bool) *tallytest.Env {
	return tallytest.New(t, tallytest.Options{ProviderTimeout: 300 * time.Millisecond, UnresolvedGrace: grace, HoldTTL: holdTTL,
		Jobs: jobs.Options{SubmitAttempts: 3, SubmitRetryBase: 10 * time.Millisecond, Schedule: schedule, SyncEvery: time.Second, SyncAge: time.Millisecond}})
}

// Every create hangs without the provider acting: submit_order gives up with the
// outcome unknown, sync_order asks the provider, which does not have the
// order, and only then is the payout failed and its hold voided.
func TestAmbiguousUntilLastAttemptProviderNeverGotIt(t *testing.T) {
	t.Parallel()
	e := submitEnv(t, 200*time.Millisecond, 0, true)
	e.Fund("cxpay", "u1", "BRL", "100")
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/pay/create", "mode": "hang"})
	p := brlPayout(e, "u1", "60.00")
	p = e.WaitStatus(p.ID, orders.StatusFailed)
	if p.SubmitState != "rejected" {
		t.Fatalf("submit state %s, want rejected", p.SubmitState)
	}
	tl, err := e.Orders.Timeline(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	handed := false
	for _, ev := range tl {
		var d map[string]any
		if ev.Source == "submit" && json.Unmarshal(ev.Detail, &d) == nil && d["submit_state"] == "unresolved" {
			handed = true
		}
	}
	if !handed {
		t.Fatalf("the order was failed without being handed to sync_order: %+v", tl)
	}
	if n := simOrderCount(e, "cxpay", p.ProviderOrderNo); n != 0 {
		t.Fatalf("the provider has %d orders numbered %s, want none", n, p.ProviderOrderNo)
	}
	e.WaitIdle()
	balances(t, e, map[string][2]string{
		"liabilities:customer:u1:BRL":    {"100", "100"},
		"assets:provider:cxpay-main:BRL": {"100", "100"},
		"expenses:fees:cxpay-main:BRL":   {"0", "0"},
	})
	e.CheckLedger()
}

// Every create times out after the provider acted, and the provider's query
// fails meanwhile: submit_order gives up, the order is not failed and keeps its
// hold; when the query answers again, sync_order finds the order and it goes on
// as submitted, to its settlement.
func TestAmbiguousUntilLastAttemptProviderHasIt(t *testing.T) {
	t.Parallel()
	e := submitEnv(t, 200*time.Millisecond, 0, true)
	e.Fund("cxpay", "u2", "BRL", "100")
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/pay/create", "mode": "timeout"})
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/order/query", "mode": "error_5xx"})
	p := brlPayout(e, "u2", "60.00")
	p = e.WaitOrder(p.ID, "unresolved", func(o orders.Order) bool { return o.SubmitState == "unresolved" })
	// Well past the grace: failing queries fail nothing.
	time.Sleep(time.Second)
	if p = e.Order(p.ID); p.Status != orders.StatusCreated || p.SubmitState != "unresolved" {
		t.Fatalf("with the provider unreachable: %s / %s, want created / unresolved", p.Status, p.SubmitState)
	}
	balances(t, e, map[string][2]string{"liabilities:customer:u2:BRL": {"100", "40"}})
	e.Control("cxpay", "DELETE", "/faults", nil)
	p = e.WaitOrder(p.ID, "submitted", func(o orders.Order) bool { return o.SubmitState == "submitted" })
	if p.Status != orders.StatusProcessing {
		t.Fatalf("after the query found it: %s, want processing", p.Status)
	}
	if n := simOrderCount(e, "cxpay", p.ProviderOrderNo); n != 1 {
		t.Fatalf("the provider has %d orders numbered %s, want exactly 1", n, p.ProviderOrderNo)
	}
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/settle", nil)
	e.WaitStatus(p.ID, orders.StatusSucceeded)
	e.WaitIdle()
	// 100 funded - 60 paid out - 0.60 fee (1%).
	balances(t, e, map[string][2]string{
		"liabilities:customer:u2:BRL":    {"40", "40"},
		"assets:provider:cxpay-main:BRL": {"39.4", "39.4"},
		"expenses:fees:cxpay-main:BRL":   {"0.6", "0.6"},
	})
	e.CheckLedger()
}

// A payout whose submission is unresolved when its hold expires: the expiry
// queries the provider first. While the provider cannot answer, the hold is
// kept (a stale_pending discrepancy says why); once it answers that it paid,
// the payout settles against the hold.
func TestHoldExpiryQueriesUnresolvedPayout(t *testing.T) {
	t.Parallel()
	// A long grace and no schedule: only the expiry resolves the order here.
	e := submitEnv(t, time.Hour, 3*time.Second, false)
	e.Fund("cxpay", "u3", "BRL", "100")
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/pay/create", "mode": "timeout"})
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/order/query", "mode": "error_5xx"})
	p := brlPayout(e, "u3", "60.00")
	script(e, "cxpay", p.ProviderOrderNo, map[string]any{"outcome": "none", "callbacks": map[string]any{"drop": true}})
	p = e.WaitOrder(p.ID, "unresolved", func(o orders.Order) bool { return o.SubmitState == "unresolved" })
	time.Sleep(time.Until(*p.ExpiresAt) + 50*time.Millisecond)
	n, err := e.Orders.ExpireHolds(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("ExpireHolds = %d, %v; want 0 (the provider may have paid)", n, err)
	}
	if p = e.Order(p.ID); p.Status != orders.StatusCreated {
		t.Fatalf("an unresolved payout was ended (%s) without the provider's word", p.Status)
	}
	balances(t, e, map[string][2]string{"liabilities:customer:u3:BRL": {"100", "40"}})
	ds := e.Discrepancies(discrepancies.StalePending)
	if len(ds) != 1 || ds[0].OrderID != p.ID || ds[0].Status != discrepancies.Open {
		t.Fatalf("stale_pending = %+v", ds)
	}
	// The provider paid it (its callback lost) and answers queries again.
	e.Control("cxpay", "DELETE", "/faults", nil)
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/settle", nil)
	if n, err = e.Orders.ExpireHolds(context.Background()); err != nil || n != 0 {
		t.Fatalf("ExpireHolds = %d, %v; want 0 (the provider settled it)", n, err)
	}
	if p = e.Order(p.ID); p.Status != orders.StatusSucceeded || p.SubmitState != "submitted" {
		t.Fatalf("after the query: %s / %s, want succeeded / submitted", p.Status, p.SubmitState)
	}
	e.WaitIdle()
	balances(t, e, map[string][2]string{
		"liabilities:customer:u3:BRL":    {"40", "40"},
		"assets:provider:cxpay-main:BRL": {"39.4", "39.4"},
		"expenses:fees:cxpay-main:BRL":   {"0.6", "0.6"},
	})
	e.CheckLedger()
}

// A deposit at a provider without an order query (VPay) whose every create
// timed out: it is never failed (only the provider's statement or callback can
// say), and the provider's callback, once the payer pays, settles it and
// records it as submitted.
func TestUnresolvedDepositWithoutQuerySettledByCallback(t *testing.T) {
	t.Parallel()
	e := submitEnv(t, 100*time.Millisecond, 0, true)
	e.Control("vpay", "POST", "/faults", map[string]any{"path": "/create", "mode": "timeout"})
	o := e.CreateOrder("deposit", map[string]any{"provider_account": "vpay-main", "customer_id": "n1", "amount": "100.00", "currency": "CNY", "pay_currency": "USDT"})
	o = e.WaitOrder(o.ID, "unresolved", func(o orders.Order) bool { return o.SubmitState == "unresolved" })
	time.Sleep(1500 * time.Millisecond) // past the grace, and a sync sweep
	if o = e.Order(o.ID); o.Status != orders.StatusCreated || o.SubmitState != "unresolved" {
		t.Fatalf("an unresolved deposit without a query: %s / %s, want created / unresolved", o.Status, o.SubmitState)
	}
	e.Control("vpay", "DELETE", "/faults", nil)
	e.Control("vpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	o = e.WaitStatus(o.ID, orders.StatusSucceeded)
	if o.SubmitState != "submitted" {
		t.Fatalf("settled by its callback: submit state %s, want submitted", o.SubmitState)
	}
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:n1:CNY"); !got.Equal(dec("100")) {
		t.Fatalf("customer = %s, want 100", got)
	}
	e.CheckLedger()
}

// The first create hangs (the provider may yet act on it), the next ones
// answer 500: on the last attempt the query says "no such order", but the
// create that hung could still land, so submit_order does not fail the order:
// it hands it to sync_order, which fails it (and voids the hold) only once the
// grace has passed.
func TestAmbiguousThenRefusedWaitsForTheGrace(t *testing.T) {
	t.Parallel()
	const grace = 1500 * time.Millisecond
	e := submitEnv(t, grace, 0, false)
	e.Fund("cxpay", "u3", "BRL", "100")
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/pay/create", "mode": "hang", "count": 1})
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/pay/create", "mode": "error_5xx"})
	p := brlPayout(e, "u3", "60.00")
	p = e.WaitOrder(p.ID, "unresolved", func(o orders.Order) bool { return o.SubmitState == "unresolved" })
	if p.Status != orders.StatusCreated {
		t.Fatalf("after submit_order gave up: %s, want created (the hung create may still land)", p.Status)
	}
	balances(t, e, map[string][2]string{"liabilities:customer:u3:BRL": {"100", "40"}})
	// Within the grace, the provider's "no such order" fails nothing.
	if _, err := e.Orders.Sync(context.Background(), p.ID); err == nil {
		t.Fatal("sync within the grace: no error, want a TooEarlyError")
	}
	if p = e.Order(p.ID); p.Status != orders.StatusCreated {
		t.Fatalf("within the grace: %s, want created", p.Status)
	}
	time.Sleep(grace)
	res, err := e.Orders.Sync(context.Background(), p.ID)
	if err != nil || res.After != orders.StatusFailed {
		t.Fatalf("sync after the grace: %+v %v, want failed", res, err)
	}
	e.WaitIdle()
	balances(t, e, map[string][2]string{
		"liabilities:customer:u3:BRL":    {"100", "100"},
		"assets:provider:cxpay-main:BRL": {"100", "100"},
	})
	if n := simOrderCount(e, "cxpay", p.ProviderOrderNo); n != 0 {
		t.Fatalf("the provider has %d orders numbered %s, want none", n, p.ProviderOrderNo)
	}
	e.CheckLedger()
}
