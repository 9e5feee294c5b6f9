package orders_test

// Unit tests of the order state machine (orders.Decide): no database, no
// network. The matrix runs every order state against every status value of
// the five providers' documents, mapped through each adapter's MapStatus;
// the tests after it take the rule's outcomes, reversals, the ledger's
// refusals, parts, reference conflicts and group deferral one at a time.

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/cpay"
	"github.com/tallyhq/tally/providers/cxpay"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/providers/usdtcnpay"
	"github.com/tallyhq/tally/providers/usdtpay"
	"github.com/tallyhq/tally/providers/vpay"
)

var machineNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func nd(s string) decimal.NullDecimal { return providers.Nullable(dec(s)) }

// books is the ledger as settle.Check sees it: the scales of a few
// currencies (XXX is one it cannot book) and the account's bounds.
type books struct{ acct merchants.ProviderAccount }

var scales = map[string]int32{"CNY": 2, "USD": 2, "BRL": 2, "USDT": 8, "TRX": 8}

func (b books) Scale(cur string) (int32, bool) { s, ok := scales[cur]; return s, ok }
func (b books) Max(cur string, scale int32) decimal.Decimal {
	return b.acct.MaxAmount(cur, scale)
}

// docValue is one status value of a provider's document, and what the
// adapter makes of it.
type docValue struct {
	value   string           // as the document writes it
	reverse bool             // CXPay's reverse flag
	status  providers.Status // the adapter's MapStatus
	source  string           // where it comes from, when not the provider's usual source
}

func (v docValue) String() string {
	if v.reverse {
		return v.value + "+reverse"
	}
	return v.value
}

// docProvider is one provider as its document describes it: the kinds it
// offers, its status values, the figures its events state, and its
// capabilities as its adapter reports them.
type docProvider struct {
	name   string
	cfg    providers.Config
	source string // callbacks, or queries for a provider whose callbacks are hints
	kinds  []providers.OrderKind
	// the order: amount and currencies
	amount, currency, payCurrency string
	values                        func(t *testing.T, kind providers.OrderKind) []docValue
	// event builds the provider's event for a status value about o.
	event func(kind providers.OrderKind, v docValue, o orders.Order) providers.Event
	caps  providers.Capabilities
	// like is the provider whose events bring an order to a state, when p's
	// own values do not (tally's own events).
	like *docProvider
}

func mustMap(t *testing.T, name, value string, st providers.Status, err error) docValue {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: MapStatus(%q): %v", name, value, err)
	}
	return docValue{value: value, status: st}
}

func docProviders(t *testing.T) []*docProvider {
	both := []providers.OrderKind{providers.KindDeposit, providers.KindPayout}
	deposits := []providers.OrderKind{providers.KindDeposit}
	ps := []*docProvider{
		{
			name: "cpay", cfg: providers.Config{BaseURL: "https://api.cpay.example", MerchantID: "20000387", Secret: "xxx112233"},
			source: "callback", kinds: both, amount: "100.5", currency: "USDT",
			values: func(t *testing.T, _ providers.OrderKind) []docValue {
				// "0:PENDING 11: PROCESSING 14:COMPLETED 15:CLOSED"
				var out []docValue
				for _, code := range []string{"0", "11", "14", "15"} {
					st, err := cpay.MapStatus(code)
					out = append(out, mustMap(t, "cpay", code, st, err))
				}
				return out
			},
			event: func(kind providers.OrderKind, v docValue, o orders.Order) providers.Event {
				ev := providers.Event{Provider: "cpay", ProviderOrderID: "CP-" + o.ProviderOrderNo, OrderNo: o.ProviderOrderNo,
					Status: v.status, ProviderStatus: v.value, Currency: o.Currency, Verified: true}
				if v.value == cpay.StatusCodeCompleted || v.value == cpay.StatusCodeClosed {
					ev.Paid, ev.Fee, ev.Credited = providers.Nullable(o.Amount), nd("0.5"), providers.Nullable(o.Amount.Sub(dec("0.5")))
				}
				return ev
			},
		},
		{
			name: "cxpay", cfg: providers.Config{BaseURL: "https://api.cxpay.example", MerchantID: "M10001", Secret: "34797ffec7814a0b",
				Options: map[string]string{cxpay.OptionPayCode: "PIX", cxpay.OptionCurrency: "BRL"}},
			source: "callback", kinds: both, amount: "150.00", currency: "BRL",
			values: func(t *testing.T, kind providers.OrderKind) []docValue {
				// "0 Payment submission 1 pay success 2 Payment failed", and the
				// callback's reverse flag on each.
				var out []docValue
				for _, s := range []string{cxpay.StatusSubmitted, cxpay.StatusPaid, cxpay.StatusFailed} {
					for _, rev := range []bool{false, true} {
						st, known := cxpay.MapStatus(s, rev, kind)
						if !known {
							t.Fatalf("cxpay: MapStatus(%q) unknown", s)
						}
						out = append(out, docValue{value: s, reverse: rev, status: st})
					}
				}
				return out
			},
			event: func(kind providers.OrderKind, v docValue, o orders.Order) providers.Event {
				ev := providers.Event{Provider: "cxpay", Kind: kind, ProviderOrderID: "CX-" + o.ProviderOrderNo, OrderNo: o.ProviderOrderNo,
					Status: v.status, ProviderStatus: v.value, Currency: "BRL", Reversed: v.reverse, Fee: nd("0"), Verified: true}
				if v.value == cxpay.StatusPaid {
					ev.Paid, ev.Fee = providers.Nullable(o.Amount), nd("1.5")
				}
				return ev
			},
		},
		{
			name: "usdtcnpay", cfg: providers.Config{BaseURL: "https://user.usdtcnpay.example", MerchantID: "thisisaccessKey", Secret: "thisissecretKey"},
			source: "query", kinds: both, amount: "500", currency: "CNY",
			values: func(t *testing.T, kind providers.OrderKind) []docValue {
				zts := []string{usdtcnpay.ChargeAwaitingProof, usdtcnpay.ChargeUnderReview, usdtcnpay.ChargeConfirmed, usdtcnpay.ChargeCancelled}
				if kind == providers.KindPayout {
					zts = []string{usdtcnpay.WithdrawUnderReview, usdtcnpay.WithdrawInProgress, usdtcnpay.WithdrawRejected, usdtcnpay.WithdrawCompleted}
				}
				var out []docValue
				for _, zt := range zts {
					st, err := usdtcnpay.MapStatus(kind, zt)
					out = append(out, mustMap(t, "usdtcnpay", zt, st, err))
				}
				return out
			},
			event: func(kind providers.OrderKind, v docValue, o orders.Order) providers.Event {
				// Callbacks are unsigned hints: the state machine hears the order query.
				ev := providers.Event{Provider: "usdtcnpay", Kind: kind, ProviderOrderID: "UC-" + o.ProviderOrderNo, OrderNo: o.ProviderOrderNo,
					Status: v.status, ProviderStatus: v.value, Currency: "CNY", Requested: providers.Nullable(o.Amount), Verified: true}
				if v.status == providers.StatusSucceeded {
					ev.Paid = providers.Nullable(o.Amount)
				}
				switch v.value {
				case usdtcnpay.WithdrawInProgress: // one of two parts paid
					ev.Parts = []providers.Part{{ID: "1", Amount: dec("300"), Status: providers.StatusSucceeded}, {ID: "2", Amount: dec("200"), Status: providers.StatusProcessing}}
				case usdtcnpay.WithdrawCompleted:
					ev.Parts = []providers.Part{{ID: "1", Amount: dec("300"), Status: providers.StatusSucceeded}, {ID: "2", Amount: dec("200"), Status: providers.StatusSucceeded}}
				}
				return ev
			},
		},
		{
			name: "usdtpay", cfg: providers.Config{BaseURL: "https://pay.usdtpay.example", MerchantID: "TW001478", Secret: "762549114209675"},
			source: "callback", kinds: deposits, amount: "100.00", currency: "CNY",
			values: func(t *testing.T, _ providers.OrderKind) []docValue {
				st, err := usdtpay.MapStatus(usdtpay.StatusSuccess) // "success:成功", the only one
				return []docValue{mustMap(t, "usdtpay", usdtpay.StatusSuccess, st, err)}
			},
			event: func(_ providers.OrderKind, v docValue, o orders.Order) providers.Event {
				return providers.Event{Provider: "usdtpay", ProviderOrderID: "UP-" + o.ProviderOrderNo, OrderNo: o.ProviderOrderNo,
					Status: v.status, ProviderStatus: v.value, Currency: o.Currency, Paid: providers.Nullable(o.Amount),
					Quote: &providers.Quote{Currency: "USDT", Amount: dec("13.9")}, Verified: true}
			},
		},
		{
			name: "vpay", cfg: providers.Config{BaseURL: "https://api.vpay.example", MerchantID: "9yUreYgTRtit39Dy", Secret: "D2PQPllGEBOV4mcMxoKTM7foVpzqrjIx"},
			source: "callback", kinds: deposits, amount: "100.00", currency: "CNY", payCurrency: "USDT",
			values: func(t *testing.T, _ providers.OrderKind) []docValue {
				// SUCCESS is the document's; the others are the set the package
				// documents and the simulator sends.
				var out []docValue
				for _, s := range []string{vpay.WirePending, vpay.WireProcessing, vpay.WireSuccess, vpay.WireFail, vpay.WireExpired, vpay.WireReversed} {
					st, known := vpay.MapStatus(s)
					if !known {
						t.Fatalf("vpay: MapStatus(%q) unknown", s)
					}
					out = append(out, docValue{value: s, status: st})
				}
				return out
			},
			event: func(_ providers.OrderKind, v docValue, o orders.Order) providers.Event {
				// Quoted 100.00 CNY, paid 13.88 USDT, 0.38 USDT fee (merchantPaidAmount
				// less merchantActualAmount).
				return providers.Event{Provider: "vpay", Kind: providers.KindDeposit, ProviderOrderID: "VP-" + o.ProviderOrderNo, OrderNo: o.ProviderOrderNo,
					Status: v.status, ProviderStatus: v.value, Currency: "USDT", Reversed: v.status == providers.StatusReversed,
					Requested: nd("13.88"), Paid: nd("13.88"), Credited: nd("13.5"), Fee: nd("0.38"),
					Quote: &providers.Quote{Currency: "CNY", Amount: dec("100.00"), Rate: dec("7.2")}, Verified: true}
			},
		},
	}
	// tally's own events about an order at any provider (here a CXPay
	// account): submit_order's definite rejection and the payout hold's expiry.
	own := *ps[1]
	own.name, own.source, own.kinds, own.like = "tally", "", both, ps[1]
	own.values = func(*testing.T, providers.OrderKind) []docValue {
		return []docValue{
			{value: "submit rejected", status: providers.StatusFailed, source: "submit"},
			{value: "hold expired", status: providers.StatusExpired, source: "expiry"},
		}
	}
	own.event = func(_ providers.OrderKind, v docValue, _ orders.Order) providers.Event {
		return providers.Event{Status: v.status, Remark: v.value}
	}
	ps = append(ps, &own)
	for _, p := range ps {
		provider := p.name
		if p.name == "tally" {
			provider = "cxpay"
		}
		caps, err := registry.Validate(provider, p.cfg)
		if err != nil {
			t.Fatalf("%s adapter: %v", provider, err)
		}
		p.caps = caps
	}
	return ps
}

