package e2e_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/tallytest"
)

// TestConsoleBooks: the Ledger and Orders pages in a browser. A paid
// deposit and 60 small transfers later, a viewer sees the customer's
// balance, pages through its entries, opens the deposit's transfer, reads
// the trial balance and downloads it as CSV (debits = credits per currency,
// the customer's closing balance exact) and the journal; then finds the
// order by its provider order number and sees its timeline and every
// webhook attempt.
func TestConsoleBooks(t *testing.T) {
	env := tallytest.New(t, tallytest.Options{})
	ctx := t.Context()
	o := env.CreateOrder("deposit", map[string]any{"provider_account": "cxpay-main", "customer_id": "c1", "amount": "100.00", "currency": "BRL",
		"payer": map[string]string{"name": "Ana", "tax_id": "12345678901", "email": "ana@example.com", "phone": "+5511999999999"}})
	env.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	o = env.WaitStatus(o.ID, orders.StatusSucceeded)
	env.Eventually("webhooks", func() bool { return len(env.Webhooks.For(o.ID)) >= 2 })
	env.WaitIdle()

	const customer = "liabilities:customer:c1:BRL"
	clearing := ledger.ProviderAccount(env.Accounts["cxpay"], "BRL")
	reqs := make([]ledger.TransferRequest, 60)
	for i := range reqs {
		reqs[i] = ledger.TransferRequest{Merchant: env.Merchant.ID, Key: fmt.Sprintf("bulk-%d", i), Reference: "bulk",
			Entries: []ledger.Entry{
				{Account: clearing, Side: ledger.Debit, Amount: dec("0.01")},
				{Account: customer, Side: ledger.Credit, Amount: dec("0.01")},
			}}
	}
	if _, err := env.Ledger.TransferBatch(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	var entries int
	for after := int64(0); ; {
		p, err := env.Ledger.Entries(ctx, env.Merchant.ID, customer, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		entries += len(p.Entries)
		if after = p.Next; after == 0 {
			break
		}
	}
	if entries <= 50 {
		t.Fatalf("%d entries on %s: want more than a page", entries, customer)
	}

	staffUser(t, env, "vera@example.com", staff.Viewer, env.Merchant.ID)
	b := newBrowser(t, env.URL)
	b.login("vera@example.com", staffPassword)

	// The ledger: the customer's balance.
	b.visit("/console/ledger")
	row := `#balances tr[data-account="` + customer + `"]`
	if got := b.text(row + ` .balance`); got != "100.60 BRL" {
		t.Fatalf("customer balance on the ledger page: %q, want 100.60 BRL", got)
	}
	b.screenshot("ledger")

	// Its entries, page by page.
	b.do(chromedpClick(row + ` a`))
	if got := b.text(`#account-balance b`); got != "100.60 BRL" {
		t.Fatalf("account page balance %q", got)
	}
	if n := b.count(`#entries tbody tr`); n != 50 {
		t.Fatalf("first page: %d entries, want 50", n)
	}
	b.screenshot("ledger-account")
	b.do(chromedpClick(`#next-page`))
	if n := b.count(`#entries tbody tr`); n != entries-50 {
		t.Fatalf("second page: %d entries, want %d", n, entries-50)
	}
	if b.count(`#next-page`) != 0 {
		t.Fatal("a next page after the last")
	}
	b.screenshot("ledger-account-page2")

	// The deposit's transfer (the account's first entry), linked to its order.
	b.visit("/console/ledger/account?merchant=" + fmt.Sprint(env.Merchant.ID) + "&code=" + customer)
	b.do(chromedpClick(`#entries tbody tr:first-child a.transfer`))
	if ref := b.text(`#reference a`); ref != fmt.Sprintf("order:%d", o.ID) {
		t.Fatalf("transfer reference %q", ref)
	}
	if n := b.count(`#transfer-entries tbody tr`); n < 2 {
		t.Fatalf("transfer has %d entries", n)
	}
	b.screenshot("ledger-transfer")

	// The trial balance of yesterday to tomorrow (UTC days: no midnight race).
	now := time.Now().UTC()
	from, to := now.AddDate(0, 0, -1).Format(time.DateOnly), now.AddDate(0, 0, 1).Format(time.DateOnly)
	b.visit(fmt.Sprintf("/console/ledger/trial?merchant=%d&from=%s&to=%s", env.Merchant.ID, from, to))
	if got := b.text(`#trial-check`); got != "Debits equal credits in every currency." {
		t.Fatalf("trial balance check: %q", got)
	}
	b.screenshot("ledger-trial")
	trial := fetchCSV(b, `#trial-csv`)
	if trial[0][0] != "Currency" || trial[0][5] != "Debits" || trial[0][6] != "Credits" {
		t.Fatalf("trial CSV header %q", trial[0])
	}
	type sums struct{ debits, credits, totalDebits, totalCredits decimal.Decimal }
	per := map[string]*sums{}
	var customerClosing string
	for _, rec := range trial[1:] {
		s := per[rec[0]]
		if s == nil {
			s = &sums{}
			per[rec[0]] = s
		}
		if rec[2] == "total" {
			s.totalDebits, s.totalCredits = dec(rec[5]), dec(rec[6])
			if rec[9] != "debits = credits" || rec[3] != rec[4] || rec[7] != rec[8] {
				t.Errorf("total row %q does not balance", rec)
			}
			continue
		}
		s.debits, s.credits = s.debits.Add(dec(rec[5])), s.credits.Add(dec(rec[6]))
		if rec[1] == customer {
			customerClosing = rec[8]
		}
	}
	if per["BRL"] == nil {
		t.Fatalf("no BRL in the trial balance CSV: %q", trial)
	}
	for cur, s := range per {
		if !s.debits.Equal(s.credits) || !s.debits.Equal(s.totalDebits) || !s.credits.Equal(s.totalCredits) {
			t.Errorf("%s: rows debit %s credit %s, totals %s %s", cur, s.debits, s.credits, s.totalDebits, s.totalCredits)
		}
	}
	if customerClosing != "100.60" {
		t.Errorf("customer closing credit in the CSV: %q, want 100.60", customerClosing)
	}

	// The journal of the same period: every posted entry, balanced.
	journal := fetchCSV(b, `a[href*="/console/ledger/journal"][href$="format=csv"]`)
	var jd, jc decimal.Decimal
	for _, rec := range journal[1:] {
		if rec[4] != "" {
			jd = jd.Add(dec(rec[4]))
		}
		if rec[5] != "" {
			jc = jc.Add(dec(rec[5]))
		}
	}
	if len(journal)-1 < entries || !jd.Equal(jc) || !jd.Equal(per["BRL"].debits) {
		t.Errorf("journal: %d lines, debits %s credits %s (trial balance debits %s)", len(journal)-1, jd, jc, per["BRL"].debits)
	}

	// Orders: search by the provider's order number, open the order.
	b.visit("/console/orders")
	b.do(chromedp.SendKeys(chromedp.ID("order_no"), o.ProviderOrderNo))
	b.do(chromedpClick(`#search`))
	if n := b.count(`#orders tbody tr`); n != 1 {
		t.Fatalf("search by provider order no: %d rows", n)
	}
	b.screenshot("orders")
	b.do(chromedpClick(`#orders a.order`))
	if got := b.text(`#order-status`); got != "succeeded" {
		t.Fatalf("order status %q", got)
	}
	deliveries, err := env.WebhookService.Deliveries(ctx, env.Merchant.ID, o.ID, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	if n := b.count(`#deliveries tbody tr`); n != len(deliveries) || n < 2 {
		t.Fatalf("order page lists %d webhook attempts, the store %d", n, len(deliveries))
	}
	if n := b.count(`#timeline tbody tr`); n < 2 {
		t.Fatalf("timeline of %d events", n)
	}
	b.screenshot("order")
}

// fetchCSV clicks a download link (CSS selector), waits for the browser's
// download to complete, and parses the file.
func fetchCSV(b *browser, css string) [][]string {
	b.t.Helper()
	dir := b.t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	events := true
	b.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &events})
		return err
	}), chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
	var file string
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("download from %s: %v", css, err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			b.t.Fatalf("download from %s canceled", css)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		b.t.Fatalf("download from %s: %v", css, err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(recs) < 2 {
		b.t.Fatalf("CSV from %s: %v (%d records)", css, err, len(recs))
	}
	return recs
}
