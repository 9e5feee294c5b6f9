package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/cxpay"
	"github.com/tallyhq/tally/tallytest"
	"github.com/tallyhq/tally/webhooks"
)

// brlDeposit creates a CXPay deposit of amount BRL for customer.
func brlDeposit(e *tallytest.Env, customer, amount string) orders.Order {
	e.T.Helper()
	return e.CreateOrder("deposit", map[string]any{"provider_account": "cxpay-main", "customer_id": customer, "amount": amount, "currency": "BRL",
		"payer": map[string]string{"name": "Ana", "tax_id": "12345678901", "email": "ana@example.com", "phone": "+5511999999999"}})
}

func brlPayout(e *tallytest.Env, customer, amount string) orders.Order {
	e.T.Helper()
	return e.CreateOrder("payout", map[string]any{"provider_account": "cxpay-main", "customer_id": customer, "amount": amount, "currency": "BRL",
		"beneficiary": map[string]string{"name": "Ana", "account": "12345-6", "account_type": "CPF", "tax_id": "12345678901", "email": "ana@example.com", "phone": "+5511999999999"}})
}

func script(e *tallytest.Env, provider, orderNo string, s map[string]any) {
	e.T.Helper()
	e.Control(provider, "PUT", "/scripts/"+orderNo, s)
}

func TestPayerModifiedAmount(t *testing.T) {
	t.Parallel()
	for _, policy := range []merchants.AmountPolicy{merchants.HoldInSuspense, merchants.CreditReceived} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			e := tallytest.New(t, tallytest.Options{AmountPolicy: policy})
			o := brlDeposit(e, "c1", "100.00")
			e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", map[string]string{"amount": "90.00"})
			o = e.WaitStatus(o.ID, orders.StatusSucceeded)
			e.WaitIdle()
			if !o.PaidAmount.Decimal.Equal(dec("90")) || !o.Fee.Decimal.Equal(dec("0.9")) {
				t.Fatalf("order paid %s fee %s, want 90 and 0.9", o.PaidAmount.Decimal, o.Fee.Decimal)
			}
			cust, susp := e.Balance("liabilities:customer:c1:BRL"), e.Balance("liabilities:suspense:BRL")
			if policy == merchants.HoldInSuspense && (!cust.IsZero() || !susp.Equal(dec("90"))) {
				t.Fatalf("hold_in_suspense: customer %s suspense %s, want 0 and 90", cust, susp)
			}
			if policy == merchants.CreditReceived && (!cust.Equal(dec("90")) || !susp.IsZero()) {
				t.Fatalf("credit_received: customer %s suspense %s, want 90 and 0", cust, susp)
			}
			if got := e.Balance("assets:provider:cxpay-main:BRL"); !got.Equal(dec("89.1")) {
				t.Fatalf("clearing = %s, want 89.1", got)
			}
			ds := e.Discrepancies(discrepancies.AmountMismatch)
			if len(ds) != 1 || !ds[0].AmountDelta.Equal(dec("-10")) || ds[0].OrderID != o.ID || ds[0].Status != discrepancies.Open {
				t.Fatalf("amount_mismatch discrepancies = %+v", ds)
			}
			e.CheckLedger()
		})
	}
}