func (p *docProvider) account() merchants.ProviderAccount {
	return merchants.ProviderAccount{ID: 3, MerchantID: 7, Name: p.name + "-main", Provider: p.name,
		AmountPolicy: merchants.HoldInSuspense, AmountTolerance: decimal.Zero}
}

// order is an order of kind at p in status created, sent to the provider
// (nothing in doubt) but not yet accepted.
func (p *docProvider) order(kind providers.OrderKind) orders.Order {
	o := orders.Order{ID: 42, MerchantID: 7, ProviderAccountID: 3, Kind: kind, Origin: "api", ProviderOrderNo: "T42",
		CustomerID: "c1", Amount: dec(p.amount), Currency: p.currency, PayCurrency: p.payCurrency, Status: orders.StatusCreated,
		SubmitState: "pending"}
	if o.PayCurrency == "" {
		o.PayCurrency = o.Currency
	}
	if kind == providers.KindPayout {
		o.HoldKey = "order:42:hold"
	}
	return o
}

func (p *docProvider) facts(o orders.Order, ev providers.Event) orders.Facts {
	acct := p.account()
	return orders.Facts{Order: o, Event: ev, Source: p.source, Ref: map[string]any{"callback_id": int64(9)}, Account: acct,
		Caps: p.caps, Books: books{acct}, Now: machineNow}
}

// valueFor is p's first status value for kind that asks for st.
func (p *docProvider) valueFor(t *testing.T, kind providers.OrderKind, st providers.Status) (docValue, bool) {
	if p.like != nil {
		return p.like.valueFor(t, kind, st)
	}
	for _, v := range p.values(t, kind) {
		if v.status == st && !v.reverse {
			return v, true
		}
	}
	return docValue{}, false
}

// successEvent is p's success event for o: the provider's own success value
// and figures.
func (p *docProvider) successEvent(t *testing.T, o orders.Order) providers.Event {
	v, ok := p.valueFor(t, o.Kind, providers.StatusSucceeded)
	if !ok {
		t.Fatalf("%s: no success value", p.name)
	}
	if p.like != nil {
		return p.like.event(o.Kind, v, o)
	}
	return p.event(o.Kind, v, o)
}

// state is an order of kind at p in status st, reached as the machine
// reaches it: a success applied to the pending order (its settlement is
// returned, for a reversal to invert).
func (p *docProvider) state(t *testing.T, kind providers.OrderKind, st orders.Status) (orders.Order, []ledger.Entry) {
	t.Helper()
	o := p.order(kind)
	if st == orders.StatusCreated {
		return o, nil
	}
	o.Status, o.SubmitState, o.ProviderOrderID = orders.StatusPending, "submitted", p.successEvent(t, o).ProviderOrderID
	switch st {
	case orders.StatusPending:
	case orders.StatusProcessing:
		o.Status = orders.StatusProcessing
		if v, ok := p.valueFor(t, kind, providers.StatusProcessing); ok && p.like == nil {
			o.Parts = p.event(kind, v, o).Parts // as the processing event left it
		}
	case orders.StatusFailed, orders.StatusExpired:
		final := machineNow.Add(-time.Hour)
		o.Status, o.FinalAt = st, &final
	case orders.StatusSucceeded, orders.StatusReversed:
		d, err := orders.Decide(p.facts(o, p.successEvent(t, o)))
		if err != nil || d.Outcome != orders.Applied || d.Order.Status != orders.StatusSucceeded {
			t.Fatalf("%s %s: settling the pending order: %+v, %v", p.name, kind, d, err)
		}
		settlement := settlementOf(d, o, p.account().Name)
		o = d.Order
		if st == orders.StatusReversed {
			o.Status = orders.StatusReversed
		}
		return o, settlement
	default:
		t.Fatalf("no state %s", st)
	}
	return o, nil
}

