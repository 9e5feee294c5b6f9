package cxpay

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// eventsByStatus indexes received events by status, failing on a repeat.
func eventsByStatus(t *testing.T, evs []*providers.Event) map[providers.Status]*providers.Event {
	t.Helper()
	m := map[providers.Status]*providers.Event{}
	for _, ev := range evs {
		if _, dup := m[ev.Status]; dup {
			t.Fatalf("two %s callbacks: %+v", ev.Status, evs)
		}
		m[ev.Status] = ev
	}
	return m
}

func TestScriptExpire(t *testing.T) {
	e := newEnv(t)
	e.control(http.MethodPut, "/scripts/E1", `{"outcome":"expire","after":"10m"}`)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("E1", "25")); err != nil {
		t.Fatal(err)
	}
	cb := e.rcv.waitEvents(t, 1)[0]
	if cb.Status != providers.StatusFailed || cb.ProviderStatus != "2" || cb.Remark != "order expired" {
		t.Fatalf("callback = %+v", cb)
	}
	wantAmount(t, "Paid", cb.Paid, "")
	ev, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{OrderNo: "E1"})
	if err != nil || ev.Status != providers.StatusFailed {
		t.Fatalf("query = %+v, %v", ev, err)
	}
	e.wantBalance("1000", "1000")
}

func TestScriptFail(t *testing.T) {
	e := newEnv(t)
	e.control(http.MethodPut, "/scripts/F1", `{"outcome":"fail","reason":"payer bank declined"}`)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("F1", "25")); err != nil {
		t.Fatal(err)
	}
	cb := e.rcv.waitEvents(t, 1)[0]
	if cb.Status != providers.StatusFailed || cb.Remark != "payer bank declined" {
		t.Fatalf("callback = %+v", cb)
	}
}

// A scripted payer-modified amount, as the control API sets it.
func TestScriptPayDifferentAmount(t *testing.T) {
	e := newEnv(t)
	e.control(http.MethodPut, "/scripts/M1", `{"outcome":"succeed","amount":"120.00"}`)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("M1", "100")); err != nil {
		t.Fatal(err)
	}
	cb := e.rcv.waitEvents(t, 1)[0]
	wantAmount(t, "Paid", cb.Paid, "120")
	wantAmount(t, "Fee", cb.Fee, "1.2")
	wantAmount(t, "Requested", cb.Requested, "")
	e.wantBalance("1118.8", "1118.8")
}

// A reversal after success: the callback says status 1 with reverse=true; the
// query, which has no reverse flag, keeps reading paid.
func TestScriptReverseAfterSuccess(t *testing.T) {
	e := newEnv(t)
	e.control(http.MethodPut, "/scripts/R1", `{"outcome":"succeed","reverse_after":"1m"}`)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("R1", "100")); err != nil {
		t.Fatal(err)
	}
	byStatus := eventsByStatus(t, e.rcv.waitEvents(t, 2))
	paid, rev := byStatus[providers.StatusSucceeded], byStatus[providers.StatusReversed]
	if paid == nil || rev == nil || paid.Reversed || !rev.Reversed || rev.ProviderStatus != "1" || rev.Remark != "order reversed" {
		t.Fatalf("callbacks = %+v", byStatus)
	}
	wantAmount(t, "reversed Paid", rev.Paid, "100")
	wantAmount(t, "reversed Fee", rev.Fee, "1")
	e.wantBalance("1000", "1000")
	ev, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{OrderNo: "R1"})
	if err != nil || ev.Status != providers.StatusSucceeded || ev.Reversed {
		t.Fatalf("query after reversal = %+v, %v (CXPay's query has no reverse flag)", ev, err)
	}
}

