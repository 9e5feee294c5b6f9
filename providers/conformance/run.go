package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// Run runs the conformance suite against h; see the package documentation
// for what it covers. Its tests run in parallel, each on its own simulator.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if err := h.validate(); err != nil {
		t.Fatalf("conformance harness: %v", err)
	}
	tests := []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"Capabilities", testCapabilities},
		{"Unsupported", testUnsupported},
		{"Create", testCreate},
		{"IdempotentCreate", testIdempotentCreate},
		{"Query", testQuery},
		{"Balance", testBalance},
		{"Callback", testCallback},
		{"CallbackTampered", testCallbackTampered},
		{"CallbackUnreadable", testCallbackUnreadable},
		{"CallbackRetried", testCallbackRetried},
		{"Reply", testReply},
		{"Errors", testErrors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, h)
		})
	}
}

// validate refuses a harness that lacks what every test needs.
func (h Harness) validate() error {
	var missing []string
	for name, ok := range map[string]bool{
		"Name": h.Name != "", "Ack": h.Ack != "", "New": h.New != nil, "NewSimulator": h.NewSimulator != nil,
		"Merchant.ID": h.Merchant.ID != "", "Merchant.Secret": h.Merchant.Secret != "", "Deposit": h.Deposit != nil,
		"Duplicate": h.Duplicate != 0, "Tamper": h.Tamper != nil, "Unreadable or NoUnreadable": h.Unreadable != nil || h.NoUnreadable != "",
	} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// kinds are the order kinds the adapter creates.
func (e *env) kinds() []providers.OrderKind {
	out := []providers.OrderKind{providers.KindDeposit}
	if e.caps.Payout {
		out = append(out, providers.KindPayout)
	}
	return out
}

// wantKind fails unless err wraps kind (and, for the sentinels that exclude
// each other, none of the others).
func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: err = %v, want one wrapping %v", what, err, kind)
	}
	if got := providers.KindOf(err); got != kind {
		t.Fatalf("%s: err = %v wraps %v before %v", what, err, got, kind)
	}
}

func testCapabilities(t *testing.T, h Harness) {
	e := setup(t, h)
	if got := e.a.Provider(); got != h.Name {
		t.Errorf("adapter Provider() = %q, want %q", got, h.Name)
	}
	if got := e.sim.Provider(); got != h.Name {
		t.Errorf("simulator Provider() = %q, want %q", got, h.Name)
	}
	if got := e.eng.Provider(); got != h.Name {
		t.Errorf("engine Provider() = %q, want %q", got, h.Name)
	}
	if !e.caps.Deposit {
		t.Fatalf("Capabilities.Deposit is false: every provider takes deposits")
	}
	if e.caps.Payout != (h.Payout != nil) {
		t.Errorf("Capabilities.Payout = %v but the harness Payout is set = %v", e.caps.Payout, h.Payout != nil)
	}
	dep := h.Deposit(e.orderNo())
	if !contains(e.caps.DepositCurrencies, dep.Currency) {
		t.Errorf("deposit currency %s is not among Capabilities.DepositCurrencies %v", dep.Currency, e.caps.DepositCurrencies)
	}
	if err := e.a.ValidateDeposit(dep); err != nil {
		t.Errorf("ValidateDeposit(the harness's deposit): %v", err)
	}
	dep.Currency = "XXX"
	wantKind(t, "ValidateDeposit in currency XXX", e.a.ValidateDeposit(dep), providers.ErrInvalidRequest)
	_, err := e.a.CreateDeposit(context.Background(), dep)
	wantKind(t, "CreateDeposit in currency XXX", err, providers.ErrInvalidRequest)
	if n := len(e.eng.Orders()); n != 0 {
		t.Errorf("the simulator holds %d orders: a refused request must not reach the provider", n)
	}
	if h.Payout != nil {
		pay := h.Payout(e.orderNo())
		if !contains(e.caps.PayoutCurrencies, pay.Currency) {
			t.Errorf("payout currency %s is not among Capabilities.PayoutCurrencies %v", pay.Currency, e.caps.PayoutCurrencies)
		}
		if err := e.a.ValidatePayout(pay); err != nil {
			t.Errorf("ValidatePayout(the harness's payout): %v", err)
		}
		pay.Currency = "XXX"
		_, err := e.a.CreatePayout(context.Background(), pay)
		wantKind(t, "CreatePayout in currency XXX", err, providers.ErrInvalidRequest)
		if n := len(e.eng.Orders()); n != 0 {
			t.Errorf("the simulator holds %d orders: a refused request must not reach the provider", n)
		}
	}
	if e.caps.SignedCallbacks && e.caps.CallbackBodyIgnored {
		t.Errorf("SignedCallbacks and CallbackBodyIgnored: a signed callback's body would be dropped")
	}
}