// invert is entries with their sides swapped.
func invert(es []ledger.Entry) []ledger.Entry {
	out := make([]ledger.Entry, len(es))
	for i, e := range es {
		out[i] = ledger.Entry{Account: e.Account, Side: e.Side.Opposite(), Amount: e.Amount}
	}
	return out
}

// settlementOf is what a success decision posted, as the ledger keeps it.
func settlementOf(d orders.Decision, o orders.Order, account string) []ledger.Entry {
	var out []ledger.Entry
	for _, p := range d.Postings {
		switch {
		case p.Transfer != nil:
			out = append(out, p.Transfer.Entries...)
		case p.Post != nil:
			amt := p.Post.Amount
			if amt.IsZero() {
				amt = o.Amount
			}
			out = append(out,
				ledger.Entry{Account: ledger.CustomerAccount(o.CustomerID, o.Currency), Side: ledger.Debit, Amount: amt},
				ledger.Entry{Account: ledger.ProviderAccount(account, o.Currency), Side: ledger.Credit, Amount: amt})
		}
	}
	return out
}

// want is what the documents' rules (README "Callbacks and jobs", "The rule
// for provider money", "Entries") say an event does to an order.
type want struct {
	outcome  orders.Outcome
	status   orders.Status
	postings string // the postings' keys, order:42: left out; "post+fee" is the hold posted and its fee, when the provider states one
	findings string // discrepancy types
	events   string // timeline events from>to, notifying ones marked !
	save     bool
}

type specKey struct {
	kind     providers.OrderKind
	cur, tgt orders.Status
}

const (
	created    = orders.StatusCreated
	pending    = orders.StatusPending
	processing = orders.StatusProcessing
	succeeded  = orders.StatusSucceeded
	failed     = orders.StatusFailed
	expired    = orders.StatusExpired
	reversed   = orders.StatusReversed
)

var allStates = []orders.Status{created, pending, processing, succeeded, failed, expired, reversed}

// spec is the state machine's table for an event that agrees with its
// order: by kind, the order's status and the status the event asks for.
var spec = func() map[specKey]want {
	m := map[specKey]want{}
	dep, pay := providers.KindDeposit, providers.KindPayout
	A, D, S, C := orders.Applied, orders.Duplicate, orders.Stale, orders.Conflict
	for _, k := range []providers.OrderKind{dep, pay} {
		settle, void, fail := "settle", "", ""
		if k == pay {
			settle, void = "post+fee", "void"
		}
		for _, cur := range []orders.Status{created, pending, processing} {
			for _, tgt := range []orders.Status{pending, processing} {
				switch {
				case tgt == cur:
					m[specKey{k, cur, tgt}] = want{D, cur, "", "", "", true}
				case rankOf(tgt) < rankOf(cur):
					m[specKey{k, cur, tgt}] = want{S, cur, "", "", fmt.Sprintf("%s>%s", cur, cur), false}
				default:
					m[specKey{k, cur, tgt}] = want{A, tgt, "", "", fmt.Sprintf("!%s>%s", cur, tgt), true}
				}
			}
			m[specKey{k, cur, succeeded}] = want{A, succeeded, settle, "", fmt.Sprintf("!%s>succeeded", cur), true}
			m[specKey{k, cur, failed}] = want{A, failed, void, fail, fmt.Sprintf("!%s>failed", cur), true}
			m[specKey{k, cur, expired}] = want{A, expired, void, fail, fmt.Sprintf("!%s>expired", cur), true}
			m[specKey{k, cur, reversed}] = want{A, reversed, settle + " reverse", "reversal", fmt.Sprintf("!%s>succeeded !succeeded>reversed", cur), true}
		}
		for _, cur := range []orders.Status{succeeded, failed, expired} {
			for _, tgt := range []orders.Status{pending, processing} {
				m[specKey{k, cur, tgt}] = want{S, cur, "", "", fmt.Sprintf("%s>%s", cur, cur), false}
			}
			for _, tgt := range []orders.Status{succeeded, failed, expired} {
				switch {
				case tgt == cur:
					m[specKey{k, cur, tgt}] = want{D, cur, "", "", "", true}
				case k == dep && tgt == succeeded: // a late payment: applied, and flagged
					m[specKey{k, cur, tgt}] = want{A, succeeded, settle, "status_mismatch", fmt.Sprintf("!%s>succeeded", cur), true}
				default: // kept, flagged, and the merchant told of the dispute
					m[specKey{k, cur, tgt}] = want{C, cur, "", "status_mismatch", fmt.Sprintf("%s>%s !%s>%s", cur, cur, cur, cur), false}
				}
			}
			if cur == succeeded {
				m[specKey{k, cur, reversed}] = want{A, reversed, "reverse", "reversal", "!succeeded>reversed", true}
			} else { // the reversal overtook the success
				m[specKey{k, cur, reversed}] = want{A, reversed, settle + " reverse", "reversal", fmt.Sprintf("!%s>succeeded !succeeded>reversed", cur), true}
			}
		}
		for _, tgt := range []orders.Status{pending, processing, succeeded, failed, expired} {
			m[specKey{k, reversed, tgt}] = want{S, reversed, "", "", "reversed>reversed", false}
		}
		m[specKey{k, reversed, reversed}] = want{D, reversed, "", "", "", true}
	}
	return m
}()

func rankOf(s orders.Status) int {
	return map[orders.Status]int{created: 0, pending: 1, processing: 2, succeeded: 3, failed: 3, expired: 3, reversed: 4}[s]
}

// asks is the status an event asks of an order in status cur: a reversed
// flag on a success is a reversal, and so is a failure of a succeeded order
// at a provider whose only way to say reversed it is.
func asks(ev providers.Event, cur orders.Status, caps providers.Capabilities) orders.Status {
	switch {
	case ev.Reversed && (ev.Status == providers.StatusSucceeded || ev.Status == providers.StatusReversed):
		return reversed
	case caps.ReversedAsFailed && ev.Status == providers.StatusFailed && cur == succeeded:
		return reversed
	}
	return orders.Status(ev.Status)
}

// summary renders what a decision does in want's terms.
func summary(d orders.Decision) want {
	var ps, fs, es []string
	for _, p := range d.Postings {
		ps = append(ps, strings.TrimPrefix(p.Key(), "order:42:"))
	}
	for _, f := range d.Findings {
		fs = append(fs, string(f.Type))
	}
	for _, e := range d.Events {
		s := fmt.Sprintf("%s>%s", e.From, e.To)
		switch {
		case e.Staff:
			s = "staff:" + s
		case e.Notify:
			s = "!" + s
		}
		es = append(es, s)
	}
	return want{d.Outcome, d.Order.Status, strings.Join(ps, " "), strings.Join(fs, " "), strings.Join(es, " "), d.Save}
}

