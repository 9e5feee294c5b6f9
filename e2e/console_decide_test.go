package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/tallytest"
)

// apiBalance is an account's posted balance as the merchant API reports it
// (zero for an account that does not exist yet).
func apiBalance(t *testing.T, env *tallytest.Env, account string) decimal.Decimal {
	t.Helper()
	resp := env.API("GET", "/v1/balances", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /v1/balances: %d %s", resp.Status, resp.Body)
	}
	var out struct {
		Data []struct {
			Account string          `json:"account"`
			Posted  decimal.Decimal `json:"posted"`
		} `json:"data"`
	}
	resp.JSON(t, &out)
	for _, b := range out.Data {
		if b.Account == account {
			return b.Posted
		}
	}
	return decimal.Zero
}

// ledgerPageBalance is an account's balance as the console's Ledger page
// shows it to the signed-in user (its "Balance" cell, "1,234.50 BRL"), zero
// when the page lists no such account (none was posted to yet).
func ledgerPageBalance(t *testing.T, b *browser, merchantID int64, account string) decimal.Decimal {
	t.Helper()
	b.visit(fmt.Sprintf("/console/ledger?%s", url.Values{"merchant": {fmt.Sprint(merchantID)}, "prefix": {account}}.Encode()))
	row := `#balances tr[data-account="` + account + `"]`
	if b.count(row) == 0 {
		return decimal.Zero
	}
	cell := b.text(row + ` .balance`)
	amount, cur, ok := strings.Cut(strings.TrimSpace(cell), " ")
	if !ok || !strings.HasSuffix(account, ":"+cur) {
		t.Fatalf("balance of %s on the ledger page: %q", account, cell)
	}
	d, err := decimal.NewFromString(strings.ReplaceAll(amount, ",", ""))
	if err != nil {
		t.Fatalf("balance of %s on the ledger page: %q: %v", account, cell, err)
	}
	return d
}

// consolePost posts a console form as a script would (no browser): with a
// session token (empty: none) and extra headers, never following redirects.
func consolePost(t *testing.T, env *tallytest.Env, path, token string, form url.Values, headers ...string) int {
	t.Helper()
	req, err := http.NewRequest("POST", env.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "tally_session", Value: token})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sessionOf signs a user in outside the browser and returns the token.
