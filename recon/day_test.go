package recon_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// script sets what the sandbox provider does to an order.
func script(e *tallytest.Env, provider, orderNo string, s map[string]any) {
	e.T.Helper()
	e.Control(provider, "PUT", "/scripts/"+orderNo, s)
}

// A day's report lists every item open at the end of the day, whatever found
// it: first seen before the day ended, not resolved or ignored before it,
// with its age bucket, and the aging per account, currency and bucket.
func TestDayReportOpenItemsAtTheEndOfTheDay(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	acct, err := e.Merchants.ProviderAccount(ctx, e.Merchant.ID, "cxpay-main")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	end := day.Add(24 * time.Hour)
	type plant struct {
		name      string
		delta     string
		firstSeen time.Time
		closed    time.Time // zero: still open
		status    discrepancies.Status
	}
	plants := []plant{
		{"old", "-5.00", end.Add(-40 * 24 * time.Hour), time.Time{}, ""},
		{"late", "2.50", day.Add(23 * time.Hour), time.Time{}, ""},
		{"resolved-after", "1.00", end.Add(-3 * 24 * time.Hour), end.Add(48 * time.Hour), discrepancies.Resolved},
		{"resolved-before", "7.00", end.Add(-10 * 24 * time.Hour), day.Add(12 * time.Hour), discrepancies.Resolved},
		{"next-day", "9.00", end, time.Time{}, ""},
		{"ignored-at-midnight", "-0.25", end.Add(-8 * 24 * time.Hour), end, discrepancies.Ignored},
		{"exactly-a-day", "3.00", end.Add(-24 * time.Hour), time.Time{}, ""},
	}
	ids := map[string]int64{}
	for _, p := range plants {
		err := pgx.BeginFunc(ctx, e.Pool, func(tx pgx.Tx) error {
			d, _, err := e.Disc.RecordTx(ctx, tx, discrepancies.Finding{Type: discrepancies.AmountMismatch, MerchantID: e.Merchant.ID,
				ProviderAccountID: acct.ID, Fingerprint: discrepancies.Fingerprint(discrepancies.AmountMismatch, "test", p.name),
				Currency: "BRL", Delta: dec(p.delta), Summary: p.name, Actor: "test"})
			if err != nil {
				return err
			}
			ids[p.name] = d.ID
			if !p.closed.IsZero() {
				_, err = e.Disc.CloseTx(ctx, tx, d.ID, p.status, "ignore", "user:1", "test", "")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Placed in time: the times a discrepancy gets are the database's now().
		if _, err := e.Pool.Exec(ctx, `UPDATE discrepancies SET first_seen_at = $2, resolved_at = $3 WHERE id = $1`,
			ids[p.name], p.firstSeen, nullTime(p.closed)); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := e.Recon.Day(ctx, e.Merchant.ID, day.Add(15*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	type item struct {
		name, age, delta string
	}
	want := []item{
		{"old", recon.AgeOver30Day, "-5"},
		{"ignored-at-midnight", recon.Age7To30Days, "-0.25"},
		{"resolved-after", recon.Age1To7Days, "1"},
		{"exactly-a-day", recon.Age1To7Days, "3"},
		{"late", recon.AgeUnder1Day, "2.5"},
	}
	if len(sum.OpenItems) != len(want) {
		t.Fatalf("open items = %+v, want %d", sum.OpenItems, len(want))
	}
	for i, w := range want {
		got := sum.OpenItems[i]
		if got.DiscrepancyID != ids[w.name] || got.Age != w.age || !got.AmountDelta.Equal(dec(w.delta)) ||
			got.ProviderAccount != "cxpay-main" || got.Currency != "BRL" || got.Summary != w.name {
			t.Errorf("open item %d = %+v, want %s (id %d) aged %s, %s BRL", i, got, w.name, ids[w.name], w.age, w.delta)
		}
	}
	wantAging := []recon.AgingLine{
		{ProviderAccount: "cxpay-main", Currency: "BRL", Age: recon.AgeUnder1Day, Count: 1, AmountAtStake: dec("2.5")},
		{ProviderAccount: "cxpay-main", Currency: "BRL", Age: recon.Age1To7Days, Count: 2, AmountAtStake: dec("4")},
		{ProviderAccount: "cxpay-main", Currency: "BRL", Age: recon.Age7To30Days, Count: 1, AmountAtStake: dec("0.25")},
		{ProviderAccount: "cxpay-main", Currency: "BRL", Age: recon.AgeOver30Day, Count: 1, AmountAtStake: dec("5")},
	}
	if len(sum.Aging) != len(wantAging) {
		t.Fatalf("aging = %+v, want %+v", sum.Aging, wantAging)
	}
	for i, w := range wantAging {
		g := sum.Aging[i]
		if g.ProviderAccount != w.ProviderAccount || g.Currency != w.Currency || g.Age != w.Age || g.Count != w.Count || !g.AmountAtStake.Equal(w.AmountAtStake) {
			t.Errorf("aging line %d = %+v, want %+v", i, g, w)
		}
	}
	// The day before: only what was open then.
	prev, err := e.Recon.Day(ctx, e.Merchant.ID, day.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, it := range prev.OpenItems {
		got = append(got, it.DiscrepancyID)
	}
	if w := []int64{ids["old"], ids["resolved-before"], ids["ignored-at-midnight"], ids["resolved-after"]}; !slices.Equal(got, w) {
		t.Errorf("open at the end of the day before: %v, want %v", got, w)
	}
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// A manual run with the default window (the last 24 hours) is in the report
// of the day it ends in, with a note that it began the day before; a run
// ending after the day is in a later day's report. Matched amounts are the
// money moved: a deposit paid in full counts its paid amount, a failed or
// expired one nothing.
func TestDayReportHoldsTheManualRunOfTheDay(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	paid := paidDeposit(e, "m1", "10.00")
	failed := deposit(e, "m1", "20.00")
	script(e, "cxpay", failed.ProviderOrderNo, map[string]any{"outcome": "fail"})
	e.WaitStatus(failed.ID, orders.StatusFailed)
	e.WaitIdle()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if !paid.CreatedAt.UTC().Truncate(24 * time.Hour).Equal(today) {
		t.Skip("the orders straddle midnight UTC")
	}
	manual := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main"}) // the default window
	if got := manual.WindowEnd.Sub(manual.WindowStart); got != 24*time.Hour {
		t.Fatalf("default window %s", got)
	}
	tomorrow := today.Add(24 * time.Hour)
	e.Reconcile(recon.Request{Kind: recon.KindBalances, ProviderAccount: "cxpay-main", From: today, To: tomorrow.Add(time.Hour)})
	sum, err := e.Recon.Day(ctx, e.Merchant.ID, today)
	if err != nil {
		t.Fatal(err)
	}
	if !manual.WindowEnd.UTC().Truncate(24 * time.Hour).Equal(today) {
		t.Skip("midnight UTC passed during the test")
	}
	if len(sum.Orders) != 1 {
		t.Fatalf("order lines = %+v, want the manual run's", sum.Orders)
	}
	if l := sum.Orders[0]; l.Checked != 2 || l.Matched != 2 || !l.MatchedAmount.Equal(dec("10")) || l.Unmatched != 0 {
		t.Fatalf("day line = %+v, want 2 matched, 10 BRL moved (the failed deposit moved nothing)", l)
	}
	wantNotes := []string{
		"1 runs whose window ends after this day are in the report of the day they end in",
		fmt.Sprintf("run %d's window [%s, %s) began before this day", manual.RunID,
			manual.WindowStart.UTC().Format(time.RFC3339), manual.WindowEnd.UTC().Format(time.RFC3339)),
	}
	if len(sum.Notes) != len(wantNotes) {
		t.Fatalf("notes = %q, want %q", sum.Notes, wantNotes)
	}
	for i, w := range wantNotes {
		if !strings.HasPrefix(sum.Notes[i], w) {
			t.Errorf("note %d = %q, want %q...", i, sum.Notes[i], w)
		}
	}
	prev, err := e.Recon.Day(ctx, e.Merchant.ID, today.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(prev.Orders) != 0 {
		t.Fatalf("yesterday's report has %+v: the manual run is today's", prev.Orders)
	}
}

// A missing callback the run repairs states the money it moved: a deposit the
// provider settled states its paid amount, one it failed or let expire states
// none (no actual amount, a difference of 0). The run's matched amount is the
// money moved, not the amounts requested.
func TestMissingCallbackStatesTheMoneyMoved(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{ReconStaleAfter: time.Hour})
	settled := deposit(e, "mc", "40.00")
	script(e, "cxpay", settled.ProviderOrderNo, map[string]any{"outcome": "succeed", "callbacks": map[string]any{"drop": true}})
	failed := deposit(e, "mc", "20.00")
	script(e, "cxpay", failed.ProviderOrderNo, map[string]any{"outcome": "fail", "callbacks": map[string]any{"drop": true}})
	expired := deposit(e, "mc", "15.00")
	script(e, "cxpay", expired.ProviderOrderNo, map[string]any{"outcome": "expire", "callbacks": map[string]any{"drop": true}})
	exact := paidDeposit(e, "mc", "10.00")
	for _, o := range []orders.Order{settled, failed, expired} {
		e.Eventually("the provider ended "+o.ProviderOrderNo, func() bool {
			var so map[string]any
			e.Control("cxpay", "GET", "/orders/"+o.ProviderOrderNo, nil).JSON(t, &so)
			return so["status"] != "pending" && so["status"] != "created"
		})
	}
	e.WaitIdle()
	sum := e.Reconcile(recon.Request{Kind: recon.KindOrders, ProviderAccount: "cxpay-main", From: start.Add(-time.Minute), To: time.Now().Add(time.Minute)})
	if len(sum.Orders) != 1 {
		t.Fatalf("order lines = %+v", sum.Orders)
	}
	if l := sum.Orders[0]; l.Checked != 4 || l.Matched != 4 || l.Repaired != 3 || !l.MatchedAmount.Equal(dec("50")) {
		t.Fatalf("order line = %+v, want 4 matched, 3 repaired, 50 BRL moved (40 + 10, not the 85 requested)", l)
	}
	want := map[int64]struct {
		actual, delta string
		status        orders.Status
	}{
		settled.ID: {"40", "40", orders.StatusSucceeded},
		failed.ID:  {"", "0", orders.StatusFailed},
		expired.ID: {"", "0", orders.StatusFailed}, // CXPay has no expired status: an expired order is failed
	}
	seen := 0
	for _, f := range sum.Findings {
		w, ok := want[f.OrderID]
		if !ok {
			t.Errorf("unexpected finding %+v (exact deposit %d)", f, exact.ID)
			continue
		}
		seen++
		if f.Type != string(discrepancies.MissingCallback) || !f.Repaired || f.Actual != w.actual || !f.AmountDelta.Equal(dec(w.delta)) || f.Currency != "BRL" {
			t.Errorf("finding of order %d = %+v, want missing_callback repaired, actual %q, delta %s", f.OrderID, f, w.actual, w.delta)
		}
		if got := e.Order(f.OrderID).Status; got != w.status {
			t.Errorf("order %d is %s, want %s", f.OrderID, got, w.status)
		}
	}
	if seen != len(want) {
		t.Errorf("%d findings, want %d", seen, len(want))
	}
	if l := byType(sum)["missing_callback"]; l.Found != 3 || !l.AmountDelta.Equal(dec("40")) {
		t.Errorf("missing_callback line = %+v, want 3 found, 40 BRL at stake", l)
	}
}

func byType(s recon.Summary) map[string]recon.DiscrepancyLine {
	out := map[string]recon.DiscrepancyLine{}
	for _, l := range s.Discrepancies {
		out[l.Type] = l
	}
	return out
}

// A run's ledger figures are its own account's: the balance line of a
// provider account holds that account's clearing balance, never the
// merchant's other accounts' money in the same currency.
func TestRunBalancesAreTheAccountsOwn(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	e.Opening("cpay", "BRL", "500.00")
	paidDeposit(e, "b1", "10.00")
	e.WaitIdle()
	sum := e.Reconcile(recon.Request{Kind: recon.KindBalances, ProviderAccount: "cxpay-main"})
	var brl *recon.BalanceLine
	for i, b := range sum.Balances {
		if b.ProviderAccount != "cxpay-main" {
			t.Errorf("a run of cxpay-main compares %s", b.ProviderAccount)
		}
		if b.Currency == "BRL" {
			brl = &sum.Balances[i]
		}
	}
	// 10 paid less CXPay's fee of 0.10: what the clearing account holds.
	if own := e.Balance(ledger.ProviderAccount("cxpay-main", "BRL")); brl == nil || !brl.Ledger.Equal(dec("9.9")) || !own.Equal(dec("9.9")) {
		t.Fatalf("cxpay-main BRL line = %+v (its clearing account %s), want a ledger balance of exactly 9.9, not the 500 at cpay-main", brl, own)
	}
	all := e.Reconcile(recon.Request{Kind: recon.KindBalances})
	for _, b := range all.Balances {
		if b.ProviderAccount == "cpay-main" && b.Currency == "BRL" && !b.Ledger.Equal(dec("500")) {
			t.Errorf("cpay-main BRL ledger balance %s, want 500", b.Ledger)
		}
		if b.ProviderAccount == "cxpay-main" && b.Currency == "BRL" && !b.Ledger.Equal(dec("9.9")) {
			t.Errorf("cxpay-main BRL ledger balance %s in the run of every account, want 9.9", b.Ledger)
		}
	}
}
