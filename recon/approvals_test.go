package recon_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

// mismatch pays a deposit of amount with paid instead: the pipeline parks
// paid in suspense under an amount_mismatch discrepancy, returned.
func mismatch(e *tallytest.Env, customer, amount, paid string) discrepancies.Discrepancy {
	e.T.Helper()
	o := deposit(e, customer, amount)
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", map[string]string{"amount": paid})
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	for _, d := range e.Discrepancies(discrepancies.AmountMismatch) {
		if d.OrderID == o.ID {
			return d
		}
	}
	e.T.Fatalf("no amount_mismatch for order %d", o.ID)
	return discrepancies.Discrepancy{}
}

func trail(e *tallytest.Env, id int64) []string {
	e.T.Helper()
	evs, err := e.Disc.Events(context.Background(), e.Pool, id)
	if err != nil {
		e.T.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action+" "+ev.Actor)
	}
	return out
}

func sameTrail(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// A posting resolution is a proposal: nothing moves until a second person
// approves it; its maker cannot; two approvers at once post it exactly once,
// with the proposed amount; the audit trail holds every step.
func TestProposeApproveOnceBySomeoneElse(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	d := mismatch(e, "p1", "50.00", "45.00")
	cust := ledger.CustomerAccount("p1", "BRL")

	if _, err := e.Recon.Propose(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.AcceptReceived, Actor: "user:1"}); !errors.Is(err, recon.ErrInvalid) {
		t.Fatalf("proposal without a reason: %v, want ErrInvalid", err)
	}
	out, err := e.Recon.Propose(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.AcceptReceived, Actor: "user:1", Note: "customer confirmed"})
	if err != nil {
		t.Fatal(err)
	}
	p := out.Proposal
	if !out.Pending() || out.Resolved != nil || p.Status != recon.Pending || !p.Amount.Equal(dec("45")) || p.Currency != "BRL" || p.Maker != "user:1" {
		t.Fatalf("proposed = %+v %+v", out, p)
	}
	if !e.Balance(cust).IsZero() || !e.Balance("liabilities:suspense:BRL").Equal(dec("45")) {
		t.Fatalf("a proposal moved money: customer %s suspense %s", e.Balance(cust), e.Balance("liabilities:suspense:BRL"))
	}
	if _, err := e.Recon.Propose(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.WriteOff, Actor: "user:2", Note: "other idea"}); !errors.Is(err, recon.ErrPending) {
		t.Fatalf("second proposal: %v, want ErrPending", err)
	}
	if _, err := e.Recon.Approve(ctx, e.Merchant.ID, p.ID, "user:1", "mine"); !errors.Is(err, recon.ErrSelfApproval) {
		t.Fatalf("self-approval: %v, want ErrSelfApproval", err)
	}
	if _, err := e.Recon.Approve(ctx, e.Merchant.ID+1, p.ID, "user:2", ""); !errors.Is(err, recon.ErrNotFound) {
		t.Fatalf("another merchant's proposal: %v, want ErrNotFound", err)
	}

	// Two approvers at once: one posts, the other is refused.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	decisions := make([]recon.Decision, 2)
	for i, who := range []string{"user:2", "user:3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			decisions[i], errs[i] = e.Recon.Approve(ctx, e.Merchant.ID, p.ID, who, "checked the statement")
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Fatalf("both approvals succeeded")
			}
			won = i
		case !errors.Is(err, recon.ErrDecided):
			t.Fatalf("losing approval: %v, want ErrDecided", err)
		}
	}
	if won < 0 {
		t.Fatalf("no approval succeeded: %v", errs)
	}
	got := decisions[won]
	approver := []string{"user:2", "user:3"}[won]
	if got.Proposal.Status != recon.Approved || got.Proposal.DecidedBy != approver || got.Resolved == nil ||
		got.Proposal.TransferKey == "" || got.Resolved.TransferKey != got.Proposal.TransferKey ||
		got.Resolved.Discrepancy.Status != discrepancies.Resolved || got.Resolved.Discrepancy.ResolvedBy != approver {
		t.Fatalf("approval = %+v / %+v", got.Proposal, got.Resolved)
	}
	if !e.Balance(cust).Equal(dec("45")) || !e.Balance("liabilities:suspense:BRL").IsZero() {
		t.Fatalf("after approval: customer %s (want 45), suspense %s (want 0)", e.Balance(cust), e.Balance("liabilities:suspense:BRL"))
	}
	if _, err := e.Recon.Approve(ctx, e.Merchant.ID, p.ID, "user:4", ""); !errors.Is(err, recon.ErrDecided) {
		t.Fatalf("approving again: %v, want ErrDecided", err)
	}
	if _, err := e.Recon.Propose(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.AcceptReceived, Actor: "user:1", Note: "again"}); !errors.Is(err, discrepancies.ErrClosed) {
		t.Fatalf("proposing on a closed discrepancy: %v, want ErrClosed", err)
	}
	if !e.Balance(cust).Equal(dec("45")) {
		t.Fatalf("customer %s after the refusals, want 45", e.Balance(cust))
	}
	want := []string{"opened", "proposed user:1", "approved " + approver, "resolved " + approver}
	if tr := trail(e, d.ID); len(tr) < 4 || !sameTrail(tr[len(tr)-3:], want[1:]) || !strings.HasPrefix(tr[0], "opened ") {
		t.Fatalf("audit trail = %v, want it to end %v", tr, want[1:])
	}
	list, err := e.Recon.Approvals(ctx, recon.ApprovalFilter{MerchantIDs: []int64{e.Merchant.ID}, Status: recon.Approved})
	if err != nil || len(list) != 1 || list[0].ID != p.ID {
		t.Fatalf("approved proposals = %+v, %v", list, err)
	}
	if list, err = e.Recon.Approvals(ctx, recon.ApprovalFilter{MerchantIDs: []int64{e.Merchant.ID}, Status: recon.Pending}); err != nil || len(list) != 0 {
		t.Fatalf("pending proposals = %+v, %v", list, err)
	}
	e.CheckLedger()
}

