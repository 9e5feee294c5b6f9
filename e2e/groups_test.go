package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// TestCallbackGroupsMixedBurst: a burst of callbacks stored while the workers
// are stopped, so that their jobs run together when they start: plain deposits
// settle in group transactions; a payer-modified amount, a payout's settlement
// and a failed payout (a discrepancy, a hold posted, a hold voided) are applied
// each in its own transaction in the same burst. Every callback is delivered
// twice at once. Each order ends where it would alone, posts once, and has one
// webhook job per status change after its creation.
// The same burst with groups off is the reference: every callback alone.
func TestCallbackGroupsMixedBurst(t *testing.T) {
	t.Parallel()
	for _, grouped := range []bool{true, false} {
		t.Run(map[bool]string{true: "groups", false: "alone"}[grouped], func(t *testing.T) {
			t.Parallel()
			mixedBurst(t, grouped)
		})
	}
}

func mixedBurst(t *testing.T, groups bool) {
	e := tallytest.New(t, tallytest.Options{Jobs: jobs.Options{CallbackWorkers: 64}, NoCallbackGroups: !groups})
	const plain = 24
	e.Fund("cxpay", "payee", "BRL", "500")
	var deposits []orders.Order
	for i := range plain {
		deposits = append(deposits, brlDeposit(e, fmt.Sprintf("g%d", i), fmt.Sprintf("%d.00", 10+i)))
	}
	short := brlDeposit(e, "short", "100.00")
	paid := brlPayout(e, "payee", "200.00")
	failed := brlPayout(e, "payee", "100.00")

	ic := e.InterceptCallbacks()
	for _, o := range deposits {
		e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	}
	e.Control("cxpay", "POST", "/orders/"+short.ProviderOrderNo+"/pay", map[string]string{"amount": "90.00"})
	e.Control("cxpay", "POST", "/orders/"+paid.ProviderOrderNo+"/settle", nil)
	e.Control("cxpay", "POST", "/orders/"+failed.ProviderOrderNo+"/fail", map[string]string{"reason": "account closed"})
	all := append(append([]orders.Order{}, deposits...), short, paid, failed)
	var captured []tallytest.CapturedCallback
	for _, o := range all {
		captured = append(captured, ic.WaitFor(o.ProviderOrderNo))
	}
	ic.Release()

	e.StopWorkers()
	before := e.Callbacks.Stats()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, c := range captured {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if status, body := e.Deliver(c, c.Body, nil); status != http.StatusOK {
					t.Errorf("delivery to %s: %d %s", c.Path, status, body)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	var jobsQueued, inboxRows int
	if err := e.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM river_job WHERE kind = 'process_callback' AND state = 'available'),
		(SELECT count(*) FROM callback_inbox WHERE processed_at IS NULL)`).Scan(&jobsQueued, &inboxRows); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d callbacks stored unprocessed, in %d process_callback jobs", inboxRows, jobsQueued)
	if inboxRows != len(all) || jobsQueued >= inboxRows {
		t.Fatalf("%d inbox rows in %d jobs: want %d rows in fewer jobs (one per intake transaction)", inboxRows, jobsQueued, len(all))
	}
	e.StartWorkers()

	for _, o := range deposits {
		e.WaitStatus(o.ID, orders.StatusSucceeded)
	}
	e.WaitStatus(short.ID, orders.StatusSucceeded)
	e.WaitStatus(paid.ID, orders.StatusSucceeded)
	e.WaitStatus(failed.ID, orders.StatusFailed)
	e.WaitIdle()

	stats := e.Callbacks.Stats()
	grouped, alone := stats.Grouped-before.Grouped, stats.Alone-before.Alone
	t.Logf("applied in groups: %d, alone: %d", grouped, alone)
	switch {
	case grouped+alone != int64(len(all)):
		t.Fatalf("applied %d in groups and %d alone, want %d in all", grouped, alone, len(all))
	case groups && (grouped < plain || alone < 3):
		t.Fatalf("applied %d in groups and %d alone; want at least %d grouped (the plain deposits), 3 alone", grouped, alone, plain)
	case !groups && grouped != 0:
		t.Fatalf("groups off, yet %d applied in groups", grouped)
	}

	// The same counts on /metrics (this test's server and workers are one process).
	resp, err := http.Get(e.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for path, want := range map[string]int64{"group": stats.Grouped, "alone": stats.Alone} {
		if line := fmt.Sprintf("tally_callbacks_applied_total{path=%q} %d\n", path, want); !strings.Contains(string(page), line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	clearing := decimal.Zero
	for i, o := range deposits {
		amt := dec(fmt.Sprint(10 + i))
		if got := e.Balance(fmt.Sprintf("liabilities:customer:g%d:BRL", i)); !got.Equal(amt) {
			t.Errorf("customer g%d = %s, want %s", i, got, amt)
		}
		clearing = clearing.Add(amt).Sub(amt.Div(dec("100"))) // the 1% fee
		got := e.Order(o.ID)
		if !got.PaidAmount.Decimal.Equal(amt) || !got.Fee.Decimal.Equal(amt.Div(dec("100"))) {
			t.Errorf("order %d paid %s fee %s, want %s and 1%%", o.ID, got.PaidAmount.Decimal, got.Fee.Decimal, amt)
		}
	}
	// 90 paid of 100 (0.9 fee), 500 funded, 200 paid out with a 2 fee; the
	// failed payout's hold released.
	clearing = clearing.Add(dec("89.1")).Add(dec("500")).Sub(dec("202"))
	for acct, want := range map[string]decimal.Decimal{
		"assets:provider:cxpay-main:BRL": clearing,
		"liabilities:suspense:BRL":       dec("90"),
		"liabilities:customer:short:BRL": dec("0"),
		"liabilities:customer:payee:BRL": dec("300"),
	} {
		if got := e.Balance(acct); !got.Equal(want) {
			t.Errorf("%s = %s, want %s", acct, got, want)
		}
	}
	if got := e.Available("liabilities:customer:payee:BRL"); !got.Equal(dec("300")) {
		t.Errorf("payee available = %s, want 300 (the failed payout's hold voided)", got)
	}
	if ds := e.Discrepancies(discrepancies.AmountMismatch); len(ds) != 1 || ds[0].OrderID != short.ID || !ds[0].AmountDelta.Equal(dec("-10")) {
		t.Errorf("amount_mismatch discrepancies = %+v, want one for order %d, delta -10", ds, short.ID)
	}

	for _, o := range all {
		var rows, applied, changes, webhooks, settled int
		if err := e.Pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM callback_inbox WHERE order_id = $1),
			(SELECT count(*) FROM callback_inbox WHERE order_id = $1 AND outcome = 'applied' AND processed_at IS NOT NULL),
			(SELECT count(*) FROM order_events WHERE order_id = $1 AND from_status <> to_status AND from_status <> ''),
			(SELECT count(*) FROM order_events ev WHERE ev.order_id = $1 AND ev.from_status <> ev.to_status
				AND (EXISTS (SELECT 1 FROM webhook_outbox w WHERE w.event_id = ev.id AND w.order_id = $1)
				     OR EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id AND d.order_id = $1))),
			(SELECT count(*) FROM order_events WHERE order_id = $1 AND source = 'callback' AND to_status IN ('succeeded', 'failed')
				AND from_status <> to_status AND detail ? 'callback_id')`, o.ID).Scan(&rows, &applied, &changes, &webhooks, &settled); err != nil {
			t.Fatal(err)
		}
		if rows != 1 || applied != 1 || webhooks != changes || settled != 1 {
			t.Errorf("order %d: %d inbox rows (%d applied), %d status changes after creation with %d webhook jobs, %d final events from a callback; want 1, 1, equal, 1",
				o.ID, rows, applied, changes, webhooks, settled)
		}
	}
	e.CheckLedger()
}