func sessionOf(t *testing.T, env *tallytest.Env, email string) string {
	t.Helper()
	token, _, err := env.App.Staff.Login(context.Background(), email, staffPassword, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestConsoleDecide is maker-checker in the browser: an accountant filters
// the queue and opens a payer-modified amount (a deposit of 50.00 BRL paid
// with 45.00, through the provider's callback), sees the evidence side by
// side, and proposes accept_received with a reason; the approvers' queue
// shows it; the maker cannot approve it (no button, and a forged POST is
// refused); a viewer sees no form; another user approves, and the customer's
// balance grows by exactly the amount. Requests without a session or from
// another origin are refused.
func TestConsoleDecide(t *testing.T) {
	env := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	staffUser(t, env, "ann@example.com", staff.Accountant)
	staffUser(t, env, "bob@example.com", staff.Approver)
	staffUser(t, env, "vic@example.com", staff.Viewer)
	staffUser(t, env, "otto@example.com", staff.Approver, env.Merchant.ID+1000) // another merchant's approver

	// The payer pays 45.00 of a 50.00 deposit: the callback states 45.00.
	o := brlDeposit(env, "mm-1", "50.00")
	env.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", map[string]string{"amount": "45.00"})
	env.WaitStatus(o.ID, orders.StatusSucceeded)
	env.WaitIdle()
	var d discrepancies.Discrepancy
	for _, x := range env.Discrepancies(discrepancies.AmountMismatch) {
		if x.OrderID == o.ID {
			d = x
		}
	}
	if d.ID == 0 || !d.SuspenseAmount.Equal(decimal.RequireFromString("45")) {
		t.Fatalf("amount_mismatch of order %d: %+v", o.ID, d)
	}
	// Something else in the queue, for the filter to leave out.
	seedDiscrepancies(t, env, 3)
	const customer = "liabilities:customer:mm-1:BRL"
	before := apiBalance(t, env, customer)
	detail := fmt.Sprintf("/console/discrepancies/%d", d.ID)

	// The accountant filters the queue to amount mismatches of 4.00 or more
	// (the seeded one differs by 3.00) and opens it.
	b := newBrowser(t, env.URL)
	b.login("ann@example.com", staffPassword)
	// The customer's balance on the Ledger page before the decision.
	pageBefore := ledgerPageBalance(t, b, env.Merchant.ID, customer)
	if !pageBefore.Equal(before) {
		t.Fatalf("the ledger page shows %s for %s, the API %s", pageBefore, customer, before)
	}
	b.visit("/console/discrepancies")
	b.do(
		discard(chromedp.Evaluate[bool](`(() => { for (const o of document.getElementById('f-type').options) o.selected = o.value === 'amount_mismatch'; return true })()`)),
		chromedp.SendKeys(chromedp.ID("f-min"), "4"),
	)
	b.do(chromedpClick("#apply-filters"))
	if n := b.count("#queue tbody tr"); n != 1 {
		t.Fatalf("amount mismatches of 4 or more: %d rows", n)
	}
	b.do(chromedpClick(fmt.Sprintf(`#queue a[href=%q]`, detail)))
	if loc := b.location(); loc != detail {
		t.Fatalf("opened %s", loc)
	}
	// The evidence: the order's terms, the callback's stated figures (its
	// signature removed), the ledger's suspense posting.
	if got := b.text("#side-by-side .src-order td:nth-child(3)"); got != "50.00 BRL" {
		t.Errorf("order requested: %q", got)
	}
	if got := b.text("#ev-callbacks .cb-paid"); got != "45.00 BRL" {
		t.Errorf("callback paid: %q", got)
	}
	body := run(b, chromedp.Evaluate[string](`document.querySelector('#ev-callbacks .cb-body').textContent`))
	if body == "" || strings.Contains(strings.ToLower(body), "sign") {
		t.Errorf("callback body shown: %q", body)
	}
	if !strings.Contains(b.text("#ev-ledger"), "liabilities:suspense:BRL") {
		t.Error("the ledger evidence does not show the suspense posting")
	}
	if n := b.count("#audit-trail li"); n < 1 {
		t.Error("no audit trail")
	}
	// The form offers what the rules allow for this discrepancy, nothing else.
	valid, err := env.Recon.ValidActions(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	offered := run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#propose-form input[name=action]')].map(i => i.value)`))
	if fmt.Sprint(offered) != fmt.Sprint(valid) || !strings.Contains(fmt.Sprint(offered), "accept_received") {
		t.Errorf("offered %v, valid %v", offered, valid)
	}
	b.screenshot("decide-detail-open")

	// Propose accept_received with a reason.
	b.do(
		chromedp.Click(chromedp.CSS(`#propose-form input[value=accept_received]`), chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.ID("reason"), "Payer confirmed paying 45.00 by mistake; credit what arrived."),
	)
	b.do(chromedpClick(`#propose-form button[type=submit]`))
	if got := b.text("#done"); !strings.HasPrefix(got, "Proposed") {
		t.Fatalf("after proposing: %q", got)
	}
	if got := b.text("#p-amount"); got != "45.00 BRL" {
		t.Errorf("proposed amount: %q", got)
	}
	if got := b.text("#p-maker"); got != "ann@example.com" {
		t.Errorf("maker: %q", got)
	}
	if b.count("#approve-form") != 0 || b.count("#maker-note") != 1 {
		t.Error("the maker is offered to approve their own proposal")
	}
	b.screenshot("decide-proposed")
	props, err := env.Recon.Approvals(ctx, recon.ApprovalFilter{DiscrepancyID: d.ID, Status: recon.Pending})
	if err != nil || len(props) != 1 {
		t.Fatalf("pending proposals: %v %+v", err, props)
	}
	p := props[0]
	approvePath := fmt.Sprintf("/console/proposals/%d/approve", p.ID)

	// The approvers' queue lists it; for the maker it is "you", with no review.
	b.visit("/console/approvals")
	if n := b.count(fmt.Sprintf(`#approvals tr[data-proposal="%d"]`, p.ID)); n != 1 {
		t.Fatalf("the approvals queue does not list proposal %d", p.ID)
	}
	b.screenshot("decide-approvals-maker")

	// The server refuses what the page hides.
	same := []string{"Sec-Fetch-Site", "same-origin"}
	ann, vic, bob, otto := sessionOf(t, env, "ann@example.com"), sessionOf(t, env, "vic@example.com"),
		sessionOf(t, env, "bob@example.com"), sessionOf(t, env, "otto@example.com")
	refusals := []struct {
		name, path, token string
		form              url.Values
		want              int
	}{
		{"self-approval", approvePath, ann, url.Values{"note": {"me"}}, http.StatusForbidden},
		{"viewer approves", approvePath, vic, url.Values{}, http.StatusForbidden},
		{"viewer proposes", detail + "/propose", vic, url.Values{"action": {"ignore"}, "reason": {"x"}}, http.StatusForbidden},
		{"approver proposes", detail + "/propose", bob, url.Values{"action": {"ignore"}, "reason": {"x"}}, http.StatusForbidden},
		{"viewer rejects", fmt.Sprintf("/console/proposals/%d/reject", p.ID), vic, url.Values{"note": {"no"}}, http.StatusForbidden},
		{"another merchant's approver", approvePath, otto, url.Values{}, http.StatusForbidden},
		{"no session", approvePath, "", url.Values{}, http.StatusForbidden},
		{"second proposal", detail + "/propose", ann, url.Values{"action": {"ignore"}, "reason": {"x"}}, http.StatusUnprocessableEntity},
	}
	for _, r := range refusals {
		if got := consolePost(t, env, r.path, r.token, r.form, same...); got != r.want {
			t.Errorf("%s: %d, want %d", r.name, got, r.want)
		}
	}
	for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		if got := consolePost(t, env, approvePath, bob, url.Values{}, h...); got != http.StatusForbidden {
			t.Errorf("approval from another origin (%v): %d", h, got)
		}
	}
	if now, _ := env.Recon.Proposal(ctx, p.ID); now.Status != recon.Pending {
		t.Fatalf("after the refusals the proposal is %s", now.Status)
	}
	if got := apiBalance(t, env, customer); !got.Equal(before) {
		t.Fatalf("a refused request moved money: %s, was %s", got, before)
	}

	// A viewer reads the evidence but sees no form at all.
	b.do(chromedpClick(`.who button[type=submit]`))
	b.login("vic@example.com", staffPassword)
	b.visit(detail)
	if n := b.count("#decision form"); n != 0 {
		t.Errorf("a viewer sees %d forms in the decision", n)
	}
	if b.count("#waiting-note") != 1 {
		t.Error("a viewer is not told the proposal waits for an approver")
	}

	// Another user, an approver, finds it in the queue and approves.
	b.do(chromedpClick(`.who button[type=submit]`))
	b.login("bob@example.com", staffPassword)
	b.visit("/console/approvals")
	b.do(chromedpClick(fmt.Sprintf(`#approvals tr[data-proposal="%d"] a[href$="#decision"]`, p.ID)))
	if b.count("#approve-form") != 1 || b.count("#reject-form") != 1 {
		t.Fatal("the approver is not offered approve and reject")
	}
	b.screenshot("decide-approver")
	b.do(chromedp.SendKeys(chromedp.ID("approve-note"), "checked against the bank statement"))
	b.do(chromedpClick(`#approve-form button[type=submit]`))
	if got := b.text("#done"); !strings.HasPrefix(got, "Approved") {
		t.Fatalf("after approving: %q", got)
	}
	if got := b.text("#d-status"); got != "resolved" {
		t.Errorf("status after approval: %q", got)
	}
	for _, a := range []string{"proposed", "approved", "resolved"} {
		if b.count(fmt.Sprintf(`#audit-trail li[data-action=%q]`, a)) != 1 {
			t.Errorf("audit trail without %q", a)
		}
	}
	b.screenshot("decide-approved")

	// The customer's balance on the Ledger page grew by exactly the
	// proposed amount, once.
	if !p.Amount.Equal(decimal.RequireFromString("45")) {
		t.Fatalf("proposed amount %s, want 45", p.Amount)
	}
	if got := ledgerPageBalance(t, b, env.Merchant.ID, customer); !got.Sub(pageBefore).Equal(p.Amount) {
		t.Fatalf("customer balance on the ledger page %s, was %s: want +%s", got, pageBefore, p.Amount)
	}
	b.screenshot("decide-ledger-after")
	if got := consolePost(t, env, approvePath, bob, url.Values{}, same...); got != http.StatusConflict {
		t.Errorf("approving twice: %d", got)
	}
	if got := ledgerPageBalance(t, b, env.Merchant.ID, customer); !got.Sub(pageBefore).Equal(p.Amount) {
		t.Fatalf("a second approval moved money: the ledger page shows %s", got)
	}
	b.visit("/console/approvals?status=approved")
	if n := b.count(fmt.Sprintf(`#approvals tr[data-proposal="%d"]`, p.ID)); n != 1 {
		t.Error("the approved proposal is not in the decided list")
	}
	b.screenshot("decide-approvals-approved")
	env.CheckLedger()
}