// A payout reversed after it settled: the debit comes back.
func TestPayoutReversed(t *testing.T) {
	e := newEnv(t)
	if _, err := e.ad.CreatePayout(context.Background(), e.payout("PR1", "100")); err != nil {
		t.Fatal(err)
	}
	e.control(http.MethodPost, "/orders/PR1/settle", "")
	e.rcv.waitEvents(t, 1)
	e.wantBalance("897", "897")
	e.control(http.MethodPost, "/orders/PR1/reverse", "")
	evs := e.rcv.waitEvents(t, 2)
	if evs[1].Status != providers.StatusReversed || !evs[1].Reversed {
		t.Fatalf("second callback = %+v", evs[1])
	}
	e.wantBalance("1000", "1000")
}

func TestCallbackDropped(t *testing.T) {
	e := newEnv(t)
	e.control(http.MethodPut, "/scripts/X1", `{"outcome":"succeed","callbacks":{"drop":true}}`)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("X1", "10")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "payment", func() bool { return e.order("X1").Status == providers.StatusSucceeded })
	time.Sleep(100 * time.Millisecond)
	if evs, errs := e.rcv.snapshot(); len(evs)+len(errs) != 0 || len(e.sim.Engine().Deliveries()) != 0 {
		t.Fatalf("a dropped callback arrived: %v %v", evs, errs)
	}
	// Only the query tells tally the order was paid.
	ev, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{OrderNo: "X1"})
	if err != nil || ev.Status != providers.StatusSucceeded {
		t.Fatalf("query = %+v, %v", ev, err)
	}
	wantInjected(t, e, sim.FaultDropCallback, "X1")
}

func TestCallbackDuplicated(t *testing.T) {
	e := newEnv(t)
	e.control(http.MethodPut, "/scripts/X2", `{"outcome":"succeed","callbacks":{"duplicate":2}}`)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("X2", "10")); err != nil {
		t.Fatal(err)
	}
	evs := e.rcv.waitEvents(t, 3)
	for _, ev := range evs {
		if ev.Status != providers.StatusSucceeded || string(ev.Raw) != string(evs[0].Raw) {
			t.Fatalf("duplicates differ: %s vs %s", ev.Raw, evs[0].Raw)
		}
	}
	waitFor(t, "3 acked deliveries", func() bool { return countAcked(e.sim.Engine().Deliveries()) == 3 })
	copies := map[int]bool{}
	for _, d := range e.sim.Engine().Deliveries() {
		copies[d.Copy] = true
	}
	if len(copies) != 3 {
		t.Fatalf("deliveries = %+v", e.sim.Engine().Deliveries())
	}
	wantInjected(t, e, sim.FaultDuplicateCallback, "X2")
}

// Reordered: the reversal's callback arrives before the payment's.
func TestCallbacksReordered(t *testing.T) {
	e := newEnv(t)
	e.control(http.MethodPut, "/scripts/X3", `{"outcome":"succeed","reverse_after":"1m","callbacks":{"reorder":true}}`)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("X3", "10")); err != nil {
		t.Fatal(err)
	}
	evs := e.rcv.waitEvents(t, 2)
	if evs[0].Status != providers.StatusReversed || evs[1].Status != providers.StatusSucceeded {
		t.Fatalf("order of callbacks: %s then %s, want reversed then succeeded", evs[0].Status, evs[1].Status)
	}
	wantInjected(t, e, sim.FaultReorderCallbacks, "X3")
}

func TestCallbackDelayed(t *testing.T) {
	e := newEnv(t)
	e.control(http.MethodPut, "/scripts/X4", `{"outcome":"succeed","callbacks":{"delay":"6m"}}`)
	start := time.Now()
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("X4", "10")); err != nil {
		t.Fatal(err)
	}
	e.rcv.waitEvents(t, 1)
	// The engine records a delivery after the receiver has answered it: wait for the record.
	waitFor(t, "delivery recorded", func() bool { return len(e.sim.Engine().Deliveries()) > 0 })
	// 6 minutes at scale 1200 is 300 ms.
	if d := e.sim.Engine().Deliveries(); len(d) != 1 || d[0].At.Sub(start) < 300*time.Millisecond {
		t.Fatalf("delivered after %s, want at least 300ms: %+v", d[0].At.Sub(start), d)
	}
	wantInjected(t, e, sim.FaultDelayCallback, "X4")
}