// Below the merchant's threshold for the currency a posting resolution
// resolves at once; at or above it, and in a currency without one, it waits.
func TestApprovalThreshold(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	if err := e.Recon.SetThreshold(ctx, e.Merchant.ID, "BRL", dec("-1")); !errors.Is(err, recon.ErrInvalid) {
		t.Fatalf("negative threshold: %v", err)
	}
	if err := e.Recon.SetThreshold(ctx, e.Merchant.ID, "XXX1", dec("1")); !errors.Is(err, recon.ErrInvalid) {
		t.Fatalf("unknown currency: %v", err)
	}
	cases := []struct {
		name, threshold, paid string
		pending               bool
	}{
		{"no threshold", "", "7.00", true},
		{"below", "10", "9.99", false},
		{"at", "10", "10.00", true},
		{"above", "10", "10.01", true},
		{"zero threshold", "0", "0.01", true},
	}
	for i, c := range cases {
		if c.threshold != "" {
			if err := e.Recon.SetThreshold(ctx, e.Merchant.ID, "BRL", dec(c.threshold)); err != nil {
				t.Fatal(err)
			}
		}
		customer := "t" + string(rune('a'+i))
		d := mismatch(e, customer, "20.00", c.paid)
		out, err := e.Recon.Propose(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.AcceptReceived, Actor: "cli:alice", Note: c.name})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		moved := e.Balance(ledger.CustomerAccount(customer, "BRL"))
		if out.Pending() != c.pending {
			t.Errorf("%s: pending = %v, want %v (%+v)", c.name, out.Pending(), c.pending, out)
		}
		switch {
		case c.pending && (!moved.IsZero() || !out.Proposal.Amount.Equal(dec(c.paid))):
			t.Errorf("%s: proposal %s, customer %s; want the paid amount proposed and nothing moved", c.name, out.Proposal.Amount, moved)
		case !c.pending && (!moved.Equal(dec(c.paid)) || out.Resolved.Discrepancy.Status != discrepancies.Resolved || out.Resolved.Discrepancy.ResolvedBy != "cli:alice"):
			t.Errorf("%s: resolved %+v, customer %s, want %s", c.name, out.Resolved, moved, c.paid)
		}
	}
	ts, err := e.Recon.Thresholds(ctx, e.Merchant.ID)
	if err != nil || len(ts) != 1 || ts[0].Currency != "BRL" || !ts[0].Amount.IsZero() {
		t.Fatalf("thresholds = %+v, %v", ts, err)
	}
	e.CheckLedger()
}