// checkDecision checks what every decision must be: its transfers balance
// per currency and carry the order's keys, its findings name the order, and
// a final status has its final time.
func checkDecision(t *testing.T, f orders.Facts, d orders.Decision) {
	t.Helper()
	for _, p := range d.Postings {
		if !strings.HasPrefix(p.Key(), "order:42:") {
			t.Errorf("posting key %q is not the order's", p.Key())
		}
		if p.Transfer == nil {
			continue
		}
		sums := map[string]decimal.Decimal{}
		for _, e := range p.Transfer.Entries {
			if !e.Amount.IsPositive() {
				t.Errorf("%s: entry %+v is not positive", p.Key(), e)
			}
			cur := e.Account[strings.LastIndex(e.Account, ":")+1:]
			if e.Side == ledger.Debit {
				sums[cur] = sums[cur].Add(e.Amount)
			} else {
				sums[cur] = sums[cur].Sub(e.Amount)
			}
		}
		for cur, s := range sums {
			if !s.IsZero() {
				t.Errorf("%s does not balance in %s: %s", p.Key(), cur, s)
			}
		}
		if p.Transfer.Merchant != f.Order.MerchantID || p.Transfer.Reference != "order:42" {
			t.Errorf("%s: merchant %d reference %q", p.Key(), p.Transfer.Merchant, p.Transfer.Reference)
		}
	}
	for _, fd := range d.Findings {
		if fd.MerchantID != 7 || fd.OrderID != 42 || fd.ProviderAccountID != 3 || fd.Fingerprint == "" || fd.Detail["source"] != f.Source {
			t.Errorf("finding %s does not name the order: %+v", fd.Type, fd)
		}
		if fd.Detail["callback_id"] != int64(9) {
			t.Errorf("finding %s does not name what triggered it: %v", fd.Type, fd.Detail)
		}
	}
	for _, e := range d.Events {
		if !e.Staff && e.Detail["callback_id"] != int64(9) {
			t.Errorf("event %s>%s does not name what triggered it: %v", e.From, e.To, e.Detail)
		}
	}
	if d.Save && d.Order.Status.Final() && d.Order.Status != f.Order.Status && (d.Order.FinalAt == nil || !d.Order.FinalAt.Equal(machineNow)) {
		t.Errorf("order ended at %v, want %v", d.Order.FinalAt, machineNow)
	}
}

// TestMachineDocumentMatrix runs every order state against every status
// value of each provider's document (and CXPay's reverse flag), as the
// adapter maps it, and checks the decision against the spec.
func TestMachineDocumentMatrix(t *testing.T) {
	counts := map[string]int{}
	for _, p := range docProviders(t) {
		for _, kind := range p.kinds {
			for _, v := range p.values(t, kind) {
				for _, cur := range allStates {
					name := fmt.Sprintf("%s/%s/%s/%s", p.name, kind, cur, v)
					t.Run(name, func(t *testing.T) {
						o, settlement := p.state(t, kind, cur)
						ev := p.event(kind, v, o)
						f := p.facts(o, ev)
						if v.source != "" {
							f.Source = v.source
						}
						f.Settlement = settlement
						tgt := asks(ev, cur, p.caps)
						w, ok := spec[specKey{kind, cur, tgt}]
						if !ok {
							t.Fatalf("no spec for %s %s -> %s", kind, cur, tgt)
						}
						if strings.Contains(w.postings, "post+fee") {
							fee := "post"
							if ev.Fee.Valid && ev.Fee.Decimal.IsPositive() {
								fee = "post fee"
							}
							w.postings = strings.ReplaceAll(w.postings, "post+fee", fee)
						}
						d, err := orders.Decide(f)
						if err != nil {
							t.Fatal(err)
						}
						if got := summary(d); got != w {
							t.Errorf("%s (asks %s):\n got %+v\nwant %+v", name, tgt, got, w)
						}
						checkDecision(t, f, d)
					})
					counts[p.name+" "+string(kind)]++
				}
			}
		}
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-18s %3d (state, event) pairs", k, counts[k])
	}
}

// TestMachineSpecCoversEveryPair: every (state, status asked) pair of both
// kinds has its row in the spec, and the matrix reaches each one a
// provider's document can ask.
func TestMachineSpecCoversEveryPair(t *testing.T) {
	for _, k := range []providers.OrderKind{providers.KindDeposit, providers.KindPayout} {
		for _, cur := range allStates {
			for _, tgt := range allStates[1:] {
				if _, ok := spec[specKey{k, cur, tgt}]; !ok {
					t.Errorf("no spec for %s %s -> %s", k, cur, tgt)
				}
			}
		}
	}
	reached := map[specKey]bool{}
	for _, p := range docProviders(t) {
		for _, kind := range p.kinds {
			for _, v := range p.values(t, kind) {
				for _, cur := range allStates {
					o, _ := p.state(t, kind, cur)
					reached[specKey{kind, cur, asks(p.event(kind, v, o), cur, p.caps)}] = true
				}
			}
		}
	}
	for k := range spec {
		if !reached[k] {
			t.Errorf("no provider's document reaches %s %s -> %s", k.kind, k.cur, k.tgt)
		}
	}
}