// A forged callback (altered amount, signature that does not verify) arrives
// first: the receiver refuses it with 400; the genuine one follows.
func TestCallbackBadSignature(t *testing.T) {
	e := newEnv(t)
	e.control(http.MethodPut, "/scripts/X5", `{"outcome":"succeed","callbacks":{"bad_signature":true}}`)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("X5", "10")); err != nil {
		t.Fatal(err)
	}
	evs := e.rcv.waitEvents(t, 1)
	wantAmount(t, "genuine Paid", evs[0].Paid, "10")
	waitFor(t, "forged delivery", func() bool { _, errs := e.rcv.snapshot(); return len(errs) == 1 })
	_, errs := e.rcv.snapshot()
	if !errors.Is(errs[0], providers.ErrBadSignature) {
		t.Fatalf("forged callback error = %v", errs[0])
	}
	// The engine records a delivery after the receiver has answered it: wait for the record.
	var forged *sim.Delivery
	waitFor(t, "forged delivery recorded", func() bool {
		for _, d := range e.sim.Engine().Deliveries() {
			if d.Forged {
				forged = &d
				return true
			}
		}
		return false
	})
	if forged == nil || forged.Acked || forged.Status != http.StatusBadRequest {
		t.Fatalf("forged delivery = %+v", forged)
	}
	wantInjected(t, e, sim.FaultBadSignature, "X5")
}

// The merchant does not acknowledge: CXPay pushes eight times within 40
// minutes on RetrySchedule (scaled 1200x: two seconds), then gives up.
func TestRetryScheduleUntilGiveUp(t *testing.T) {
	e := newEnv(t)
	e.rcv.setFailFirst(1000)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("S1", "10")); err != nil {
		t.Fatal(err)
	}
	e.control(http.MethodPost, "/orders/S1/pay", "")
	waitFor(t, "8 attempts", func() bool { return len(e.sim.Engine().Deliveries()) == 8 })
	time.Sleep(700 * time.Millisecond) // longer than the last gap: no ninth push
	ds := e.sim.Engine().Deliveries()
	if len(ds) != 8 {
		t.Fatalf("%d pushes, want 8", len(ds))
	}
	var total time.Duration
	for _, d := range RetrySchedule {
		total += d
	}
	if total != 40*time.Minute || len(RetrySchedule) != 7 {
		t.Fatalf("schedule spans %s in %d pushes, want 40m in 8", total, len(RetrySchedule)+1)
	}
	for i, d := range ds {
		if d.Attempt != i+1 || d.Acked || d.Status != http.StatusInternalServerError {
			t.Fatalf("delivery %d = %+v", i, d)
		}
		if i == 0 {
			continue
		}
		gap, want := d.At.Sub(ds[i-1].At), RetrySchedule[i-1]/testScale
		if gap < want*9/10 || gap > want+400*time.Millisecond {
			t.Fatalf("gap before push %d = %s, want about %s (%s scaled)", i+1, gap, want, RetrySchedule[i-1])
		}
	}
	if span := ds[7].At.Sub(ds[0].At); span < 2*time.Second*9/10 {
		t.Fatalf("pushes span %s, want about 2s (40 minutes scaled)", span)
	}
}

// The receiver fails three times (a database outage) and then stores the
// callback: the fourth push is acknowledged and the pushes stop.
func TestRetryUntilAck(t *testing.T) {
	e := newEnv(t)
	e.rcv.setFailFirst(3)
	if _, err := e.ad.CreateDeposit(context.Background(), e.deposit("S2", "10")); err != nil {
		t.Fatal(err)
	}
	e.control(http.MethodPost, "/orders/S2/pay", "")
	e.rcv.waitEvents(t, 1)
	time.Sleep(400 * time.Millisecond)
	ds := e.sim.Engine().Deliveries()
	if len(ds) != 4 || !ds[3].Acked || ds[3].Attempt != 4 || countAcked(ds) != 1 {
		t.Fatalf("deliveries = %+v", ds)
	}
	if gap := ds[3].At.Sub(ds[2].At); gap < RetrySchedule[2]/testScale*9/10 {
		t.Fatalf("third gap %s, want about %s", gap, RetrySchedule[2]/testScale)
	}
}