// A rejection needs a reason, moves nothing and leaves the discrepancy open
// for another proposal; the maker may withdraw their own.
func TestRejectAndWithdraw(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	d := mismatch(e, "r1", "30.00", "31.00")
	propose := func(who string) recon.Proposal {
		t.Helper()
		out, err := e.Recon.Propose(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.WriteOff, Actor: who, Note: "overpayment kept"})
		if err != nil || !out.Pending() {
			t.Fatalf("propose: %+v %v", out, err)
		}
		return *out.Proposal
	}
	p := propose("user:1")
	if _, err := e.Recon.Reject(ctx, e.Merchant.ID, p.ID, "user:2", " "); !errors.Is(err, recon.ErrInvalid) {
		t.Fatalf("rejection without a reason: %v", err)
	}
	r, err := e.Recon.Reject(ctx, e.Merchant.ID, p.ID, "user:2", "the payer asked for a refund")
	if err != nil || r.Proposal.Status != recon.Rejected || r.Proposal.DecidedBy != "user:2" || r.Resolved != nil {
		t.Fatalf("reject: %+v %v", r, err)
	}
	if _, err := e.Recon.Approve(ctx, e.Merchant.ID, p.ID, "user:3", ""); !errors.Is(err, recon.ErrDecided) {
		t.Fatalf("approving a rejected proposal: %v", err)
	}
	got, err := e.Disc.Get(ctx, e.Pool, d.ID)
	if err != nil || got.Status != discrepancies.Open || !e.Balance("liabilities:suspense:BRL").Equal(dec("31")) || !e.Balance(ledger.GainAccount("BRL")).IsZero() {
		t.Fatalf("after rejection: %+v %v, suspense %s", got, err, e.Balance("liabilities:suspense:BRL"))
	}
	p2 := propose("user:1")
	if r, err := e.Recon.Reject(ctx, e.Merchant.ID, p2.ID, "user:1", "withdrawn: wrong action"); err != nil || r.Proposal.Status != recon.Rejected {
		t.Fatalf("withdraw: %+v %v", r, err)
	}
	tr := trail(e, d.ID)
	if want := []string{"proposed user:1", "rejected user:2", "proposed user:1", "rejected user:1"}; !sameTrail(tr[len(tr)-4:], want) {
		t.Fatalf("audit trail = %v, want it to end %v", tr, want)
	}
	// Closed meanwhile (here by tally's own direct path): approving is
	// refused, and the proposal leaves the queue, rejected by tally.
	p3 := propose("user:1")
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.Ignore, Actor: "recon", Note: "closed by the run"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Recon.Approve(ctx, e.Merchant.ID, p3.ID, "user:2", "ok"); !errors.Is(err, discrepancies.ErrClosed) {
		t.Fatalf("approving on a closed discrepancy: %v, want ErrClosed", err)
	}
	if got, err := e.Recon.Proposal(ctx, p3.ID); err != nil || got.Status != recon.Rejected || got.DecidedBy != "tally" {
		t.Fatalf("proposal on a closed discrepancy = %+v %v, want rejected by tally", got, err)
	}
	if !e.Balance("liabilities:suspense:BRL").Equal(dec("31")) {
		t.Fatalf("suspense %s, want 31 (nothing moved)", e.Balance("liabilities:suspense:BRL"))
	}
	e.CheckLedger()
}

