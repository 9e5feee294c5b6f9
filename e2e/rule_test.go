package e2e_test

// The money rule's conformance suite: for every provider, an open deposit and
// (where the provider makes payouts) an open payout receive the provider's own
// success event — rendered and signed by its simulator, with one field changed
// at a time — through POST /callbacks/{account} and the real workers, and each
// must end in exactly one of the rule's two outcomes (README, "Ledger
// postings"): posted as stated, or moved to suspense (or held) with a
// discrepancy naming what differs. After each: exact balances, the provider's
// documented acknowledgement, and `tally ledger check` ok.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/tallytest"
)

// ruleProvider is how one provider states an order's money, for the suite.
type ruleProvider struct {
	name string
	// deposit is a deposit request (without provider_account and customer_id).
	deposit map[string]any
	// payout is a payout request, nil for a provider without payouts.
	payout map[string]any
	// signed: the callback carries the event; otherwise (USDTCNPAY) it is a
	// hint and the provider's order query states the event.
	signed bool
	// currency: the event carries a currency field the suite changes.
	currency bool
	// fee: the event states a fee.
	fee bool
	// failedCallback: a failed order gets a callback (UsdtPay calls back only
	// on success).
	failedCallback bool
	// reversedAsFailed: "failed" after "succeeded" is this provider's reversal.
	reversedAsFailed bool
	// quoted: deposits are quoted in the order currency and paid in another (VPay).
	quoted bool
	// refs: the event names both tally's order number and the provider's id.
	refs bool
	// foreign is a currency the ledger books that the orders do not use.
	foreign string
}

var ruleProviders = []ruleProvider{
	{name: "cxpay", signed: true, fee: true, failedCallback: true, refs: true,
		deposit: map[string]any{"amount": "80.00", "currency": "BRL", "payer": map[string]string{"name": "Ana", "tax_id": "1", "email": "a@b.c", "phone": "1"}},
		payout: map[string]any{"amount": "50.00", "currency": "BRL",
			"beneficiary": map[string]string{"name": "Ana", "account": "12345-6", "account_type": "CPF", "tax_id": "1", "email": "a@b.c", "phone": "1"}}},
	{name: "cpay", signed: true, currency: true, fee: true, failedCallback: true, reversedAsFailed: true, refs: true, foreign: "BTC",
		deposit: map[string]any{"amount": "50", "currency": "USDT"},
		payout: map[string]any{"amount": "40", "currency": "USDT",
			"beneficiary": map[string]string{"account": "TRMYtLHzmTeMm1FW86LZh2LGnE2D7kJnnw", "network": "TRON(TRC-20)"}}},
	{name: "usdtpay", signed: true, currency: true, refs: true, foreign: "USD",
		deposit: map[string]any{"amount": "100.00", "currency": "CNY", "return_url": "http://merchant.example/paid"}},
	{name: "vpay", signed: true, currency: true, fee: true, failedCallback: true, quoted: true, refs: true, foreign: "BTC",
		deposit: map[string]any{"amount": "100.00", "currency": "CNY", "pay_currency": "USDT"}},
	{name: "usdtcnpay", failedCallback: true, reversedAsFailed: true,
		deposit: map[string]any{"amount": "1000", "currency": "CNY"},
		payout: map[string]any{"amount": "500", "currency": "CNY",
			"beneficiary": map[string]string{"name": "张三", "account": "6222020202020202", "category": "0", "bank_code": "1"}}},
}

// outcome is what the rule must make of an event.
type outcome string

const (
	posted    outcome = "posted"    // rule outcome 1: as stated, to the customer
	suspense  outcome = "suspense"  // outcome 2: as stated, to suspense (a payout: beyond its hold, owed by the customer)
	held      outcome = "held"      // outcome 2: nothing moves, the discrepancy holds the figures
	conflict  outcome = "conflict"  // outcome 2: references disagree, nothing moves on either order
	contradic outcome = "contradic" // a final status contradicted: followed or kept, always flagged
)

// ruleCase changes one field of the provider's success event.
type ruleCase struct {
	name    string
	deposit bool // a deposit case (else a payout case)
	applies func(p ruleProvider) bool
	// mutate changes the simulator's order the event is rendered from.
	mutate func(p ruleProvider, o *sim.Order)
	want   outcome
}