func testUnsupported(t *testing.T, h Harness) {
	e := setup(t, h)
	ctx := context.Background()
	checks := []struct {
		op      string
		offered bool
		call    func() error
	}{
		{"CreatePayout", e.caps.Payout, func() error {
			_, err := e.a.CreatePayout(ctx, providers.PayoutRequest{OrderNo: e.orderNo()})
			return err
		}},
		{"ValidatePayout", e.caps.Payout, func() error { return e.a.ValidatePayout(providers.PayoutRequest{OrderNo: e.orderNo()}) }},
		{"QueryOrder", e.caps.QueryOrder, func() error {
			_, err := e.a.QueryOrder(ctx, providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: e.orderNo()})
			return err
		}},
		{"QueryBalances", e.caps.QueryBalance, func() error {
			_, err := e.a.QueryBalances(ctx)
			return err
		}},
	}
	for _, c := range checks {
		if c.offered {
			continue
		}
		wantKind(t, c.op+" (not in Capabilities)", c.call(), providers.ErrUnsupported)
	}
}

func testCreate(t *testing.T, h Harness) {
	e := setup(t, h)
	ctx := context.Background()
	for _, kind := range e.kinds() {
		no := e.orderNo()
		res, err := e.create(ctx, kind, no)
		if err != nil {
			t.Fatalf("create %s: %v", kind, err)
		}
		if !res.Status.Valid() || res.Status.Final() {
			t.Errorf("create %s: status %q, want a valid status that is not final", kind, res.Status)
		}
		if kind == providers.KindDeposit && e.caps.PayPage && res.CashierURL == "" && res.PayForm == nil {
			t.Errorf("create deposit: Capabilities.PayPage but neither a cashier URL nor a pay form")
		}
		o := e.order(no)
		if o.Kind != kind {
			t.Errorf("the simulator's order %s is a %s, want %s", no, o.Kind, kind)
		}
		if res.ProviderOrderID != "" && res.ProviderOrderID != o.ID {
			t.Errorf("create %s: provider order id %q, the simulator's is %q", kind, res.ProviderOrderID, o.ID)
		}
		amount, currency := o.Amount, o.Currency
		if kind == providers.KindDeposit && e.caps.QuotedDeposits {
			amount, currency = o.QuoteAmount, o.QuoteCurrency
		}
		want, wantCur := requested(h, kind, no)
		if !amount.Equal(want) || currency != wantCur {
			t.Errorf("the simulator's %s %s is for %s %s, want %s %s", kind, no, amount, currency, want, wantCur)
		}
	}
}

