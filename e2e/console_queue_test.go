package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/staff"
	"github.com/tallyhq/tally/tallytest"
)

// seedDiscrepancies opens n discrepancies on the cxpay account: every third
// a reversal (high), the others amount mismatches (medium) and fee
// mismatches (low), with differences 1.00, 2.00, ... BRL (reversals are
// i = 2, 5, ..., so 25 of 75, the largest 74.00).
func seedDiscrepancies(t *testing.T, env *tallytest.Env, n int) {
	t.Helper()
	ctx := context.Background()
	acct, err := env.Merchants.ProviderAccount(ctx, env.Merchant.ID, env.Accounts["cxpay"])
	if err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, env.Pool, func(tx pgx.Tx) error {
		for i := 1; i <= n; i++ {
			typ := []discrepancies.Type{discrepancies.AmountMismatch, discrepancies.FeeMismatch, discrepancies.Reversal}[i%3]
			exp := decimal.NewFromInt(100)
			act := exp.Add(decimal.NewFromInt(int64(i)))
			_, _, err := env.Disc.RecordTx(ctx, tx, discrepancies.Finding{Type: typ, MerchantID: env.Merchant.ID, ProviderAccountID: acct.ID,
				Fingerprint: discrepancies.Fingerprint(typ, "seed", fmt.Sprint(i)), Currency: "BRL",
				Expected: decimal.NullDecimal{Decimal: exp, Valid: true}, Actual: decimal.NullDecimal{Decimal: act, Valid: true},
				Delta: act.Sub(exp), Summary: fmt.Sprintf("seeded %s %d", typ, i)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConsoleOverviewAndQueue: the overview shows the open items and the
// last run; the queue filters by type through its form, pages with keyset
// links, and shows amounts at the currency's scale.
func TestConsoleOverviewAndQueue(t *testing.T) {
	env := tallytest.New(t, tallytest.Options{NoWorkers: true})
	now := time.Now()
	env.Reconcile(recon.Request{Kind: recon.KindFull, ProviderAccount: env.Accounts["cxpay"], From: now.Add(-24 * time.Hour), To: now})
	seedDiscrepancies(t, env, 75)
	staffUser(t, env, "ann@example.com", staff.Accountant)
	b := newBrowser(t, env.URL)
	b.login("ann@example.com", staffPassword)

	var open int
	if err := env.Pool.QueryRow(context.Background(), "SELECT count(*) FROM discrepancies WHERE status = 'open'").Scan(&open); err != nil {
		t.Fatal(err)
	}
	if open < 75 {
		t.Fatalf("%d open discrepancies", open)
	}
	if got := b.text(".kpi b"); got != fmt.Sprint(open) {
		t.Errorf("open discrepancies on the overview: %q", got)
	}
	if n := b.count("#runs tbody tr"); n != 1 {
		t.Errorf("runs on the overview: %d", n)
	}
	if n := b.count("#balances tbody tr"); n < 1 {
		t.Errorf("balances on the overview: %d rows", n)
	}
	b.screenshot("overview")

	b.do(chromedpClick(`nav a[href="/console/discrepancies"]`))
	if n := b.count("#queue tbody tr"); n != 50 {
		t.Fatalf("first page: %d rows", n)
	}
	// Filter: reversals only, largest difference first.
	b.do(
		chromedp.SetValue(chromedp.ID("f-sort"), "amount_desc"),
		discard(chromedp.Evaluate[bool](`(() => { for (const o of document.getElementById('f-type').options) o.selected = o.value === 'reversal'; return true })()`)),
	)
	b.do(chromedpClick("#apply-filters"))
	if loc := b.location(); !strings.Contains(loc, "type=reversal") || !strings.Contains(loc, "sort=amount_desc") {
		t.Fatalf("filtered at %s", loc)
	}
	if n := b.count("#queue tbody tr"); n != 25 {
		t.Fatalf("reversals: %d rows", n)
	}
	types := run(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#queue tbody tr td:nth-child(4)')].map(td => td.textContent.trim())`))
	for _, ty := range types {
		if ty != "reversal" {
			t.Fatalf("a %q row in the reversals", ty)
		}
	}
	if got := b.text("#queue tbody tr td:nth-child(10)"); got != "74.00 BRL" {
		t.Errorf("largest difference: %q", got)
	}
	b.screenshot("queue")

	// Keyset pages: 50, then the rest.
	b.visit("/console/discrepancies?sort=oldest")
	first := b.text("#queue tbody tr td:nth-child(2)")
	b.do(chromedpClick("#next-page"))
	if n := b.count("#queue tbody tr"); n != open-50 {
		t.Fatalf("second page: %d rows of %d", n, open-50)
	}
	if b.count("#next-page") != 0 {
		t.Error("a next page after the last")
	}
	if second := b.text("#queue tbody tr td:nth-child(2)"); second == first {
		t.Errorf("second page starts with %s again", second)
	}
}