func always(ruleProvider) bool { return true }

var ruleCases = func() []ruleCase {
	var cs []ruleCase
	for _, dep := range []bool{true, false} {
		kind := map[bool]string{true: "deposit", false: "payout"}[dep]
		// A payout paid out more or less than asked is posted as stated (what
		// went beyond its hold owed by the customer) and flagged; one in a
		// currency it was not asked in keeps its hold.
		up, down, foreign := suspense, suspense, suspense
		if !dep {
			foreign = held
		}
		cs = append(cs,
			ruleCase{name: kind + "/exact", deposit: dep, applies: always, want: posted},
			ruleCase{name: kind + "/amount up", deposit: dep, applies: always, want: up,
				mutate: func(p ruleProvider, o *sim.Order) { setPaid(p, o, o.Paid.Add(bigStep(p, o))) }},
			ruleCase{name: kind + "/amount down", deposit: dep, applies: always, want: down,
				mutate: func(p ruleProvider, o *sim.Order) { setPaid(p, o, o.Paid.Sub(bigStep(p, o))) }},
			ruleCase{name: kind + "/one unit more, at the scale limit", deposit: dep, applies: always, want: up,
				mutate: func(p ruleProvider, o *sim.Order) { setPaid(p, o, o.Paid.Add(unit(p, o))) }},
			ruleCase{name: kind + "/extra decimal place", deposit: dep, applies: always, want: held,
				mutate: func(p ruleProvider, o *sim.Order) { setPaid(p, o, o.Paid.Add(unit(p, o).Shift(-1))) }},
			ruleCase{name: kind + "/above the account's bound", deposit: dep, applies: always, want: held,
				mutate: func(p ruleProvider, o *sim.Order) {
					setPaid(p, o, decimal.New(1, 12-scaleOf(settleCur(p, o))).Add(unit(p, o)))
				}},
			ruleCase{name: kind + "/fee", deposit: dep, applies: func(p ruleProvider) bool { return p.fee }, want: posted,
				mutate: func(p ruleProvider, o *sim.Order) { setFee(p, o, o.Fee.Add(bigStep(p, o))) }},
			ruleCase{name: kind + "/foreign currency", deposit: dep, applies: func(p ruleProvider) bool { return p.currency }, want: foreign,
				mutate: func(p ruleProvider, o *sim.Order) { setCurrency(o, p.foreign) }},
			ruleCase{name: kind + "/currency the ledger cannot book", deposit: dep, applies: func(p ruleProvider) bool { return p.currency }, want: held,
				mutate: func(p ruleProvider, o *sim.Order) { setCurrency(o, "XAU") }},
			ruleCase{name: kind + "/order references swapped", deposit: dep, applies: func(p ruleProvider) bool { return p.refs }, want: conflict},
			ruleCase{name: kind + "/status contradicting an earlier one", deposit: dep, applies: func(p ruleProvider) bool { return p.failedCallback }, want: contradic},
		)
	}
	return cs
}()

func TestMoneyRuleEveryProvider(t *testing.T) {
	t.Parallel()
	for _, p := range ruleProviders {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := tallytest.New(t, tallytest.Options{})
			r := &ruleRun{t: t, e: e, p: p, eng: e.Sandbox.Simulator(p.name).Engine()}
			for _, c := range ruleCases {
				if !c.applies(p) || (!c.deposit && p.payout == nil) {
					continue
				}
				t.Run(c.name, func(t *testing.T) { r.run(t, c) })
			}
		})
	}
}

// ruleRun runs the cases of one provider, one after the other (they compare
// balances of shared accounts before and after).
type ruleRun struct {
	t    *testing.T
	e    *tallytest.Env
	p    ruleProvider
	eng  *sim.Engine
	n    atomic.Int64
	last orders.Order // the last order settled, for the swapped references
	// settledFee is the fee of the success a contradicting event follows.
	settledFee decimal.Decimal
}