func testIdempotentCreate(t *testing.T, h Harness) {
	for _, kind := range []providers.OrderKind{providers.KindDeposit, providers.KindPayout} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e := setup(t, h)
			if kind == providers.KindPayout && !e.caps.Payout {
				t.Skip("no payouts")
			}
			ctx := context.Background()
			no := e.orderNo()
			first, err := e.create(ctx, kind, no)
			if err != nil {
				t.Fatalf("first create: %v", err)
			}
			again, err := e.create(ctx, kind, no)
			if n := e.count(no); n != 1 {
				t.Fatalf("the simulator holds %d orders numbered %s after two creates, want 1", n, no)
			}
			o := e.order(no)
			switch h.Duplicate {
			case DuplicateRefused:
				wantKind(t, "second create", err, providers.ErrRejected)
				if !errors.Is(err, providers.ErrDuplicateOrder) {
					t.Fatalf("second create: err = %v, want one wrapping ErrDuplicateOrder", err)
				}
			case DuplicateRejected:
				wantKind(t, "second create", err, providers.ErrRejected)
				if errors.Is(err, providers.ErrDuplicateOrder) {
					t.Fatalf("second create: err = %v wraps ErrDuplicateOrder; the harness documents a plain rejection", err)
				}
				switch {
				case e.caps.QueryOrder:
					ev, qerr := e.a.QueryOrder(ctx, providers.OrderQuery{Kind: kind, OrderNo: no})
					if qerr != nil {
						t.Fatalf("query after the refused create: %v", qerr)
					}
					if ev.OrderNo != no || (ev.ProviderOrderID != "" && ev.ProviderOrderID != o.ID) {
						t.Fatalf("query after the refused create found order %q (%q), want %s (%s)", ev.OrderNo, ev.ProviderOrderID, no, o.ID)
					}
				case kind == providers.KindDeposit && h.Submit != nil:
					// CreateDeposit never reaches the provider: no create of
					// tally's is ambiguous, nothing needs the first order found.
				default:
					t.Fatalf("a plain rejection of a duplicate needs an order query to find the first order; this provider has none: it must answer ErrDuplicateOrder")
				}
			case DuplicateSameOrder:
				if err != nil {
					t.Fatalf("second create: %v, want the first order again", err)
				}
				if again.ProviderOrderID != first.ProviderOrderID {
					t.Fatalf("second create answered order %q, the first %q", again.ProviderOrderID, first.ProviderOrderID)
				}
			}
		})
	}
}

func testQuery(t *testing.T, h Harness) {
	e := setup(t, h)
	if !e.caps.QueryOrder {
		t.Skip("no order query")
	}
	ctx := context.Background()
	for _, kind := range e.kinds() {
		o := e.mustCreate(kind)
		ev, err := e.a.QueryOrder(ctx, providers.OrderQuery{Kind: kind, OrderNo: o.OrderNo})
		if err != nil {
			t.Fatalf("query %s %s: %v", kind, o.OrderNo, err)
		}
		if ev.Provider != h.Name || ev.OrderNo != o.OrderNo || !ev.Verified || !ev.Status.Valid() || ev.Status.Final() {
			t.Errorf("query %s %s: provider %q, order %q, verified %v, status %q; want %q, %q, verified, a status not final",
				kind, o.OrderNo, ev.Provider, ev.OrderNo, ev.Verified, ev.Status, h.Name, o.OrderNo)
		}
		if ev.ProviderOrderID != "" && ev.ProviderOrderID != o.ID {
			t.Errorf("query %s %s: provider order id %q, the simulator's is %q", kind, o.OrderNo, ev.ProviderOrderID, o.ID)
		}
		e.complete(o)
		ev, err = e.a.QueryOrder(ctx, providers.OrderQuery{Kind: kind, OrderNo: o.OrderNo})
		if err != nil {
			t.Fatalf("query %s %s once completed: %v", kind, o.OrderNo, err)
		}
		if ev.Status != providers.StatusSucceeded {
			t.Errorf("query %s %s once completed: status %q, want succeeded", kind, o.OrderNo, ev.Status)
		}
		unknown := e.orderNo()
		_, err = e.a.QueryOrder(ctx, providers.OrderQuery{Kind: kind, OrderNo: unknown})
		wantKind(t, "query of an unknown "+string(kind), err, providers.ErrNotFound)
	}
}

func testBalance(t *testing.T, h Harness) {
	e := setup(t, h)
	if !e.caps.QueryBalance {
		t.Skip("no balance query")
	}
	e.checkBalances("at the start")
	if e.caps.Payout {
		e.mustCreate(providers.KindPayout)
		e.checkBalances("with a payout's funds frozen")
	}
}

