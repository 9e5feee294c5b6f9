package e2e_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

// TestStatementReconciliation reconciles VPay (no order query) through the
// statement the provider exports: a dropped callback is repaired from the
// statement, an order the statement lists that tally does not know is flagged,
// and a re-run finds nothing new.
func TestStatementReconciliation(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{})
	vpay := func(amount string) orders.Order {
		return e.CreateOrder("deposit", map[string]any{"provider_account": "vpay-main", "customer_id": "s1", "amount": amount,
			"currency": "CNY", "pay_currency": "USDT"})
	}
	a := vpay("100.00")
	e.Control("vpay", "POST", "/orders/"+a.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(a.ID, orders.StatusSucceeded)
	b := vpay("72.00")
	script(e, "vpay", b.ProviderOrderNo, map[string]any{"outcome": "succeed", "callbacks": map[string]any{"drop": true}})
	e.Eventually("B paid at VPay", func() bool {
		var o map[string]any
		e.Control("vpay", "GET", "/orders/"+b.ProviderOrderNo, nil).JSON(t, &o)
		return o["status"] == "succeeded"
	})
	e.WaitIdle()
	if e.Order(b.ID).Status != orders.StatusPending {
		t.Fatal("B must still be pending: VPay has no order query and its callback was dropped")
	}
	imp := e.StatementFromSandbox("vpay", start.Add(-time.Minute), time.Now().Add(time.Minute))
	if imp.Statement.Lines != 2 || imp.Statement.BadLines != 0 {
		t.Fatalf("statement = %+v", imp.Statement)
	}
	sum := e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: imp.Statement.ID})
	if len(sum.Orders) != 1 || sum.Orders[0].Checked != 2 || sum.Orders[0].Matched != 2 || sum.Orders[0].Repaired != 1 || sum.Orders[0].Source != "statement" {
		t.Fatalf("order lines = %+v", sum.Orders)
	}
	if o := e.WaitStatus(b.ID, orders.StatusSucceeded); o.SettledCurrency != "USDT" {
		t.Fatalf("B repaired from the statement: %+v", o)
	}
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:s1:CNY"); !got.Equal(dec("172")) {
		t.Fatalf("customer = %s, want 100 + 72 CNY", got)
	}
	// A statement line for an order tally never made, and a line that is not a number.
	csv := "order_no,provider_order_id,kind,status,amount,fee,currency,settled_at\n" +
		"GHOST-1,99,deposit,succeeded,5.5,0,USDT,2026-11-22 10:00:00\n" +
		"GHOST-2,98,deposit,succeeded,five,0,USDT,2026-11-22 10:00:00\n"
	_, err := e.Recon.Import(context.Background(), e.Merchant.ID, "vpay-main", "bad.csv", strings.NewReader(csv), recon.ImportOptions{})
	var n int
	_ = e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM statements`).Scan(&n)
	if !errors.Is(err, recon.ErrBadRows) || !strings.Contains(err.Error(), "line 3") || n != 1 {
		t.Fatalf("bad row: err %v, %d statements stored (want the refusal naming line 3, nothing stored)", err, n)
	}
	res, err := e.Recon.Import(context.Background(), e.Merchant.ID, "vpay-main", "bad.csv", strings.NewReader(csv), recon.ImportOptions{AllowBadRows: true})
	if err != nil || res.Statement.Lines != 1 || res.Statement.BadLines != 1 || len(res.BadRows) != 1 || res.BadRows[0].Line != 3 {
		t.Fatalf("import with --allow-bad-rows: %+v %v", res, err)
	}
	sum = e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID})
	if l := byType(sum)["unknown_order"]; l.New != 1 {
		t.Fatalf("unknown_order = %+v", l)
	}
	again, err := e.Recon.Import(context.Background(), e.Merchant.ID, "vpay-main", "bad.csv", strings.NewReader(csv), recon.ImportOptions{AllowBadRows: true})
	if err != nil || !again.Duplicate || again.Statement.ID != res.Statement.ID {
		t.Fatalf("the same file twice: %+v %v", again, err)
	}
	sum = e.Reconcile(recon.Request{Kind: recon.KindStatement, StatementID: res.Statement.ID})
	for _, l := range sum.Discrepancies {
		if l.New != 0 {
			t.Fatalf("re-running found a new %s", l.Type)
		}
	}
	if ds := e.Discrepancies(discrepancies.UnknownOrder); len(ds) != 1 || !ds[0].AmountDelta.Equal(dec("5.5")) {
		t.Fatalf("unknown orders = %+v", ds)
	}
	e.CheckLedger()
}

// TestReconAPI drives reconciliation as an accounting system would: upload a
// statement, start a run, fetch its report in every format, resolve.
func TestReconAPI(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "api1", "60.00")
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", map[string]string{"amount": "55.00"})
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	r := e.API("POST", "/v1/recon/runs", map[string]string{"kind": "full", "provider_account": "cxpay-main"})
	if r.Status != http.StatusAccepted {
		t.Fatalf("start run: %d %s", r.Status, r.Body)
	}
	var run recon.Run
	r.JSON(t, &run)
	e.Eventually("the run to complete", func() bool {
		got, _ := e.Recon.Get(context.Background(), e.Merchant.ID, run.ID)
		return got.Status == recon.RunCompleted
	})
	for format, ctype := range map[string]string{"json": "application/json", "csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} {
		rr := e.API("GET", "/v1/recon/runs/"+itoa(run.ID)+"/report?format="+format, nil)
		if rr.Status != 200 || !strings.HasPrefix(rr.Header.Get("Content-Type"), ctype) || len(rr.Body) == 0 {
			t.Errorf("report %s: %d %s", format, rr.Status, rr.Header.Get("Content-Type"))
		}
	}
	if rr := e.API("GET", "/v1/recon/runs/"+itoa(run.ID)+"/report?format=pdf", nil); rr.Status != 400 {
		t.Errorf("unknown format: %d", rr.Status)
	}
	if rr := e.API("GET", "/v1/reports/daily?date="+url.QueryEscape(time.Now().UTC().Format(time.DateOnly))+"&format=csv", nil); rr.Status != 200 {
		t.Errorf("daily report: %d %s", rr.Status, rr.Body)
	}
	d := e.Discrepancies(discrepancies.AmountMismatch)[0]
	// Maker-checker: the key proposes; a typed actor is refused, no key
	// approves (a person does) and the posting happens then, exactly once.
	if rr := e.API("POST", "/v1/discrepancies/"+itoa(d.ID)+"/resolve", map[string]string{"action": "accept_received", "actor": "carol", "note": "ok"}); rr.Status != http.StatusBadRequest {
		t.Fatalf("resolve with a self-declared actor: %d %s", rr.Status, rr.Body)
	}
	rr := e.API("POST", "/v1/discrepancies/"+itoa(d.ID)+"/resolve", map[string]string{"action": "accept_received", "note": "customer confirmed"})
	if rr.Status != http.StatusAccepted {
		t.Fatalf("resolve: %d %s, want 202 (a proposal)", rr.Status, rr.Body)
	}
	var proposed struct {
		Proposal recon.Proposal `json:"proposal"`
	}
	rr.JSON(t, &proposed)
	p := proposed.Proposal
	_, key, err := e.Merchants.Authenticate(context.Background(), e.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == 0 || p.Status != recon.Pending || p.Maker != key.Actor() || !p.Amount.Equal(dec("55")) || p.Currency != "BRL" {
		t.Fatalf("proposal = %+v", p)
	}
	if !e.Balance("liabilities:customer:api1:BRL").IsZero() {
		t.Fatalf("a proposal posted: customer = %s", e.Balance("liabilities:customer:api1:BRL"))
	}
	if rr = e.API("POST", "/v1/discrepancies/"+itoa(d.ID)+"/resolve", map[string]string{"action": "write_off", "note": "x"}); rr.Status != http.StatusConflict || !strings.Contains(string(rr.Body), "pending_proposal") {
		t.Fatalf("a second proposal: %d %s", rr.Status, rr.Body)
	}
	if rr = e.API("GET", "/v1/approvals?status=pending", nil); rr.Status != 200 || !strings.Contains(string(rr.Body), `"id":`+itoa(p.ID)) {
		t.Fatalf("approvals: %d %s", rr.Status, rr.Body)
	}
	// No key approves, not even another one: the second pair of eyes is a
	// person's (a staff user, the operator's CLI).
	other := e.NewAPIKey("other", merchants.AllScopes()...)
	if rr = e.APIAs(other, "POST", "/v1/approvals/"+itoa(p.ID)+"/approve", map[string]string{"note": "machine says yes"}); rr.Status != http.StatusNotFound && rr.Status != http.StatusMethodNotAllowed {
		t.Fatalf("approve through the API: %d %s", rr.Status, rr.Body)
	}
	if rr = e.APIAs(other, "POST", "/v1/approvals/"+itoa(p.ID)+"/reject", map[string]string{"note": "not mine"}); rr.Status != http.StatusForbidden || !strings.Contains(string(rr.Body), "not_the_maker") {
		t.Fatalf("another key rejects: %d %s", rr.Status, rr.Body)
	}
	_, otherKey, err := e.Merchants.Authenticate(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Recon.Approve(context.Background(), e.Merchant.ID, p.ID, otherKey.Actor(), "machine says yes"); !errors.Is(err, recon.ErrNotAPerson) {
		t.Fatalf("a key approving through recon: %v, want ErrNotAPerson", err)
	}
	if _, err := e.Recon.Approve(context.Background(), e.Merchant.ID, p.ID, "user:7", "checked the bank statement"); err != nil {
		t.Fatal(err)
	}
	if rr = e.API("POST", "/v1/approvals/"+itoa(p.ID)+"/reject", map[string]string{"note": "late"}); rr.Status != http.StatusConflict || !strings.Contains(string(rr.Body), "already_decided") {
		t.Fatalf("decide twice: %d %s", rr.Status, rr.Body)
	}
	if rr = e.API("POST", "/v1/discrepancies/"+itoa(d.ID)+"/resolve", map[string]string{"action": "accept_received", "note": "again"}); rr.Status != http.StatusConflict {
		t.Fatalf("resolve twice: %d %s", rr.Status, rr.Body)
	}
	up := e.API("POST", "/v1/statements?provider_account=cxpay-main", "order_no,kind,status,amount,currency,settled_at\nX,deposit,succeeded,-1,BRL,2026-11-22 10:00:00\n",
		"Content-Type", "text/csv")
	if up.Status != http.StatusUnprocessableEntity || !strings.Contains(string(up.Body), `"line":2`) {
		t.Fatalf("statement with a bad row: %d %s", up.Status, up.Body)
	}
	if !e.Balance("liabilities:customer:api1:BRL").Equal(dec("55")) {
		t.Fatalf("customer after accept_received = %s", e.Balance("liabilities:customer:api1:BRL"))
	}
	e.CheckLedger()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