func (r *ruleRun) run(t *testing.T, c ruleCase) {
	e, p := r.e, r.p
	o := r.open(t, c.deposit)
	g, err := r.eng.FindOrder("", o.ProviderOrderNo)
	if err != nil {
		t.Fatal(err)
	}
	succeed(p, g)
	m := *g
	if c.mutate != nil {
		c.mutate(p, &m)
	}
	other := r.last
	if c.want == conflict {
		if other.ID == 0 || other.ProviderOrderID == "" {
			t.Skip("no settled order with a provider id to swap in yet")
		}
		m.ID = other.ProviderOrderID // the event's provider id names the other order
	}
	before := r.balances(o, m, other)

	if c.want == contradic {
		// The provider first says the opposite final status.
		first := *g
		if c.deposit {
			first.Status, first.Paid, first.Fee, first.Credited = providers.StatusFailed, decimal.Zero, decimal.Zero, decimal.Zero
		}
		r.deliver(t, first)
		want := orders.StatusSucceeded
		if c.deposit {
			want = orders.StatusFailed
		}
		e.WaitStatus(o.ID, want)
		if !c.deposit {
			before = r.balances(o, m, other)
			r.settledFee = m.Fee
			m.Status, m.Paid, m.Fee, m.Credited = providers.StatusFailed, decimal.Zero, decimal.Zero, decimal.Zero
		}
	}
	r.deliver(t, m)
	e.WaitIdle()
	after := r.balances(o, m, other)
	got := e.Order(o.ID)
	r.assert(t, c, o, got, m, before, after)
	e.CheckLedger()
	if got.Status == orders.StatusSucceeded && c.want != contradic {
		r.last = got
	}
}