// checkBalances compares QueryBalances with the simulator's books: every
// currency the simulator holds is stated with its available and frozen
// amounts, any other stated currency is zero.
func (e *env) checkBalances(when string) {
	e.t.Helper()
	got, err := e.a.QueryBalances(context.Background())
	if err != nil {
		e.t.Fatalf("QueryBalances %s: %v", when, err)
	}
	want, err := e.eng.Balances(e.m.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	stated := map[string]providers.Balance{}
	for _, b := range got {
		if _, dup := stated[b.Currency]; dup {
			e.t.Errorf("%s: %s stated twice", when, b.Currency)
		}
		stated[b.Currency] = b
		if !b.Total.Equal(b.Available.Add(b.Frozen)) {
			e.t.Errorf("%s: %s total %s is not available %s + frozen %s", when, b.Currency, b.Total, b.Available, b.Frozen)
		}
		if w, ok := want[b.Currency]; !ok && !b.Total.IsZero() {
			e.t.Errorf("%s: %s %s stated, the simulator holds none", when, b.Total, b.Currency)
		} else if ok && (!b.Available.Equal(w.Available) || !b.Frozen.Equal(w.Frozen)) {
			e.t.Errorf("%s: %s available %s frozen %s, the simulator's %s and %s", when, b.Currency, b.Available, b.Frozen, w.Available, w.Frozen)
		}
	}
	for cur, w := range want {
		if _, ok := stated[cur]; !ok && !(w.Available.IsZero() && w.Frozen.IsZero()) {
			e.t.Errorf("%s: the simulator holds %s %s, not stated", when, w.Available.Add(w.Frozen), cur)
		}
	}
}

func testCallback(t *testing.T, h Harness) {
	e := setup(t, h)
	for _, kind := range e.kinds() {
		o := e.mustCreate(kind)
		e.complete(o)
		d := e.wait(o.OrderNo, providers.StatusSucceeded)
		ev := d.ev
		if ev.Provider != h.Name {
			t.Errorf("%s callback: provider %q, want %q", kind, ev.Provider, h.Name)
		}
		if ev.Kind != "" && ev.Kind != kind {
			t.Errorf("%s callback: kind %q", kind, ev.Kind)
		}
		if ev.ProviderOrderID != "" && ev.ProviderOrderID != o.ID {
			t.Errorf("%s callback: provider order id %q, the simulator's is %q", kind, ev.ProviderOrderID, o.ID)
		}
		if ev.Verified != e.caps.SignedCallbacks {
			t.Errorf("%s callback: Verified %v, Capabilities.SignedCallbacks %v", kind, ev.Verified, e.caps.SignedCallbacks)
		}
		if d.reply.Status != http.StatusOK || string(d.reply.Body) != h.Ack {
			t.Errorf("%s callback answered %d %q, want 200 %q", kind, d.reply.Status, d.reply.Body, h.Ack)
		}
		e.waitAcked(o.OrderNo)
	}
}

// waitAcked waits until the simulator's delivery log has an acknowledged
// delivery for order no.
func (e *env) waitAcked(no string) []sim.Delivery {
	e.t.Helper()
	var ds []sim.Delivery
	ok := eventually(func() bool {
		ds = e.deliveries(no)
		for _, d := range ds {
			if d.Acked {
				return true
			}
		}
		return false
	})
	if !ok {
		e.t.Fatalf("the simulator logged no acknowledged delivery for %s: %+v", no, ds)
	}
	return ds
}

func testCallbackTampered(t *testing.T, h Harness) {
	e := setup(t, h)
	o := e.mustCreate(providers.KindDeposit)
	e.complete(o)
	genuine := e.wait(o.OrderNo, providers.StatusSucceeded).cb
	if _, err := e.a.ParseCallback(cloneCallback(genuine)); err != nil {
		t.Fatalf("the genuine callback, parsed again: %v", err)
	}
	forgeries, err := h.Tamper(genuine)
	if err != nil {
		t.Fatalf("Tamper: %v", err)
	}
	if len(forgeries) < 3 {
		t.Fatalf("Tamper made %d forgeries; a signed field, the signature altered and removed make 3 at least", len(forgeries))
	}
	whats := make([]string, 0, len(forgeries))
	for _, f := range forgeries {
		whats = append(whats, f.What)
		_, err := e.a.ParseCallback(f.Callback)
		if !errors.Is(err, providers.ErrBadSignature) {
			t.Errorf("%s: ParseCallback err = %v, want ErrBadSignature", f.What, err)
			continue
		}
		if r := e.a.Reply(err); r.Status == http.StatusOK || string(r.Body) == h.Ack {
			t.Errorf("%s: Reply answered %d %q, an acknowledgement", f.What, r.Status, r.Body)
		}
	}
	t.Logf("%d forgeries refused: %s", len(forgeries), strings.Join(whats, ", "))
}

func testCallbackUnreadable(t *testing.T, h Harness) {
	if h.Unreadable == nil {
		t.Skip(h.NoUnreadable)
	}
	e := setup(t, h)
	o := e.mustCreate(providers.KindDeposit)
	e.complete(o)
	e.wait(o.OrderNo, providers.StatusSucceeded)
	paid := e.order(o.OrderNo)

	out, err := e.eng.Render(*paid)
	if err != nil || out == nil {
		t.Fatalf("Render the paid order: %v, %v", out, err)
	}
	if _, err := e.a.ParseCallback(callbackOf(t, out)); err != nil {
		t.Fatalf("the rendered callback of the paid order: %v", err)
	}

	changed := *paid
	h.Unreadable(&changed)
	out, err = e.eng.Render(changed)
	if err != nil || out == nil {
		t.Fatalf("Render the changed order: %v, %v", out, err)
	}
	_, err = e.a.ParseCallback(callbackOf(t, out))
	if !errors.Is(err, providers.ErrUnreadableEvent) || !errors.Is(err, providers.ErrInvalidRequest) || errors.Is(err, providers.ErrBadSignature) {
		t.Fatalf("ParseCallback of a signed, unreadable callback: err = %v, want ErrUnreadableEvent and ErrInvalidRequest", err)
	}
}

func testCallbackRetried(t *testing.T, h Harness) {
	e := setup(t, h)
	o := e.mustCreate(providers.KindDeposit)
	e.rcv.failNext(1)
	e.complete(o)
	e.wait(o.OrderNo, providers.StatusSucceeded)
	ds := e.waitAcked(o.OrderNo)
	failed := e.a.Reply(errStore)
	if len(ds) < 2 || ds[0].Acked || ds[0].Status != failed.Status || !ds[len(ds)-1].Acked {
		t.Fatalf("deliveries %+v: want a first one answered %d (Reply of a storage failure) and not acknowledged, then an acknowledged one", ds, failed.Status)
	}
}

func testReply(t *testing.T, h Harness) {
	e := setup(t, h)
	if got := e.eng.Ack(); got != h.Ack {
		t.Errorf("the simulator waits for %q, the documented acknowledgement is %q", got, h.Ack)
	}
	ok := e.a.Reply(nil)
	if ok.Status != http.StatusOK || string(ok.Body) != h.Ack {
		t.Errorf("Reply(nil) = %d %q, want 200 %q", ok.Status, ok.Body, h.Ack)
	}
	for _, err := range []error{
		errStore,
		providers.Errorf(providers.ErrBadSignature, h.Name, "callback", "signature does not verify"),
		providers.Invalid(h.Name, "callback", "malformed"),
		providers.Unreadable(providers.Invalid(h.Name, "callback", "unreadable")),
	} {
		r := e.a.Reply(err)
		if r.Status < 400 || string(r.Body) == h.Ack {
			t.Errorf("Reply(%v) = %d %q, want a failure answer (4xx or 5xx, not %q)", err, r.Status, r.Body, h.Ack)
		}
	}
	if r := e.a.Reply(errStore); r.Status < 500 {
		t.Errorf("Reply(a storage failure) = %d, want 5xx: the provider must send it again", r.Status)
	}
}

func testErrors(t *testing.T, h Harness) {
	t.Run("create", func(t *testing.T) {
		for _, kind := range []providers.OrderKind{providers.KindDeposit, providers.KindPayout} {
			t.Run(string(kind), func(t *testing.T) {
				t.Parallel()
				testCreateErrors(t, h, kind)
			})
		}
	})
	t.Run("query", func(t *testing.T) {
		t.Parallel()
		testQueryErrors(t, h)
	})
	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		testRefusals(t, h)
	})
}