func provider(t *testing.T, name string) *docProvider {
	for _, p := range docProviders(t) {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no provider %s", name)
	return nil
}

// transfer is the decision's transfer of key (order:42: left out).
func transfer(t *testing.T, d orders.Decision, key string) ledger.TransferRequest {
	t.Helper()
	for _, p := range d.Postings {
		if p.Transfer != nil && p.Transfer.Key == "order:42:"+key {
			return *p.Transfer
		}
	}
	t.Fatalf("no transfer %s in %+v", key, summary(d))
	return ledger.TransferRequest{}
}

// entries renders entries as "D account amount" lines, sorted.
func entries(es []ledger.Entry) string {
	var out []string
	for _, e := range es {
		side := "C"
		if e.Side == ledger.Debit {
			side = "D"
		}
		out = append(out, fmt.Sprintf("%s %s %s", side, e.Account, e.Amount))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// TestMachineSettleRule takes package settle's outcomes one at a time: posted
// as stated, flagged and posted elsewhere (suspense, the customer under
// credit_received, a receivable), or held.
func TestMachineSettleRule(t *testing.T) {
	cx := provider(t, "cxpay")
	type tc struct {
		name    string
		kind    providers.OrderKind
		policy  merchants.AmountPolicy
		tol     string
		origin  string
		edit    func(ev *providers.Event)
		out     orders.Outcome
		entries map[string]string // transfer key -> entries
		post    string            // a payout's hold post: "full" or the amount
		finding string            // type/severity/suspense
		reason  string
	}
	cases := []tc{
		{name: "agrees: posted as stated to the customer", out: orders.Applied,
			entries: map[string]string{"settle": "C assets:provider:cxpay-main:BRL 1.5; C liabilities:customer:c1:BRL 150; D assets:provider:cxpay-main:BRL 150; D expenses:fees:cxpay-main:BRL 1.5"}},
		{name: "paid less, hold_in_suspense: suspense", edit: func(ev *providers.Event) { ev.Paid = nd("140.00") }, out: orders.Applied,
			entries: map[string]string{"settle": "C assets:provider:cxpay-main:BRL 1.5; C liabilities:suspense:BRL 140; D assets:provider:cxpay-main:BRL 140; D expenses:fees:cxpay-main:BRL 1.5"},
			finding: "amount_mismatch/medium/140", reason: "amount differs from order"},
		{name: "paid less within the tolerance: as stated", tol: "10", edit: func(ev *providers.Event) { ev.Paid = nd("140.00") }, out: orders.Applied,
			entries: map[string]string{"settle": "C assets:provider:cxpay-main:BRL 1.5; C liabilities:customer:c1:BRL 140; D assets:provider:cxpay-main:BRL 140; D expenses:fees:cxpay-main:BRL 1.5"}},
		{name: "paid more, credit_received: the customer", policy: merchants.CreditReceived, edit: func(ev *providers.Event) { ev.Paid = nd("160.00") }, out: orders.Applied,
			entries: map[string]string{"settle": "C assets:provider:cxpay-main:BRL 1.5; C liabilities:customer:c1:BRL 160; D assets:provider:cxpay-main:BRL 160; D expenses:fees:cxpay-main:BRL 1.5"},
			finding: "amount_mismatch/low/0", reason: "amount differs from order"},
		{name: "another currency: suspense in it", edit: func(ev *providers.Event) { ev.Currency = "USD" }, out: orders.Applied,
			entries: map[string]string{"settle": "C assets:provider:cxpay-main:USD 1.5; C liabilities:suspense:USD 150; D assets:provider:cxpay-main:USD 150; D expenses:fees:cxpay-main:USD 1.5"},
			finding: "amount_mismatch/high/150", reason: "currency differs from order"},
		{name: "fee above the gross: suspense", edit: func(ev *providers.Event) { ev.Fee = nd("151") }, out: orders.Applied,
			entries: map[string]string{"settle": "C assets:provider:cxpay-main:BRL 151; C liabilities:suspense:BRL 150; D assets:provider:cxpay-main:BRL 150; D expenses:fees:cxpay-main:BRL 151"},
			finding: "fee_mismatch/high/150"},
		{name: "a currency the ledger cannot book: held", edit: func(ev *providers.Event) { ev.Currency = "XXX" }, out: orders.Conflict, finding: "amount_mismatch/high/0"},
		{name: "finer than the scale: held", edit: func(ev *providers.Event) { ev.Paid = nd("150.001") }, out: orders.Conflict, finding: "amount_mismatch/high/0"},
		{name: "above the bound: held", edit: func(ev *providers.Event) { ev.Paid = nd("20000000000") }, out: orders.Conflict, finding: "amount_mismatch/high/0"},
		{name: "no amount: held", edit: func(ev *providers.Event) { ev.Paid = decimal.NullDecimal{} }, out: orders.Conflict, finding: "amount_mismatch/high/0"},
		{name: "an order tally did not know: suspense", origin: "provider", out: orders.Applied,
			entries: map[string]string{"settle": "C assets:provider:cxpay-main:BRL 1.5; C liabilities:suspense:BRL 150; D assets:provider:cxpay-main:BRL 150; D expenses:fees:cxpay-main:BRL 1.5"},
			finding: "unknown_order/medium/150"},
		{name: "payout as stated: the hold posted in full, the fee", kind: providers.KindPayout, out: orders.Applied, post: "full",
			entries: map[string]string{"fee": "C assets:provider:cxpay-main:BRL 1.5; D expenses:fees:cxpay-main:BRL 1.5"}},
		{name: "payout paid less within the tolerance: posted in part", kind: providers.KindPayout, tol: "1", edit: func(ev *providers.Event) { ev.Paid = nd("149.50") },
			out: orders.Applied, post: "149.5", entries: map[string]string{"fee": "C assets:provider:cxpay-main:BRL 1.5; D expenses:fees:cxpay-main:BRL 1.5"}},
		{name: "payout paid less beyond it: posted in part, flagged", kind: providers.KindPayout, edit: func(ev *providers.Event) { ev.Paid = nd("100.00") },
			out: orders.Applied, post: "100", entries: map[string]string{"fee": "C assets:provider:cxpay-main:BRL 1.5; D expenses:fees:cxpay-main:BRL 1.5"},
			finding: "amount_mismatch/low/0"},
		{name: "payout paid more: the rest owed by the customer", kind: providers.KindPayout, edit: func(ev *providers.Event) { ev.Paid = nd("170.00") },
			out: orders.Applied, post: "full", entries: map[string]string{
				"excess": "C assets:provider:cxpay-main:BRL 20; D assets:receivable:c1:BRL 20",
				"fee":    "C assets:provider:cxpay-main:BRL 1.5; D expenses:fees:cxpay-main:BRL 1.5"},
			finding: "amount_mismatch/high/20"},
		{name: "payout in another currency: held", kind: providers.KindPayout, edit: func(ev *providers.Event) { ev.Currency = "USD" }, out: orders.Conflict, finding: "amount_mismatch/high/0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind := c.kind
			if kind == "" {
				kind = providers.KindDeposit
			}
			o, _ := cx.state(t, kind, pending)
			if c.origin != "" {
				o.Origin = c.origin
			}
			ev := cx.successEvent(t, o)
			if c.edit != nil {
				c.edit(&ev)
			}
			f := cx.facts(o, ev)
			if c.policy != "" {
				f.Account.AmountPolicy = c.policy
			}
			if c.tol != "" {
				f.Account.AmountTolerance = dec(c.tol)
			}
			d, err := orders.Decide(f)
			if err != nil {
				t.Fatal(err)
			}
			checkDecision(t, f, d)
			if d.Outcome != c.out {
				t.Fatalf("outcome %s, want %s: %+v", d.Outcome, c.out, summary(d))
			}
			if c.out == orders.Conflict {
				// Held: nothing posted, the order keeps its status, the timeline says so.
				if len(d.Postings) > 0 || d.Save || d.Order.Status != pending || len(d.Events) != 1 || d.Events[0].Detail["held"] == nil {
					t.Errorf("held money moved: %+v", summary(d))
				}
			} else if d.Order.Status != succeeded {
				t.Errorf("status %s", d.Order.Status)
			}
			for key, want := range c.entries {
				if got := entries(transfer(t, d, key).Entries); got != want {
					t.Errorf("%s:\n got %s\nwant %s", key, got, want)
				}
			}
			if c.post != "" {
				p := d.Postings[0]
				if p.Post == nil || p.Post.HoldKey != "order:42:hold" || p.Fallback != orders.FallbackHoldGone {
					t.Fatalf("first posting %+v is not the hold's post", p)
				}
				if got := p.Post.Amount.String(); (c.post == "full" && !p.Post.Amount.IsZero()) || (c.post != "full" && got != c.post) {
					t.Errorf("hold posted for %s, want %s", got, c.post)
				}
			}
			var fs []string
			for _, fd := range d.Findings {
				sev := fd.Severity
				if sev == "" {
					sev = discrepancies.DefaultSeverity(fd.Type)
				}
				fs = append(fs, fmt.Sprintf("%s/%s/%s", fd.Type, sev, fd.Suspense))
				if fd.Detail["stated"] == nil {
					t.Errorf("%s carries no evidence: %v", fd.Type, fd.Detail)
				}
			}
			if got := strings.Join(fs, " "); got != c.finding {
				t.Errorf("findings %q, want %q", got, c.finding)
			}
			if c.reason != "" && d.Order.StatusReason != c.reason {
				t.Errorf("reason %q, want %q", d.Order.StatusReason, c.reason)
			}
		})
	}
}

// TestMachineCrossCurrency: a VPay deposit quoted in CNY and paid in USDT is
// booked through the FX accounts at the provider's quote, the fee in USDT.
func TestMachineCrossCurrency(t *testing.T) {
	vp := provider(t, "vpay")
	o, _ := vp.state(t, providers.KindDeposit, pending)
	d, err := orders.Decide(vp.facts(o, vp.successEvent(t, o)))
	if err != nil {
		t.Fatal(err)
	}
	tr := transfer(t, d, "settle")
	want := "C assets:provider:vpay-main:USDT 0.38; C equity:fx:USDT 13.88; C liabilities:customer:c1:CNY 100; D assets:provider:vpay-main:USDT 13.88; D equity:fx:CNY 100; D expenses:fees:vpay-main:USDT 0.38"
	if got := entries(tr.Entries); got != want {
		t.Errorf("entries:\n got %s\nwant %s", got, want)
	}
	if tr.Metadata["fx_pair"] != "CNY/USDT" || tr.Metadata["fx_rate"] == "" {
		t.Errorf("metadata %v", tr.Metadata)
	}
	got := d.Order
	if got.SettledCurrency != "USDT" || !got.PaidAmount.Decimal.Equal(dec("13.88")) || !got.Fee.Decimal.Equal(dec("0.38")) ||
		!got.CreditedAmount.Decimal.Equal(dec("13.5")) || !got.FXRate.Valid || got.CreditedTo != "liabilities:customer:c1:CNY" {
		t.Errorf("order %+v", got)
	}
	if len(d.Findings) != 0 || !d.Deferrable() {
		t.Errorf("an agreeing cross-currency deposit: %+v", summary(d))
	}
}

// TestMachineReversal: a reversal posts the exact inverse of the settlement;
// the machine asks for a settlement it did not decide itself; money parked in
// suspense leaves it; a customer short owes the rest.
func TestMachineReversal(t *testing.T) {
	cx := provider(t, "cxpay")
	reverse := docValue{value: cxpay.StatusPaid, reverse: true, status: providers.StatusReversed}

	t.Run("the settlement asked for, then inverted", func(t *testing.T) {
		o, settlement := cx.state(t, providers.KindDeposit, succeeded)
		f := cx.facts(o, cx.event(providers.KindDeposit, reverse, o))
		d, err := orders.Decide(f)
		if err != nil {
			t.Fatal(err)
		}
		if !d.NeedsSettlement || d.Deferrable() || len(d.Postings)+len(d.Events)+len(d.Findings) > 0 {
			t.Fatalf("without the settlement: %+v", d)
		}
		f.Settlement = settlement
		if d, err = orders.Decide(f); err != nil {
			t.Fatal(err)
		}
		tr := transfer(t, d, "reverse")
		if got, want := entries(tr.Entries), "C assets:provider:cxpay-main:BRL 150; C expenses:fees:cxpay-main:BRL 1.5; D assets:provider:cxpay-main:BRL 1.5; D liabilities:customer:c1:BRL 150"; got != want {
			t.Errorf("inverse:\n got %s\nwant %s", got, want)
		}
		if tr.Metadata["reverses"] != "order:42:settle" || d.Postings[0].Fallback != orders.FallbackShortfall || d.Postings[0].Short != "liabilities:customer:c1:BRL" {
			t.Errorf("posting %+v", d.Postings[0])
		}
		r := d.Findings[0]
		if r.Type != discrepancies.Reversal || !r.Delta.Equal(dec("-150")) || !r.Suspense.IsZero() || d.ClearSuspense {
			t.Errorf("finding %+v, clear %v", r, d.ClearSuspense)
		}
	})

	t.Run("a customer short owes the rest", func(t *testing.T) {
		o, settlement := cx.state(t, providers.KindDeposit, succeeded)
		f := cx.facts(o, cx.event(providers.KindDeposit, reverse, o))
		f.Settlement = settlement
		for avail, want := range map[string]string{
			"40":  "C assets:provider:cxpay-main:BRL 150; C expenses:fees:cxpay-main:BRL 1.5; D assets:provider:cxpay-main:BRL 1.5; D assets:receivable:c1:BRL 110; D liabilities:customer:c1:BRL 40",
			"0":   "C assets:provider:cxpay-main:BRL 150; C expenses:fees:cxpay-main:BRL 1.5; D assets:provider:cxpay-main:BRL 1.5; D assets:receivable:c1:BRL 150",
			"-10": "C assets:provider:cxpay-main:BRL 150; C expenses:fees:cxpay-main:BRL 1.5; D assets:provider:cxpay-main:BRL 1.5; D assets:receivable:c1:BRL 150",
		} {
			f.Available = nd(avail)
			d, err := orders.Decide(f)
			if err != nil {
				t.Fatal(err)
			}
			tr := transfer(t, d, "reverse")
			if got := entries(tr.Entries); got != want {
				t.Errorf("available %s:\n got %s\nwant %s", avail, got, want)
			}
			short := dec("150").Sub(decimal.Max(decimal.Zero, dec(avail)))
			r := d.Findings[0]
			if d.Postings[0].Fallback != orders.NoFallback || tr.Metadata["shortfall"] != short.String() ||
				!r.Suspense.Equal(short) || !strings.Contains(r.Summary, "the customer owes "+short.String()) || r.Currency != "BRL" {
				t.Errorf("available %s: posting %+v, finding %+v", avail, d.Postings[0], r)
			}
			checkDecision(t, f, d)
		}
	})

	t.Run("the money parked in suspense leaves it", func(t *testing.T) {
		o, _ := cx.state(t, providers.KindDeposit, pending)
		ev := cx.successEvent(t, o)
		ev.Paid = nd("140.00")
		d, err := orders.Decide(cx.facts(o, ev))
		if err != nil || d.Order.CreditedTo != "liabilities:suspense:BRL" {
			t.Fatalf("%+v %v", summary(d), err)
		}
		f := cx.facts(d.Order, cx.event(providers.KindDeposit, reverse, d.Order))
		f.Settlement = settlementOf(d, o, cx.account().Name)
		if d, err = orders.Decide(f); err != nil {
			t.Fatal(err)
		}
		if !d.ClearSuspense || d.Findings[len(d.Findings)-1].Type != discrepancies.Reversal {
			t.Errorf("clear %v, findings %+v", d.ClearSuspense, summary(d))
		}
		if got := entries(transfer(t, d, "reverse").Entries); !strings.Contains(got, "D liabilities:suspense:BRL 140") {
			t.Errorf("inverse %s", got)
		}
	})

	t.Run("overtaking its success: settled, flagged, then inverted, the answer changing only the reversal", func(t *testing.T) {
		o, _ := cx.state(t, providers.KindDeposit, pending)
		ev := cx.event(providers.KindDeposit, reverse, o)
		ev.Paid = nd("140.00") // to suspense, with an amount_mismatch before the reversal's finding
		f := cx.facts(o, ev)
		d, err := orders.Decide(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(d); got.postings != "settle reverse" || got.findings != "amount_mismatch reversal" || !d.ClearSuspense ||
			got.events != "!pending>succeeded !succeeded>reversed" {
			t.Fatalf("%+v clear %v", got, d.ClearSuspense)
		}
		if entries(d.Postings[1].Transfer.Entries) != entries(invert(d.Postings[0].Transfer.Entries)) {
			t.Errorf("inverse %s of %s", entries(d.Postings[1].Transfer.Entries), entries(d.Postings[0].Transfer.Entries))
		}
		f.Available = nd("0")
		d2, err := orders.Decide(f)
		if err != nil {
			t.Fatal(err)
		}
		if entries(d2.Postings[0].Transfer.Entries) != entries(d.Postings[0].Transfer.Entries) || d2.Postings[0].Key() != d.Postings[0].Key() {
			t.Errorf("the answer changed what came before the reversal")
		}
		if len(d2.Postings) != 2 || d2.Postings[1].Fallback != orders.NoFallback {
			t.Errorf("after the answer: %+v", d2.Postings)
		}
	})

	t.Run("a payout gives back principal, excess and fee", func(t *testing.T) {
		o, _ := cx.state(t, providers.KindPayout, pending)
		ev := cx.successEvent(t, o)
		ev.Paid = nd("170.00")
		d, err := orders.Decide(cx.facts(o, ev))
		if err != nil {
			t.Fatal(err)
		}
		f := cx.facts(d.Order, cx.event(providers.KindPayout, reverse, d.Order))
		f.Settlement = settlementOf(d, o, cx.account().Name)
		if d, err = orders.Decide(f); err != nil {
			t.Fatal(err)
		}
		want := "C assets:receivable:c1:BRL 20; C expenses:fees:cxpay-main:BRL 1.5; C liabilities:customer:c1:BRL 150; D assets:provider:cxpay-main:BRL 1.5; D assets:provider:cxpay-main:BRL 150; D assets:provider:cxpay-main:BRL 20"
		if got := entries(transfer(t, d, "reverse").Entries); got != want {
			t.Errorf("inverse:\n got %s\nwant %s", got, want)
		}
		if r := d.Findings[0]; !r.Delta.Equal(dec("-170")) || r.Currency != "BRL" {
			t.Errorf("finding %+v", r)
		}
	})
}

// TestMachineHoldRefused: a payout whose hold the ledger refuses to post (it
// expired) is posted directly from the customer's balance; one that balance
// no longer covers posts nothing and opens a status_mismatch. A void of a
// hold already gone is fine.
func TestMachineHoldRefused(t *testing.T) {
	cx := provider(t, "cxpay")
	o, _ := cx.state(t, providers.KindPayout, processing)
	f := cx.facts(o, cx.successEvent(t, o))
	d, err := orders.Decide(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(d).postings; got != "post fee" || d.Postings[0].Fallback != orders.FallbackHoldGone {
		t.Fatalf("postings %q, %+v", got, d.Postings[0])
	}

	f.HoldGone = true
	direct, err := orders.Decide(f)
	if err != nil {
		t.Fatal(err)
	}
	p := direct.Postings[0]
	if p.Transfer == nil || p.Key() != "order:42:settle" || p.Fallback != orders.FallbackUncovered ||
		entries(p.Transfer.Entries) != "C assets:provider:cxpay-main:BRL 150; D liabilities:customer:c1:BRL 150" {
		t.Errorf("direct post %+v", p)
	}
	if summary(direct).postings != "settle fee" || entries(direct.Postings[1].Transfer.Entries) != entries(d.Postings[1].Transfer.Entries) ||
		direct.Outcome != orders.Applied || direct.Order.Status != succeeded {
		t.Errorf("after the hold is gone: %+v", summary(direct))
	}

	f.Uncovered = true
	short, err := orders.Decide(f)
	if err != nil {
		t.Fatal(err)
	}
	if got, w := summary(short), (want{orders.Conflict, processing, "", "status_mismatch", "processing>processing", false}); got != w {
		t.Errorf("uncovered:\n got %+v\nwant %+v", got, w)
	}
	if s := short.Findings[0].Summary; !strings.Contains(s, "no longer covers 150 BRL") {
		t.Errorf("summary %q", s)
	}

	failedEv := cx.event(providers.KindPayout, docValue{value: cxpay.StatusFailed, status: providers.StatusFailed}, o)
	fd, err := orders.Decide(cx.facts(o, failedEv))
	if err != nil {
		t.Fatal(err)
	}
	if v := fd.Postings[0]; v.Void == nil || v.Void.HoldKey != "order:42:hold" || v.Fallback != orders.FallbackGoneHold {
		t.Errorf("void %+v", v)
	}
}

// TestMachineContradictions: finals the provider contradicts.
func TestMachineContradictions(t *testing.T) {
	cx := provider(t, "cxpay")
	o, _ := cx.state(t, providers.KindDeposit, expired)
	d, err := orders.Decide(cx.facts(o, cx.successEvent(t, o)))
	if err != nil {
		t.Fatal(err)
	}
	if d.Order.StatusReason != "late payment after expired" || d.Findings[0].Severity != discrepancies.Medium ||
		!d.Findings[0].Actual.Decimal.Equal(dec("150")) || d.Findings[0].Currency != "BRL" {
		t.Errorf("late payment: %+v", d.Findings[0])
	}

	o, _ = cx.state(t, providers.KindDeposit, succeeded)
	d, err = orders.Decide(cx.facts(o, cx.event(providers.KindDeposit, docValue{value: cxpay.StatusFailed, status: providers.StatusFailed}, o)))
	if err != nil {
		t.Fatal(err)
	}
	ev := d.Events[1]
	if !ev.Notify || ev.Detail["disputed"] != "failed" || ev.From != succeeded || ev.To != succeeded {
		t.Errorf("dispute event %+v", ev)
	}

	second := cx.successEvent(t, o)
	second.Paid = nd("151.00")
	d, err = orders.Decide(cx.facts(o, second))
	if err != nil {
		t.Fatal(err)
	}
	if got, w := summary(d), (want{orders.Conflict, succeeded, "", "duplicate_conflict", "succeeded>succeeded", false}); got != w {
		t.Errorf("a second success for another amount:\n got %+v\nwant %+v", got, w)
	}
	if f := d.Findings[0]; !f.Delta.Equal(dec("1")) || !f.Expected.Decimal.Equal(dec("150")) {
		t.Errorf("duplicate_conflict %+v", f)
	}
}

// TestMachineReferenceConflicts: an event whose references name another
// order moves nothing on either.
func TestMachineReferenceConflicts(t *testing.T) {
	cx := provider(t, "cxpay")
	check := func(t *testing.T, d orders.Decision, err error, summaryPart, orderNo string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if got, w := summary(d), (want{orders.Conflict, d.Order.Status, "", "reference_conflict", fmt.Sprintf("%s>%s", d.Order.Status, d.Order.Status), false}); got != w {
			t.Errorf("\n got %+v\nwant %+v", got, w)
		}
		if f := d.Findings[0]; !strings.Contains(f.Summary, summaryPart) || f.Fingerprint != "reference_conflict:cxpay-main:"+orderNo+":CX-OTHER" ||
			f.Detail["callback_id"] != int64(9) || f.OrderID != 42 {
			t.Errorf("finding %+v", f)
		}
	}
	o, _ := cx.state(t, providers.KindDeposit, pending) // its provider id is CX-T42
	ev := cx.successEvent(t, o)
	ev.ProviderOrderID = "CX-OTHER"
	for _, src := range []string{"callback", "query", "statement"} {
		f := cx.facts(o, ev)
		f.Source = src
		d, err := orders.Decide(f)
		check(t, d, err, "which is not this order's (CX-T42)", "T42")
	}

	// The order does not have a provider id yet: a callback's is looked up.
	o.ProviderOrderID = ""
	f := cx.facts(o, ev)
	f.IDOwner = "T7"
	d, err := orders.Decide(f)
	check(t, d, err, "belongs to order T7", "T42")
	if d.Submitted {
		t.Errorf("a refused callback recorded the submission")
	}

	// Found by its provider id, a callback naming another order number.
	ev = cx.successEvent(t, o)
	ev.OrderNo, ev.ProviderOrderID = "T9", "CX-OTHER"
	d, err = orders.Decide(cx.facts(o, ev))
	check(t, d, err, "names order T42", "T9")
	// A query is asked about this order: its number is not compared.
	f = cx.facts(o, ev)
	f.Source = "query"
	if d, err = orders.Decide(f); err != nil || d.Outcome != orders.Applied {
		t.Errorf("query: %+v %v", summary(d), err)
	}
}

// TestMachineParts: a withdrawal settled in parts records each new part.
func TestMachineParts(t *testing.T) {
	uc := provider(t, "usdtcnpay")
	o, _ := uc.state(t, providers.KindPayout, processing)
	o.Parts = o.Parts[:1]
	inProgress := docValue{value: usdtcnpay.WithdrawInProgress, status: providers.StatusProcessing}
	d, err := orders.Decide(uc.facts(o, uc.event(providers.KindPayout, inProgress, o)))
	if err != nil {
		t.Fatal(err)
	}
	if got, w := summary(d), (want{orders.Applied, processing, "", "", "processing>processing", true}); got != w || len(d.Order.Parts) != 2 || d.Events[0].Detail["parts"] != 2 {
		t.Errorf("a new part:\n got %+v\nwant %+v (parts %d)", got, w, len(d.Order.Parts))
	}
	d, err = orders.Decide(uc.facts(d.Order, uc.event(providers.KindPayout, inProgress, d.Order)))
	if err != nil || d.Outcome != orders.Duplicate {
		t.Errorf("the same parts again: %+v %v", summary(d), err)
	}
	completed := docValue{value: usdtcnpay.WithdrawCompleted, status: providers.StatusSucceeded}
	d, err = orders.Decide(uc.facts(d.Order, uc.event(providers.KindPayout, completed, d.Order)))
	if err != nil || d.Outcome != orders.Applied || len(d.Order.Parts) != 2 || d.Order.Parts[1].Status != providers.StatusSucceeded {
		t.Errorf("completed: %+v %v", d.Order.Parts, err)
	}
}

// TestMachineSubmissionAndRemarks: the provider speaking of an order whose
// submission was in doubt records it submitted; a remark in an answer to
// tally's own query is for staff.
func TestMachineSubmissionAndRemarks(t *testing.T) {
	cp := provider(t, "cpay")
	o := cp.order(providers.KindDeposit)
	o.SubmitState = "ambiguous"
	ev := cp.event(providers.KindDeposit, docValue{value: cpay.StatusCodePending, status: providers.StatusPending}, o)
	for src, want := range map[string]bool{"callback": true, "query": true, "statement": true, "recon": true, "submit": false, "expiry": false} {
		f := cp.facts(o, ev)
		f.Source = src
		d, err := orders.Decide(f)
		if err != nil {
			t.Fatal(err)
		}
		if d.Submitted != want || (want && d.Order.SubmitState != "submitted") || (want && d.Deferrable()) {
			t.Errorf("%s: submitted %v (state %s), want %v", src, d.Submitted, d.Order.SubmitState, want)
		}
	}

	o, _ = cp.state(t, providers.KindDeposit, pending)
	ev = cp.event(providers.KindDeposit, docValue{value: cpay.StatusCodeClosed, status: providers.StatusFailed}, o)
	ev.Remark = "card declined by issuer 0x51"
	for src, staff := range map[string]bool{"query": true, "recon": true, "callback": false, "statement": false} {
		f := cp.facts(o, ev)
		f.Source = src
		d, err := orders.Decide(f)
		if err != nil {
			t.Fatal(err)
		}
		last := d.Events[len(d.Events)-1]
		if staff {
			if d.Order.StatusReason != "" || !last.Staff || last.Detail["provider_remark"] == nil || last.From != failed || last.Notify || d.Deferrable() {
				t.Errorf("%s: reason %q, last event %+v", src, d.Order.StatusReason, last)
			}
		} else if d.Order.StatusReason != ev.Remark || last.Staff {
			t.Errorf("%s: reason %q, last event %+v", src, d.Order.StatusReason, last)
		}
	}
}

// TestMachineUnknownStatus: an event no order can take is unapplicable.
func TestMachineUnknownStatus(t *testing.T) {
	cp := provider(t, "cpay")
	o, _ := cp.state(t, providers.KindDeposit, pending)
	_, err := orders.Decide(cp.facts(o, providers.Event{Status: "refunding", OrderNo: "T42", Verified: true}))
	if !errors.Is(err, orders.ErrUnapplicable) {
		t.Errorf("err %v", err)
	}
}

// TestMachineDeferrable: what a group may apply with its deferred writes.
func TestMachineDeferrable(t *testing.T) {
	cx := provider(t, "cxpay")
	val := func(s string, rev bool, kind providers.OrderKind) docValue {
		st, _ := cxpay.MapStatus(s, rev, kind)
		return docValue{value: s, reverse: rev, status: st}
	}
	cases := []struct {
		name  string
		kind  providers.OrderKind
		cur   orders.Status
		value docValue
		edit  func(*providers.Event)
		want  bool
	}{
		{"settled as stated", providers.KindDeposit, pending, val("1", false, "deposit"), nil, true},
		{"a discrepancy", providers.KindDeposit, pending, val("1", false, "deposit"), func(ev *providers.Event) { ev.Paid = nd("1.00") }, false},
		{"failed: no hold", providers.KindDeposit, pending, val("2", false, "deposit"), nil, true},
		{"a repeat", providers.KindDeposit, succeeded, val("1", false, "deposit"), nil, true},
		{"stale", providers.KindDeposit, succeeded, val("0", false, "deposit"), nil, true},
		{"a reversal", providers.KindDeposit, succeeded, val("1", true, "deposit"), nil, false},
		{"a late payment", providers.KindDeposit, failed, val("1", false, "deposit"), nil, false},
		{"processing", providers.KindPayout, pending, val("0", false, "payout"), nil, true},
		{"a hold posted", providers.KindPayout, pending, val("1", false, "payout"), nil, false},
		{"a hold voided", providers.KindPayout, pending, val("2", false, "payout"), nil, false},
		{"a reference conflict", providers.KindDeposit, pending, val("1", false, "deposit"), func(ev *providers.Event) { ev.ProviderOrderID = "CX-X" }, false},
	}
	for _, c := range cases {
		o, settlement := cx.state(t, c.kind, c.cur)
		ev := cx.event(c.kind, c.value, o)
		if c.edit != nil {
			c.edit(&ev)
		}
		f := cx.facts(o, ev)
		f.Settlement = settlement
		d, err := orders.Decide(f)
		if err != nil {
			t.Fatal(err)
		}
		if d.Deferrable() != c.want {
			t.Errorf("%s (%s %s %s): deferrable %v, want %v: %+v", c.name, c.kind, c.cur, c.value, d.Deferrable(), c.want, summary(d))
		}
	}
}

// TestMachineImportsNoDatabase: the machine's file reads no database.
func TestMachineImportsNoDatabase(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "machine.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if strings.Contains(path, "pgx") || strings.Contains(path, "database/sql") || strings.HasPrefix(path, "github.com/tallyhq/tally/db") {
			t.Errorf("machine.go imports %s", path)
		}
	}
}