func TestEndpoint5xx(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, path := range []string{PathCollectCreate, PathPayCreate, PathOrderQuery, PathOrderBalance} {
		e.control(http.MethodPost, "/faults", `{"path":"`+path+`","mode":"error_5xx","count":1}`)
	}
	_, err := e.ad.CreateDeposit(ctx, e.deposit("F1", "10"))
	wantKind(t, err, providers.ErrAmbiguous)
	_, err = e.ad.CreatePayout(ctx, e.payout("F2", "10"))
	wantKind(t, err, providers.ErrAmbiguous)
	_, err = e.ad.QueryOrder(ctx, providers.OrderQuery{OrderNo: "F1"})
	wantKind(t, err, providers.ErrTransient)
	_, err = e.ad.QueryBalances(ctx)
	wantKind(t, err, providers.ErrTransient)
	// A 5xx does not act: the orders do not exist, and the balance is whole.
	_, err = e.ad.QueryOrder(ctx, providers.OrderQuery{OrderNo: "F1"})
	wantKind(t, err, providers.ErrNotFound)
	e.wantBalance("1000", "1000")
	wantInjected(t, e, sim.FaultEndpoint5xx, "")
}

// A create that times out: the provider acted, the caller cannot know. The
// adapter says ErrAmbiguous, and the query finds the order.
func TestEndpointTimeoutOnCreate(t *testing.T) {
	e := newEnv(t, func(c *envConfig) { c.adapter.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
	ctx := context.Background()
	e.control(http.MethodPost, "/faults", `{"path":"/collect/create","mode":"timeout","count":1}`)
	_, err := e.ad.CreateDeposit(ctx, e.deposit("T1", "10"))
	wantKind(t, err, providers.ErrAmbiguous)
	ev, err := e.ad.QueryOrder(ctx, providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "T1"})
	if err != nil || ev.Status != providers.StatusPending || ev.ProviderOrderID != e.order("T1").ID {
		t.Fatalf("query after timeout = %+v, %v", ev, err)
	}

	e.control(http.MethodPost, "/faults", `{"path":"/pay/create","mode":"timeout","count":1}`)
	_, err = e.ad.CreatePayout(ctx, e.payout("T2", "10"))
	wantKind(t, err, providers.ErrAmbiguous)
	ev, err = e.ad.QueryOrder(ctx, providers.OrderQuery{Kind: providers.KindPayout, OrderNo: "T2"})
	if err != nil || ev.Status != providers.StatusProcessing {
		t.Fatalf("payout query after timeout = %+v, %v", ev, err)
	}
	e.wantBalance("1000", "988.8") // 10 + 0.2 + 1 frozen

	// A hanging query is transient.
	e.control(http.MethodPost, "/faults", `{"path":"/order/query","mode":"hang","count":1}`)
	_, err = e.ad.QueryOrder(ctx, providers.OrderQuery{OrderNo: "T1"})
	wantKind(t, err, providers.ErrTransient)
	wantInjected(t, e, sim.FaultEndpointTimeout, "")
}

func countAcked(ds []sim.Delivery) int {
	n := 0
	for _, d := range ds {
		if d.Acked {
			n++
		}
	}
	return n
}

func wantInjected(t *testing.T, e *testEnv, kind sim.FaultKind, orderNo string) {
	t.Helper()
	for _, in := range e.sim.Engine().Injected() {
		if in.Kind == kind && (orderNo == "" || in.OrderNo == orderNo) && in.Provider == Name {
			return
		}
	}
	t.Fatalf("no %s injection for %q in %+v", kind, orderNo, e.sim.Engine().Injected())
}