func testCreateErrors(t *testing.T, h Harness, kind providers.OrderKind) {
	e := setup(t, h)
	if kind == providers.KindPayout && !e.caps.Payout {
		t.Skip("no payouts")
	}
	ctx := context.Background()
	e.mustCreate(kind) // a first call warms what the adapter caches (USDTCNPAY's token)

	no := e.orderNo()
	e.fault(sim.ModeError5xx)
	_, err := e.create(ctx, kind, no)
	wantKind(t, "create hit by error_5xx", err, providers.ErrAmbiguous)
	if n := e.count(no); n != 0 {
		t.Errorf("error_5xx answers without acting, yet the simulator holds %d orders %s", n, no)
	}
	if e.caps.QueryOrder {
		_, err := e.a.QueryOrder(ctx, providers.OrderQuery{Kind: kind, OrderNo: no})
		wantKind(t, "query after error_5xx on create", err, providers.ErrNotFound)
	}

	no = e.orderNo()
	e.fault(sim.ModeTimeout)
	tctx, cancel := context.WithTimeout(ctx, faultTimeout)
	_, err = e.create(tctx, kind, no)
	cancel()
	wantKind(t, "create hit by a timeout", err, providers.ErrAmbiguous)
	if n := e.count(no); n != 1 {
		t.Errorf("a timeout acts, then never answers, yet the simulator holds %d orders %s", n, no)
	}
	if e.caps.QueryOrder {
		if _, err := e.a.QueryOrder(ctx, providers.OrderQuery{Kind: kind, OrderNo: no}); err != nil {
			t.Errorf("query after a timeout on create: %v, want the order", err)
		}
	}
}