// TestLostCallbackJobRequeued: a stored callback whose process_callback job was
// lost (River discarded it) is queued again by requeue_callbacks and applied
// once; applying it again, alone or in a group, changes nothing.
func TestLostCallbackJobRequeued(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	o := brlDeposit(e, "lost", "42.00")
	ic := e.InterceptCallbacks()
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	c := ic.WaitFor(o.ProviderOrderNo)
	ic.Release()
	e.StopWorkers()
	if status, body := e.Deliver(c, c.Body, nil); status != http.StatusOK {
		t.Fatalf("delivery: %d %s", status, body)
	}
	var inboxID int64
	if err := e.Pool.QueryRow(ctx, `SELECT id FROM callback_inbox WHERE processed_at IS NULL`).Scan(&inboxID); err != nil {
		t.Fatal(err)
	}
	tag, err := e.Pool.Exec(ctx, `DELETE FROM river_job WHERE kind = 'process_callback'`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("drop the job: %v, %d rows", err, tag.RowsAffected())
	}
	// Not stale yet: nothing to do.
	if n, err := e.Runner.RequeueCallbacks(ctx, time.Now().Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("requeue before the cutoff: %d, %v; want 0", n, err)
	}
	if n, err := e.Runner.RequeueCallbacks(ctx, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("requeue: %d, %v; want 1", n, err)
	}
	e.StartWorkers()
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if n, err := e.Runner.RequeueCallbacks(ctx, time.Now().Add(time.Second)); err != nil || n != 0 {
		t.Fatalf("requeue after it was applied: %d, %v; want 0", n, err)
	}

	events := func() int {
		var n int
		if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM order_events WHERE order_id = $1`, o.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := events()
	if err := e.Callbacks.Process(ctx, inboxID, inboxID); err != nil {
		t.Fatal(err)
	}
	if err := e.Callbacks.Process(ctx, inboxID); err != nil {
		t.Fatal(err)
	}
	var outcome string
	if err := e.Pool.QueryRow(ctx, `SELECT outcome FROM callback_inbox WHERE id = $1`, inboxID).Scan(&outcome); err != nil {
		t.Fatal(err)
	}
	if after := events(); after != before || outcome != "applied" {
		t.Fatalf("applying a processed callback again: %d events (was %d), outcome %q; want unchanged, applied", after, before, outcome)
	}
	if got := e.Balance("liabilities:customer:lost:BRL"); !got.Equal(dec("42")) {
		t.Fatalf("customer = %s, want 42", got)
	}
	e.CheckLedger()
}