// open creates an order for a fresh customer and waits until the provider has it.
func (r *ruleRun) open(t testing.TB, deposit bool) orders.Order {
	e, p := r.e, r.p
	customer := fmt.Sprintf("%s-c%d", p.name, r.n.Add(1))
	req := map[string]any{"provider_account": p.name + "-main", "customer_id": customer}
	src, kind := p.deposit, "deposit"
	if !deposit {
		src, kind = p.payout, "payout"
		e.Fund(p.name, customer, src["currency"].(string), "1000000")
	}
	for k, v := range src {
		req[k] = v
	}
	o := e.CreateOrder(kind, req)
	if o.SubmitState != "submitted" {
		t.Fatalf("%s not submitted: %+v", kind, o)
	}
	if o.PayForm != nil {
		// UsdtPay has the order once the payer's browser posts the signed form.
		form := url.Values{}
		for _, f := range o.PayForm.Fields {
			form.Set(f.Name, f.Value)
		}
		resp, err := http.PostForm(o.PayForm.Action, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	return o
}

// deliver has the provider state o: its signed callback posted to tally, or
// (a provider whose callbacks are hints) its order altered and the hint posted.
// The answer must be the provider's documented acknowledgement.
func (r *ruleRun) deliver(t testing.TB, o sim.Order) {
	t.Helper()
	if !r.p.signed {
		if _, err := r.eng.Alter(o.OrderNo, func(s *sim.Order) {
			s.Status, s.Paid, s.Fee, s.Credited, s.Currency, s.Parts = o.Status, o.Paid, o.Fee, o.Credited, o.Currency, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := r.eng.Render(o)
	if err != nil || out == nil {
		t.Fatalf("render %s %s event: %v (%v)", r.p.name, o.Status, out, err)
	}
	req, err := http.NewRequest(out.Method, out.URL, strings.NewReader(string(out.Body)))
	if err != nil {
		t.Fatal(err)
	}
	if out.ContentType != "" {
		req.Header.Set("Content-Type", out.ContentType)
	}
	for k, v := range out.Header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != r.eng.Ack() {
		t.Fatalf("%s answered %d %q to a verified event, want 200 %q", r.p.name, resp.StatusCode, body, r.eng.Ack())
	}
}

// balances are the accounts an outcome moves, by name.
func (r *ruleRun) balances(o orders.Order, m sim.Order, other orders.Order) map[string]decimal.Decimal {
	names := r.accounts(o, m)
	if other.ID != 0 {
		names = append(names, r.accounts(other, m)...)
	}
	out := map[string]decimal.Decimal{}
	for _, n := range names {
		out[n] = r.e.Balance(n)
		out["available "+n] = r.e.Available(n)
	}
	return out
}

func (r *ruleRun) accounts(o orders.Order, m sim.Order) []string {
	acct := r.p.name + "-main"
	var names []string
	for _, cur := range []string{o.Currency, o.PayCurrency, statedCur(r.p, o, m)} {
		names = append(names, "assets:provider:"+acct+":"+cur, "liabilities:customer:"+o.CustomerID+":"+cur,
			"liabilities:suspense:"+cur, "expenses:fees:"+acct+":"+cur, "assets:receivable:"+o.CustomerID+":"+cur, "equity:fx:"+cur)
	}
	return names
}

// assert checks that the event had exactly the outcome c wants.
func (r *ruleRun) assert(t *testing.T, c ruleCase, o, got orders.Order, m sim.Order, before, after map[string]decimal.Decimal) {
	t.Helper()
	p := r.p
	acct := p.name + "-main"
	cur := statedCur(p, o, m)
	gross, fee := m.Paid, decimal.Zero
	if p.fee {
		fee = m.Fee
	}
	want := map[string]decimal.Decimal{} // expected change, by account; others unchanged
	add := func(name string, d decimal.Decimal) { want[name] = want[name].Add(d) }
	clearing := "assets:provider:" + acct + ":" + cur
	open := r.openOf(o.ID)
	switch c.want {
	case posted, suspense:
		if c.deposit {
			to := "liabilities:customer:" + o.CustomerID
			if c.want == suspense {
				to = "liabilities:suspense"
			}
			value := gross
			if p.quoted && cur == o.PayCurrency {
				value = m.QuoteAmount.Mul(gross).Div(m.Amount).Round(2)
				add("equity:fx:"+cur, gross)
				add("equity:fx:"+o.Currency, value.Neg())
				to += ":" + o.Currency
			} else {
				to += ":" + cur
			}
			add(clearing, gross.Sub(fee))
			add(to, value)
			add("expenses:fees:"+acct+":"+cur, fee)
		} else {
			add(clearing, gross.Add(fee).Neg())
			add("expenses:fees:"+acct+":"+cur, fee)
			paid := decimal.Min(gross, o.Amount)
			add("liabilities:customer:"+o.CustomerID+":"+cur, paid.Neg())
			if excess := gross.Sub(o.Amount); excess.IsPositive() {
				add("assets:receivable:"+o.CustomerID+":"+cur, excess)
			}
			// The hold is gone: the customer's available balance now only
			// lacks what was paid.
			add("available liabilities:customer:"+o.CustomerID+":"+cur, o.Amount.Sub(paid))
		}
		if got.Status != orders.StatusSucceeded {
			t.Errorf("order %s, want succeeded", got.Status)
		}
		if c.want == posted && len(open) > 0 {
			t.Errorf("posted as stated, yet discrepancies opened: %+v", summaries(open))
		}
		if c.want == suspense && !hasType(open, discrepancies.AmountMismatch) {
			t.Errorf("moved to suspense without an amount_mismatch: %+v", summaries(open))
		}
	case held, conflict:
		if got.Status != o.Status {
			t.Errorf("order %s, want it left %s", got.Status, o.Status)
		}
		wantType := discrepancies.AmountMismatch
		if c.want == conflict {
			wantType = discrepancies.ReferenceConflict
		}
		if !hasType(open, wantType) {
			t.Errorf("nothing moved, but no open %s: %+v", wantType, summaries(open))
		}
		if c.want == held {
			for _, d := range open {
				if d.Type == discrepancies.AmountMismatch && (d.Actual == nil || !dec(*d.Actual).Equal(gross)) {
					t.Errorf("the discrepancy does not carry the provider's %s: %+v", gross, d)
				}
			}
		}
	case contradic:
		if !hasType(open, discrepancies.StatusMismatch) && !hasType(open, discrepancies.Reversal) {
			t.Errorf("a contradicted status, no status_mismatch or reversal: %+v", summaries(open))
		}
		if c.deposit {
			// Followed: the late payment is posted as stated.
			add(clearing, gross.Sub(fee))
			add("expenses:fees:"+acct+":"+cur, fee)
			if p.quoted {
				value := m.QuoteAmount
				add("equity:fx:"+cur, gross)
				add("equity:fx:"+o.Currency, value.Neg())
				add("liabilities:customer:"+o.CustomerID+":"+o.Currency, value)
			} else {
				add("liabilities:customer:"+o.CustomerID+":"+cur, gross)
			}
			if got.Status != orders.StatusSucceeded {
				t.Errorf("order %s after failed then success, want succeeded", got.Status)
			}
			r.e.Eventually("webhooks saying failed and succeeded", func() bool {
				seen := map[string]bool{}
				for _, ev := range r.e.Webhooks.For(o.ID) {
					seen[ev.ToStatus] = true
				}
				return seen["failed"] && seen["succeeded"]
			})
		} else if !p.reversedAsFailed {
			if got.Status != orders.StatusSucceeded {
				t.Errorf("payout %s after success then failed, want it kept succeeded", got.Status)
			}
			r.e.Eventually("an order.disputed webhook", func() bool {
				for _, ev := range r.e.Webhooks.For(o.ID) {
					if ev.Type == "order.disputed" && ev.ProviderSays == "failed" {
						return true
					}
				}
				return false
			})
		} else {
			// This provider's "failed after success" is its reversal: the
			// payout's money comes back, exactly.
			if got.Status != orders.StatusReversed {
				t.Errorf("payout %s after success then failed at %s, want reversed", got.Status, p.name)
			}
			add(clearing, o.Amount.Add(r.settledFee))
			add("expenses:fees:"+acct+":"+cur, r.settledFee.Neg())
			add("liabilities:customer:"+o.CustomerID+":"+cur, o.Amount)
		}
	}
	for name, b := range before {
		if strings.HasPrefix(name, "available ") {
			continue
		}
		if d := after[name].Sub(b); !d.Equal(want[name]) {
			t.Errorf("%s moved by %s, want %s", name, d, want[name])
		}
	}
	// The customer's available balance: a payout's hold leaves it as the
	// payout settles.
	for _, name := range []string{"liabilities:customer:" + o.CustomerID + ":" + o.Currency} {
		w, ok := want["available "+name]
		if !ok {
			w = want[name]
		}
		if d := after["available "+name].Sub(before["available "+name]); !d.Equal(w) {
			t.Errorf("available %s moved by %s, want %s", name, d, w)
		}
	}
}

// openOf are the open discrepancies about an order.
func (r *ruleRun) openOf(orderID int64) []discrepancies.Discrepancy {
	var out []discrepancies.Discrepancy
	for _, d := range r.e.Discrepancies("") {
		if d.OrderID == orderID && d.Status == discrepancies.Open {
			out = append(out, d)
		}
	}
	return out
}

func hasType(ds []discrepancies.Discrepancy, t discrepancies.Type) bool {
	for _, d := range ds {
		if d.Type == t {
			return true
		}
	}
	return false
}

func summaries(ds []discrepancies.Discrepancy) []string {
	var s []string
	for _, d := range ds {
		s = append(s, string(d.Type)+": "+d.Summary)
	}
	return s
}

// succeed makes the simulator's order a genuine success: paid (or paid out)
// in full with a fee, as the provider would state it.
func succeed(p ruleProvider, o *sim.Order) {
	o.Status = providers.StatusSucceeded
	fee := decimal.RequireFromString("0.5")
	if p.quoted {
		fee = decimal.RequireFromString("0.1")
	}
	if !p.fee {
		fee = decimal.Zero
	}
	o.Fee = fee
	setPaid(p, o, o.Amount)
	if o.Kind == providers.KindPayout && !p.signed {
		o.Parts = nil
	}
}

// setPaid states paid as what moved, keeping the credited amount consistent.
func setPaid(p ruleProvider, o *sim.Order, paid decimal.Decimal) {
	o.Paid = paid
	setFee(p, o, o.Fee)
}

func setFee(_ ruleProvider, o *sim.Order, fee decimal.Decimal) {
	o.Fee = fee
	if o.Kind == providers.KindPayout {
		o.Credited = o.Paid.Add(fee)
	} else {
		o.Credited = o.Paid.Sub(fee)
	}
}

func setCurrency(o *sim.Order, cur string) {
	o.Currency = cur
	if o.SettleCurrency != "" {
		o.SettleCurrency = cur
	}
}

// settleCur is the currency the provider states the money in.
func settleCur(p ruleProvider, o *sim.Order) string {
	if o.SettleCurrency != "" {
		return o.SettleCurrency
	}
	return o.Currency
}

// statedCur is the currency the event m states for tally's order o.
func statedCur(p ruleProvider, o orders.Order, m sim.Order) string {
	if !p.currency {
		return o.Currency
	}
	return settleCur(p, &m)
}

// scaleOf is the ledger's scale for a currency the suite uses (as the ISO
// 4217 seed and the crypto rows of migration 00021 give them).
func scaleOf(cur string) int32 {
	switch cur {
	case "USDT", "BTC", "TRX", "ETH", "BNB":
		return 8
	case "JPY", "KRW", "IDR":
		return 0
	}
	return 2
}

// unit is one unit at the ledger's scale of the currency o states.
func unit(p ruleProvider, o *sim.Order) decimal.Decimal {
	return decimal.New(1, -scaleOf(settleCur(p, o)))
}

// bigStep is a clear difference in o's stated currency (a multiple of 100 for USDTCNPAY).
func bigStep(p ruleProvider, o *sim.Order) decimal.Decimal {
	if p.name == "usdtcnpay" {
		return decimal.NewFromInt(100)
	}
	return decimal.RequireFromString("1.5")
}

// TestMoneyRuleResolutions: what the rule parks, an accountant can resolve,
// from where it was parked: a deposit in a foreign currency from suspense in
// that currency, a payout's excess from the customer's receivable.
func TestMoneyRuleResolutions(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	p := ruleProviders[1] // cpay
	r := &ruleRun{t: t, e: e, p: p, eng: e.Sandbox.Simulator(p.name).Engine()}
	ctx := context.Background()

	dep := r.open(t, true)
	g, err := r.eng.FindOrder("", dep.ProviderOrderNo)
	if err != nil {
		t.Fatal(err)
	}
	succeed(p, g)
	setCurrency(g, "BTC")
	r.deliver(t, *g)
	e.WaitIdle()
	d := r.only(t, dep.ID, discrepancies.AmountMismatch)
	if d.Currency != "BTC" || !d.SuspenseAmount.Equal(g.Paid) {
		t.Fatalf("foreign deposit parked %s %s, want %s BTC", d.SuspenseAmount, d.Currency, g.Paid)
	}
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.AcceptReceived, Actor: "alice", Note: "customer paid in BTC"}); err != nil {
		t.Fatal(err)
	}
	if got := e.Balance("liabilities:customer:" + dep.CustomerID + ":BTC"); !got.Equal(g.Paid) {
		t.Fatalf("customer BTC %s after accept_received, want %s", got, g.Paid)
	}
	if got := e.Balance("liabilities:suspense:BTC"); !got.IsZero() {
		t.Fatalf("suspense BTC %s after accept_received, want 0", got)
	}

	pay := r.open(t, false)
	g, err = r.eng.FindOrder("", pay.ProviderOrderNo)
	if err != nil {
		t.Fatal(err)
	}
	succeed(p, g)
	setPaid(p, g, g.Paid.Add(dec("2")))
	r.deliver(t, *g)
	e.WaitIdle()
	d = r.only(t, pay.ID, discrepancies.AmountMismatch)
	rec := "assets:receivable:" + pay.CustomerID + ":USDT"
	if !d.SuspenseAmount.Equal(dec("2")) || !e.Balance(rec).Equal(dec("2")) {
		t.Fatalf("payout excess parked %s, receivable %s; want 2 and 2", d.SuspenseAmount, e.Balance(rec))
	}
	loss := e.Balance("expenses:loss:USDT")
	if _, err := e.Recon.Resolve(ctx, e.Merchant.ID, d.ID, recon.Resolution{Action: recon.WriteOff, Actor: "alice", Note: "not recoverable"}); err != nil {
		t.Fatal(err)
	}
	if !e.Balance(rec).IsZero() || !e.Balance("expenses:loss:USDT").Sub(loss).Equal(dec("2")) {
		t.Fatalf("after write_off: receivable %s, loss moved by %s; want 0 and 2", e.Balance(rec), e.Balance("expenses:loss:USDT").Sub(loss))
	}
	e.CheckLedger()
}

// only is the one open discrepancy of type typ about an order.
func (r *ruleRun) only(t *testing.T, orderID int64, typ discrepancies.Type) discrepancies.Discrepancy {
	t.Helper()
	var found []discrepancies.Discrepancy
	for _, d := range r.openOf(orderID) {
		if d.Type == typ {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("open %s of order %d: %+v, want one", typ, orderID, summaries(found))
	}
	return found[0]
}

// FuzzMoneyRule drives the rule's mutation space (provider, kind, amount
// moved by any number of units at or below the ledger's scale, fee, currency)
// through POST /callbacks and the workers, and asserts the rule's invariant
// whatever the figures: the provider's acknowledgement; then either the event
// was posted as stated with no discrepancy (the customer credited or debited
// exactly the stated amount), or a discrepancy about the order is open and,
// where the order did not move, no balance moved; and the ledger check holds.
// `go test` runs its seeds; `go test -fuzz FuzzMoneyRule ./e2e/` explores.
func FuzzMoneyRule(f *testing.F) {
	f.Add(uint8(0), true, int64(0), uint8(0), int64(0), uint8(0))
	f.Add(uint8(1), false, int64(150), uint8(0), int64(-20), uint8(0))
	f.Add(uint8(1), true, int64(-1), uint8(1), int64(0), uint8(1))
	f.Add(uint8(2), true, int64(7), uint8(2), int64(0), uint8(2))
	f.Add(uint8(3), true, int64(0), uint8(0), int64(5), uint8(1))
	f.Add(uint8(4), false, int64(100), uint8(0), int64(0), uint8(0))
	e := tallytest.New(f, tallytest.Options{})
	runs := map[string]*ruleRun{}
	f.Fuzz(func(t *testing.T, pi uint8, deposit bool, units int64, finer uint8, feeUnits int64, curIdx uint8) {
		e.T = t // the Env's waits and checks fail this input, not the target
		p := ruleProviders[int(pi)%len(ruleProviders)]
		if !deposit && p.payout == nil {
			deposit = true
		}
		r := runs[p.name]
		if r == nil {
			r = &ruleRun{t: t, e: e, p: p, eng: e.Sandbox.Simulator(p.name).Engine()}
			runs[p.name] = r
		}
		o := r.open(t, deposit)
		g, err := r.eng.FindOrder("", o.ProviderOrderNo)
		if err != nil {
			t.Fatal(err)
		}
		succeed(p, g)
		m := *g
		step := unit(p, &m).Shift(-int32(finer % 3))
		if p.name == "usdtcnpay" {
			step = decimal.NewFromInt(100).Shift(-int32(finer % 4))
		}
		setPaid(p, &m, m.Paid.Add(step.Mul(decimal.NewFromInt(units%1_000_000))))
		if p.fee {
			if fee := m.Fee.Add(unit(p, &m).Mul(decimal.NewFromInt(feeUnits % 10_000))); !fee.IsNegative() {
				setFee(p, &m, fee)
			}
		}
		if p.currency {
			setCurrency(&m, []string{settleCur(p, &m), p.foreign, "XAU"}[int(curIdx)%3])
		}
		if !m.Paid.IsPositive() {
			return // nothing paid is not a success a provider sends
		}
		before := r.balances(o, m, orders.Order{})
		r.deliver(t, m)
		e.WaitIdle()
		after := r.balances(o, m, orders.Order{})
		got := e.Order(o.ID)
		open := r.openOf(o.ID)
		moved := false
		for name, b := range before {
			moved = moved || !after[name].Equal(b)
		}
		switch {
		case len(open) == 0:
			if got.Status != orders.StatusSucceeded {
				t.Fatalf("no discrepancy, yet the order is %s", got.Status)
			}
			cust := "liabilities:customer:" + o.CustomerID + ":" + o.Currency
			d := after[cust].Sub(before[cust])
			if deposit && !p.quoted && !d.Equal(m.Paid) {
				t.Fatalf("posted without a discrepancy: customer moved by %s, the provider stated %s", d, m.Paid)
			}
			if !deposit && !d.Equal(m.Paid.Neg()) {
				t.Fatalf("payout posted without a discrepancy: customer moved by %s, the provider stated %s", d, m.Paid)
			}
		case got.Status == o.Status && moved:
			t.Fatalf("flagged and left %s, yet balances moved: %v -> %v", got.Status, before, after)
		}
		e.CheckLedger()
	})
}