// ignore posts nothing and so closes at once, with its reason.
func TestIgnoreClosesAtOnce(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	d := mismatch(e, "i1", "3.00", "2.00")
	if _, err := e.Recon.Propose(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.Ignore, Actor: "user:1"}); !errors.Is(err, recon.ErrInvalid) {
		t.Fatalf("ignore without a reason: %v", err)
	}
	out, err := e.Recon.Propose(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.Ignore, Actor: "user:1", Note: "test payment"})
	if err != nil || out.Pending() || out.Resolved.Discrepancy.Status != discrepancies.Ignored || out.Resolved.TransferKey != "" {
		t.Fatalf("ignore: %+v %v", out, err)
	}
	if !e.Balance("liabilities:suspense:BRL").Equal(dec("2")) {
		t.Fatalf("ignore moved money: suspense %s", e.Balance("liabilities:suspense:BRL"))
	}
}

// Writing off books to the right side: a surplus (unclaimed money in
// suspense, a provider holding more than the ledger) credits income:gain, a
// shortfall (a provider holding less) debits expenses:loss; never a negative
// expense.
func TestWriteOffSides(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := tallytest.New(t, tallytest.Options{})
	ctx := context.Background()
	if err := e.Recon.SetThreshold(ctx, e.Merchant.ID, "BRL", dec("1000")); err != nil {
		t.Fatal(err)
	}
	gain, loss := ledger.GainAccount("BRL"), ledger.LossAccount("BRL")
	writeOff := func(d discrepancies.Discrepancy) {
		t.Helper()
		out, err := e.Recon.Propose(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.WriteOff, Actor: "user:1", Note: "written off"})
		if err != nil || out.Pending() || out.Resolved.TransferKey == "" {
			t.Fatalf("write_off of %d: %+v %v", d.ID, out, err)
		}
	}
	// Money parked in suspense that nobody claims: a gain.
	writeOff(mismatch(e, "w1", "10.00", "12.00"))
	if !e.Balance(gain).Equal(dec("12")) || !e.Balance(loss).IsZero() || !e.Balance("liabilities:suspense:BRL").IsZero() {
		t.Fatalf("suspense written off: gain %s loss %s suspense %s; want 12, 0, 0", e.Balance(gain), e.Balance(loss), e.Balance("liabilities:suspense:BRL"))
	}
	// Balance drifts: the provider holds 5 more (gain), then 3 less (loss).
	e.Opening("cxpay", "BRL", "100000")
	drift := func(amount string) discrepancies.Discrepancy {
		t.Helper()
		e.Control("cxpay", "POST", "/merchants/M10001/adjust", map[string]string{"currency": "BRL", "amount": amount})
		e.Reconcile(recon.Request{Kind: recon.KindBalances, ProviderAccount: "cxpay-main", From: start.Add(-time.Minute), To: time.Now().Add(time.Minute)})
		for _, d := range e.Discrepancies(discrepancies.BalanceDrift) {
			if d.Status == discrepancies.Open {
				return d
			}
		}
		t.Fatalf("no open balance_drift after adjusting by %s", amount)
		return discrepancies.Discrepancy{}
	}
	clearing := ledger.ProviderAccount("cxpay-main", "BRL")
	before := e.Balance(clearing)
	writeOff(drift("5"))
	if !e.Balance(gain).Equal(dec("17")) || !e.Balance(loss).IsZero() || !e.Balance(clearing).Sub(before).Equal(dec("5")) {
		t.Fatalf("surplus drift written off: gain %s loss %s clearing moved %s; want 17, 0, +5", e.Balance(gain), e.Balance(loss), e.Balance(clearing).Sub(before))
	}
	writeOff(drift("-8"))
	if !e.Balance(gain).Equal(dec("17")) || !e.Balance(loss).Equal(dec("8")) || !e.Balance(clearing).Sub(before).Equal(dec("-3")) {
		t.Fatalf("shortfall drift written off: gain %s loss %s clearing moved %s; want 17, 8, -3", e.Balance(gain), e.Balance(loss), e.Balance(clearing).Sub(before))
	}
	e.CheckLedger()
}