func TestPayoutSettlesAndFailureVoidsHold(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	e.Fund("cxpay", "c2", "BRL", "500")
	p := brlPayout(e, "c2", "200.00")
	if got := e.Available("liabilities:customer:c2:BRL"); !got.Equal(dec("300")) {
		t.Fatalf("available during hold = %s, want 300", got)
	}
	e.Control("cxpay", "POST", "/orders/"+p.ProviderOrderNo+"/settle", nil)
	p = e.WaitStatus(p.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:c2:BRL"); !got.Equal(dec("300")) {
		t.Fatalf("customer after payout = %s, want 300", got)
	}
	// 500 funded - 200 paid out - 2 fee (1%).
	if got := e.Balance("assets:provider:cxpay-main:BRL"); !got.Equal(dec("298")) {
		t.Fatalf("clearing after payout = %s, want 298", got)
	}
	f := brlPayout(e, "c2", "100.00")
	if got := e.Available("liabilities:customer:c2:BRL"); !got.Equal(dec("200")) {
		t.Fatalf("available during second hold = %s, want 200", got)
	}
	e.Control("cxpay", "POST", "/orders/"+f.ProviderOrderNo+"/fail", map[string]string{"reason": "account closed"})
	f = e.WaitStatus(f.ID, orders.StatusFailed)
	e.WaitIdle()
	if got := e.Available("liabilities:customer:c2:BRL"); !got.Equal(dec("300")) {
		t.Fatalf("available after failed payout = %s, want 300", got)
	}
	// A payout larger than the balance is refused whole, nothing stored.
	r := e.API("POST", "/v1/payouts", map[string]any{"provider_account": "cxpay-main", "customer_id": "c2", "amount": "300.01", "currency": "BRL",
		"beneficiary": map[string]string{"name": "Ana", "account": "1", "account_type": "CPF", "tax_id": "1", "email": "a@b.c", "phone": "1"}}, "Idempotency-Key", "too-much")
	if r.Status != http.StatusUnprocessableEntity || !contains(r.Body, "insufficient_funds") {
		t.Fatalf("overdraft payout: %d %s", r.Status, r.Body)
	}
	e.CheckLedger()
}

func TestReversalAfterSuccess(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "c3", "50.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/reverse", nil)
	o = e.WaitStatus(o.ID, orders.StatusReversed)
	e.WaitIdle()
	for acct, want := range map[string]string{"liabilities:customer:c3:BRL": "0", "assets:provider:cxpay-main:BRL": "0", "expenses:fees:cxpay-main:BRL": "0"} {
		if got := e.Balance(acct); !got.Equal(dec(want)) {
			t.Errorf("%s = %s, want %s after the reversal", acct, got, want)
		}
	}
	ds := e.Discrepancies(discrepancies.Reversal)
	if len(ds) != 1 || ds[0].OrderID != o.ID || !ds[0].AmountDelta.Equal(dec("-50")) {
		t.Fatalf("reversal discrepancies = %+v", ds)
	}
	evs := e.Webhooks.For(o.ID)
	if len(evs) == 0 || evs[len(evs)-1].ToStatus != "reversed" {
		t.Fatalf("webhooks = %+v, want the last one reversed", evs)
	}
	e.CheckLedger()
}

func TestReversalOvertakesSuccess(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "c4", "40.00")
	script(e, "cxpay", o.ProviderOrderNo, map[string]any{"outcome": "succeed", "reverse_after": "30s", "callbacks": map[string]any{"reorder": true}})
	o = e.WaitStatus(o.ID, orders.StatusReversed)
	// The overtaken success callback arrives after the reversal: wait until
	// the provider has had both callbacks acknowledged and tally has applied
	// both (whichever came first).
	e.Eventually("both callbacks acknowledged and applied", func() bool {
		var dl []struct {
			OrderNo string `json:"order_no"`
			Event   int    `json:"event"`
			Acked   bool   `json:"acked"`
		}
		e.Control("cxpay", "GET", "/deliveries", nil).JSON(t, &dl)
		acked := map[int]bool{}
		for _, d := range dl {
			if d.OrderNo == o.ProviderOrderNo && d.Acked {
				acked[d.Event] = true
			}
		}
		var rows, processed int
		if err := e.Pool.QueryRow(context.Background(), `SELECT count(*), count(processed_at)
			FROM callback_inbox WHERE order_id = $1 OR (order_id IS NULL AND processed_at IS NULL)`, o.ID).Scan(&rows, &processed); err != nil {
			t.Fatal(err)
		}
		return len(acked) >= 2 && rows >= 2 && processed == rows
	})
	e.WaitIdle()
	if o = e.Order(o.ID); o.Status != orders.StatusReversed {
		t.Fatalf("a stale success moved a reversed order back to %s", o.Status)
	}
	if got := e.Balance("liabilities:customer:c4:BRL"); !got.IsZero() {
		t.Fatalf("customer = %s, want 0", got)
	}
	e.CheckLedger()
}