func testQueryErrors(t *testing.T, h Harness) {
	e := setup(t, h)
	if !e.caps.QueryOrder {
		t.Skip("no order query")
	}
	ctx := context.Background()
	o := e.mustCreate(providers.KindDeposit)
	q := providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: o.OrderNo}

	e.fault(sim.ModeError5xx)
	_, err := e.a.QueryOrder(ctx, q)
	wantKind(t, "query hit by error_5xx", err, providers.ErrTransient)

	e.fault(sim.ModeTimeout)
	tctx, cancel := context.WithTimeout(ctx, faultTimeout)
	_, err = e.a.QueryOrder(tctx, q)
	cancel()
	wantKind(t, "query hit by a timeout", err, providers.ErrTransient)

	if _, err := e.a.QueryOrder(ctx, q); err != nil {
		t.Errorf("query once the faults are spent: %v", err)
	}
	_, err = e.a.QueryOrder(ctx, providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: e.orderNo()})
	wantKind(t, "query of an unknown order", err, providers.ErrNotFound)
}

func testRefusals(t *testing.T, h Harness) {
	e := setup(t, h)
	ctx := context.Background()

	wrong := e.adapter(h.Merchant.Secret+"0", "http://127.0.0.1:1/callbacks/"+h.Name)
	no := e.orderNo()
	_, err := e.createDeposit(ctx, wrong, no)
	wantKind(t, "deposit with a wrong secret", err, providers.ErrRejected)
	if n := e.count(no); n != 0 {
		t.Errorf("a deposit with a wrong secret created %d orders", n)
	}

	if !e.caps.Payout {
		return
	}
	req := h.Payout(e.orderNo())
	bs, err := e.eng.Balances(e.m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for cur, b := range bs {
		if b.Available.IsPositive() {
			if err := e.eng.AdjustBalance(e.m.ID, cur, b.Available.Neg()); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err = e.a.CreatePayout(ctx, req)
	wantKind(t, "payout beyond the balance", err, providers.ErrRejected)
	if n := e.count(req.OrderNo); n != 0 {
		t.Errorf("a payout beyond the balance created %d orders", n)
	}
}

// requested is the amount and currency the harness asks for.
func requested(h Harness, kind providers.OrderKind, no string) (decimal.Decimal, string) {
	if kind == providers.KindPayout {
		r := h.Payout(no)
		return r.Amount, r.Currency
	}
	r := h.Deposit(no)
	return r.Amount, r.Currency
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