func TestBadSignatureRejectedThenGenuineProcessed(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "c5", "10.00")
	script(e, "cxpay", o.ProviderOrderNo, map[string]any{"outcome": "succeed", "callbacks": map[string]any{"bad_signature": true}})
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	ds := e.Discrepancies(discrepancies.RejectedCallback)
	if len(ds) != 1 {
		t.Fatalf("rejected_callback discrepancies = %d, want 1", len(ds))
	}
	if got := e.Balance("liabilities:customer:c5:BRL"); !got.Equal(dec("10")) {
		t.Fatalf("customer = %s, want 10 (the forged copy claimed another amount)", got)
	}
	// The forged copy was answered with CXPay's failure answer (400), the
	// genuine one acknowledged.
	var dl []struct {
		OrderNo string `json:"order_no"`
		Forged  bool   `json:"forged"`
		Status  int    `json:"status"`
		Acked   bool   `json:"acked"`
	}
	e.Control("cxpay", "GET", "/deliveries", nil).JSON(t, &dl)
	forged, genuine := 0, 0
	for _, d := range dl {
		switch {
		case d.OrderNo != o.ProviderOrderNo:
		case d.Forged && d.Status == http.StatusBadRequest && !d.Acked:
			forged++
		case !d.Forged && d.Status == http.StatusOK && d.Acked:
			genuine++
		default:
			t.Errorf("delivery %+v", d)
		}
	}
	if forged < 1 || genuine != 1 {
		t.Fatalf("deliveries: %d forged answered 400, %d genuine acknowledged; want at least 1 and 1", forged, genuine)
	}
	// The forged copy is stored, rejected, with why, and the discrepancy points at it.
	var inboxID int64
	var verdict, errText, path, query string
	var body []byte
	var processed bool
	if err := e.Pool.QueryRow(context.Background(), `SELECT id, verdict, error, body, path, query, processed_at IS NOT NULL FROM callback_inbox
		WHERE verdict = 'rejected'`).Scan(&inboxID, &verdict, &errText, &body, &path, &query, &processed); err != nil {
		t.Fatalf("the rejected inbox row: %v", err)
	}
	if !strings.Contains(errText, "signature") || !strings.Contains(string(body), o.ProviderOrderNo) || processed {
		t.Fatalf("rejected row: error %q processed %v body %s", errText, processed, body)
	}
	var detail struct {
		InboxID int64 `json:"inbox_id"`
	}
	if err := json.Unmarshal(ds[0].Detail, &detail); err != nil || detail.InboxID != inboxID {
		t.Fatalf("the discrepancy names inbox row %d (%v), want %d", detail.InboxID, err, inboxID)
	}
	// The same forgery again gets the same answer and stays one rejected row.
	status, answer := e.Deliver(tallytest.CapturedCallback{Method: "POST", Path: path, RawQuery: query,
		Header: http.Header{"Content-Type": {"application/json"}}}, body, nil)
	if status != http.StatusBadRequest || answer != "fail" {
		t.Fatalf("a forged callback was answered %d %q, want 400 \"fail\"", status, answer)
	}
	var rejected int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM callback_inbox WHERE verdict = 'rejected'`).Scan(&rejected); err != nil || rejected != 1 {
		t.Fatalf("rejected rows = %d, %v; want 1", rejected, err)
	}
	e.CheckLedger()
}

func TestDroppedCallbackRepairedBySync(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{Jobs: jobs.Options{Schedule: true, SyncEvery: time.Second, SyncAge: time.Millisecond}})
	o := brlDeposit(e, "c6", "25.00")
	script(e, "cxpay", o.ProviderOrderNo, map[string]any{"outcome": "succeed", "callbacks": map[string]any{"drop": true}})
	o = e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:c6:BRL"); !got.Equal(dec("25")) {
		t.Fatalf("customer = %s, want 25", got)
	}
	tl, err := e.Orders.Timeline(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := tl[len(tl)-1]; last.Source != "query" || last.ToStatus != "succeeded" {
		t.Fatalf("the success came from %s, want a query (the callback was dropped)", last.Source)
	}
	e.CheckLedger()
}

func TestCreateFaults(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	// Two 5xx answers: submit_order retries until the provider takes the order.
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/collect/create", "mode": "error_5xx", "count": 2})
	o := brlDeposit(e, "c7", "12.00")
	o = e.WaitOrder(o.ID, "submitted", func(o orders.Order) bool { return o.SubmitState == "submitted" })
	if o.Status != orders.StatusPending || o.CashierURL == "" {
		t.Fatalf("after retries: %+v", o)
	}
	// A timeout after the provider acted: ambiguous, then the query finds the
	// order and it is not created twice.
	e.Control("cxpay", "POST", "/faults", map[string]any{"path": "/collect/create", "mode": "timeout", "count": 1})
	a := brlDeposit(e, "c7", "13.00")
	a = e.WaitOrder(a.ID, "submitted after an ambiguous create", func(o orders.Order) bool { return o.SubmitState == "submitted" })
	var at struct{ Data []map[string]any }
	e.Control("cxpay", "GET", "/orders", nil).JSON(t, &at.Data)
	n := 0
	for _, so := range at.Data {
		if so["order_no"] == a.ProviderOrderNo {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("provider has %d orders numbered %s, want exactly 1", n, a.ProviderOrderNo)
	}
	// The order created through the ambiguous path settles like any other (a
	// definite rejection: TestDefiniteRejectionFailsPayoutAndVoidsHold).
	e.Control("cxpay", "POST", "/orders/"+a.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(a.ID, orders.StatusSucceeded)
	e.WaitIdle()
	e.CheckLedger()
}

// The provider refuses a payout outright (its balance there is short): the
// order fails at once, its hold is voided, nothing is paid or charged.
func TestDefiniteRejectionFailsPayoutAndVoidsHold(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	e.Fund("cxpay", "big", "BRL", "150000")
	before := simBalance(e, "cxpay", "BRL")
	// The sandbox merchant holds 100,000 BRL at CXPay: 120,000 is refused.
	p := brlPayout(e, "big", "120000.00")
	p = e.WaitStatus(p.ID, orders.StatusFailed)
	// The merchant reads tally's words; the provider's ("insufficient
	// balance") are on the staff timeline only.
	if p.SubmitState != "rejected" || p.LastErrorCode != "provider_rejected" || strings.Contains(p.LastError, "insufficient balance") {
		t.Fatalf("refused payout: submit %s, last error %s %q", p.SubmitState, p.LastErrorCode, p.LastError)
	}
	staff, err := e.Orders.StaffTimeline(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(staff); !strings.Contains(string(b), "insufficient balance") {
		t.Fatalf("the provider's refusal is not on the staff timeline: %s", b)
	}
	e.WaitIdle()
	balances(t, e, map[string][2]string{
		"liabilities:customer:big:BRL":   {"150000", "150000"},
		"assets:provider:cxpay-main:BRL": {"150000", "150000"},
		"expenses:fees:cxpay-main:BRL":   {"0", "0"},
	})
	if n := simOrderCount(e, "cxpay", p.ProviderOrderNo); n != 0 {
		t.Fatalf("the provider has %d orders numbered %s, want none", n, p.ProviderOrderNo)
	}
	if after := simBalance(e, "cxpay", "BRL"); !after.Equal(before) {
		t.Fatalf("the provider's balance moved from %s to %s for a refused payout", before, after)
	}
	var sawFailed bool
	e.Eventually("the failed webhook", func() bool {
		for _, ev := range e.Webhooks.For(p.ID) {
			sawFailed = sawFailed || ev.ToStatus == "failed"
		}
		return sawFailed
	})
	e.CheckLedger()
}

func TestUnknownOrderCallbackGoesToSuspense(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	// Another system uses the same CXPay credentials with tally's notify URL.
	ad, err := cxpay.New(providers.Config{Account: "cxpay-main", BaseURL: e.SandboxURL + "/cxpay", MerchantID: "M10001",
		Secret: "34797ffec7814a0b", Options: tallytest.AccountOptions("cxpay"), NotifyURL: e.CallbackURL("cxpay"), HTTPClient: e.Egress.Client(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ad.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "STRANGER-1", Amount: dec("77.00"), Currency: "BRL",
		Payer: providers.Party{Name: "X", TaxID: "1", Email: "x@y.z", Phone: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	e.Control("cxpay", "POST", "/orders/STRANGER-1/pay", nil)
	e.Eventually("unknown_order discrepancy", func() bool { return len(e.Discrepancies(discrepancies.UnknownOrder)) == 1 })
	e.WaitIdle()
	if got := e.Balance("liabilities:suspense:BRL"); !got.Equal(dec("77")) {
		t.Fatalf("suspense = %s, want 77", got)
	}
	d := e.Discrepancies(discrepancies.UnknownOrder)[0]
	if !d.SuspenseAmount.Equal(dec("77")) || d.OrderID == 0 {
		t.Fatalf("discrepancy = %+v", d)
	}
	e.CheckLedger()
}

func TestDuplicateStorm(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{Jobs: jobs.Options{CallbackWorkers: 16}})
	const n = 20
	var ids []int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := brlDeposit(e, fmt.Sprintf("s%d", i%4), fmt.Sprintf("%d.00", 10+i))
			// Each callback 1 to 10 times, concurrently.
			script(e, "cxpay", o.ProviderOrderNo, map[string]any{"outcome": "succeed", "callbacks": map[string]any{"duplicate": i % 10}})
			mu.Lock()
			ids = append(ids, o.ID)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	for _, id := range ids {
		e.WaitStatus(id, orders.StatusSucceeded)
	}
	e.WaitIdle()
	total := dec("0")
	for i := 0; i < 4; i++ {
		total = total.Add(e.Balance(fmt.Sprintf("liabilities:customer:s%d:BRL", i)))
	}
	// 10 + 11 + ... + 29 = 390, each posted exactly once.
	if !total.Equal(dec("390")) {
		t.Fatalf("customers hold %s, want 390: some callback posted twice or not at all", total)
	}
	if ds := e.Discrepancies(""); len(ds) != 0 {
		t.Fatalf("identical duplicates opened discrepancies: %+v", ds)
	}
	e.CheckLedger()
}

func TestDatabaseDownAtCallbackThenProviderRetry(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{DBProxy: true})
	o := brlDeposit(e, "c8", "33.00")
	e.DBDown()
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.Eventually("a 503 to the provider", func() bool {
		var ds []map[string]any
		e.Control("cxpay", "GET", "/deliveries", nil).JSON(t, &ds)
		for _, d := range ds {
			if d["status"] == float64(503) {
				return true
			}
		}
		return false
	})
	e.DBUp()
	// Succeeded is written in the transaction that posts; a job that was
	// running when the database went away stays "running" until River's rescuer
	// takes it, so do not wait for an idle queue here.
	o = e.WaitStatus(o.ID, orders.StatusSucceeded)
	if got := e.Balance("liabilities:customer:c8:BRL"); !got.Equal(dec("33")) {
		t.Fatalf("customer = %s, want 33", got)
	}
	e.CheckLedger()
}

func TestWebhookRetriedAndListed(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	e.Webhooks.FailNext(2)
	o := brlDeposit(e, "c9", "5.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.Eventually("both webhooks delivered", func() bool {
		evs := e.Webhooks.For(o.ID)
		seen := map[string]bool{}
		for _, ev := range evs {
			seen[ev.ToStatus] = true
		}
		return seen["pending"] && seen["succeeded"]
	})
	// The receiver sees a webhook before its delivery row is written (after
	// the HTTP call returns): wait on the rows themselves.
	failed, ok := 0, 0
	e.Eventually("the deliveries listed", func() bool {
		r := e.API("GET", fmt.Sprintf("/v1/webhook-deliveries?order_id=%d", o.ID), nil)
		var list struct{ Data []webhooks.Delivery }
		r.JSON(t, &list)
		failed, ok = 0, 0
		for _, d := range list.Data {
			if d.Delivered {
				ok++
			} else {
				failed++
			}
		}
		return failed >= 2 && ok >= 2
	})
	if failed != 2 || ok < 2 {
		t.Fatalf("deliveries: %d failed, %d delivered; want 2 failed and both events delivered", failed, ok)
	}
	if e.Webhooks.Bad() != 0 {
		t.Fatal("a webhook signature did not verify")
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

func TestWorkerKilledMidJobNothingLostOrDoubled(t *testing.T) {
	t.Parallel()
	// No periodic sync: a process_callback lost with the killed worker would
	// not be repaired by a query, so the test sees it. River's rescuer sweeps
	// every 30 s: wait long enough for it. At scale 60 CXPay's pushes (0 to 40
	// documented minutes) span 40 s, so callbacks refused while the database
	// was cut come again.
	e := tallytest.New(t, tallytest.Options{DBProxy: true, Wait: 3 * time.Minute, Scale: 60,
		Jobs: jobs.Options{CallbackWorkers: 8}})
	const n = 30
	ids := make([]int64, n)
	// The first order's row stays locked (by the test's own connection, which
	// the kill does not cut) until the workers are killed: the
	// process_callback job that applies its callback is certainly running,
	// blocked on the lock, when the kill lands, however busy the machine.
	ctx := context.Background()
	hold, err := e.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hold.Rollback(ctx) }()
	for i := range ids {
		o := brlDeposit(e, "k", "1.00")
		ids[i] = o.ID
		if i == 0 {
			if _, err := hold.Exec(ctx, `SELECT id FROM orders WHERE id = $1 FOR UPDATE`, o.ID); err != nil {
				t.Fatal(err)
			}
		}
		// Every payment lands at once: a burst of callbacks, so that the kill
		// lands while process_callback jobs run.
		script(e, "cxpay", o.ProviderOrderNo, map[string]any{"outcome": "succeed", "after": "2s"})
	}
	// Kill the workers once a callback job waits on the locked order.
	e.Eventually("a process_callback job blocked on the held order", func() bool {
		var n int
		_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
			WHERE a.datname = current_database() AND l.locktype IN ('transactionid', 'tuple')`).Scan(&n)
		var running int
		_ = e.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'process_callback' AND state = 'running'`).Scan(&running)
		return n > 0 && running > 0
	})
	e.KillWorkers()
	if err := hold.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Jobs cut off mid-run are left running (their worker could not record an
	// end) or retryable (River recorded the cancellation).
	var interrupted int
	if err := e.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'process_callback' AND (state = 'running' OR (state = 'retryable' AND attempt > 0))`).Scan(&interrupted); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d process_callback jobs cut off by the kill", interrupted)
	if interrupted == 0 {
		t.Fatal("the kill cut off no running job: the test proves nothing")
	}
	e.RestartWorkers(jobs.Options{RescueAfter: 2 * time.Second})
	for _, id := range ids {
		e.WaitStatus(id, orders.StatusSucceeded)
	}
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:k:BRL"); !got.Equal(dec(fmt.Sprint(n))) {
		t.Fatalf("customer = %s, want %d: a callback was lost or posted twice", got, n)
	}
	// Every order was settled by its callback's own job, none by anything else.
	for _, id := range ids {
		tl, err := e.Orders.Timeline(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range tl {
			if ev.ToStatus == "succeeded" && ev.FromStatus != "succeeded" && ev.Source != "callback" {
				t.Fatalf("order %d succeeded through %s, not its callback", id, ev.Source)
			}
		}
	}
	var unprocessed, applied int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE processed_at IS NULL), count(*) FILTER (WHERE outcome = 'applied')
		FROM callback_inbox WHERE order_id = ANY($1) OR order_id IS NULL`, ids).Scan(&unprocessed, &applied); err != nil {
		t.Fatal(err)
	}
	if unprocessed != 0 || applied != n {
		t.Fatalf("inbox: %d callbacks unprocessed, %d applied; want 0 and %d", unprocessed, applied, n)
	}
	var lost int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'process_callback' AND state <> 'completed'`).Scan(&lost); err != nil {
		t.Fatal(err)
	}
	if lost != 0 {
		t.Fatalf("%d process_callback jobs did not complete", lost)
	}
	e.CheckLedger()
}
