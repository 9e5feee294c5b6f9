package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"

	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/client"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/cxpay"
	"github.com/tallyhq/tally/providers/sim"
	"github.com/tallyhq/tally/sandbox"
)

// autopilot is what payers do and what goes wrong with callbacks for the
// orders that have no script of their own: the day's random trouble.
var autopilot = sim.Auto{Enabled: true, After: sim.Duration{Duration: 30 * time.Second},
	Succeed: 0.80, PayDifferent: 0.06, Fail: 0.07, Expire: 0.07, DifferentBy: decimal.RequireFromString("0.1"),
	Reverse: 0.04, Parts: 0.4, Drop: 0.06, Duplicate: 0.10, Reorder: 0.05, Delay: 0.05,
	DelayBy: sim.Duration{Duration: 3 * time.Minute}, BadSignature: 0.04}

// faults sets a few endpoint outages (5xx answers and timeouts on order
// creation, each for a fixed number of calls) and turns every simulator's
// autopilot off until the scripted orders are placed (scripted).
func (st *stack) faults(ctx context.Context) error {
	for _, p := range providersInOrder {
		if _, err := st.control(ctx, p, "PUT", "/auto", sim.Auto{}); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		provider string
		fault    sim.EndpointFault
	}{
		{"cxpay", sim.EndpointFault{Path: "/collect/create", Mode: sim.ModeError5xx, Count: 3}},
		{"cpay", sim.EndpointFault{Path: "/openapi/v1/createOrder", Mode: sim.ModeTimeout, Count: 2}},
		{"usdtcnpay", sim.EndpointFault{Path: "/api/invokecharge", Mode: sim.ModeError5xx, Count: 2}},
		{"vpay", sim.EndpointFault{Path: "/wallet-trade-merchant/v1/receive/blockchain/fixed/custom/rate/create", Mode: sim.ModeError5xx, Count: 2}},
	} {
		if _, err := st.control(ctx, f.provider, "POST", "/faults", f.fault); err != nil {
			return err
		}
	}
	return nil
}

// scriptedFault is an order the demo places with a script of its own, so that
// every kind of fault the issue lists is injected in every run, whatever the
// autopilot draws.
type scriptedFault struct {
	provider, amount string
	script           sim.Script
}

// scriptedFaults are the day's deterministic faults: at least one order per
// kind (payer-modified amount, dropped, duplicated, reordered and delayed
// callbacks, a reversal, a bad signature), on providers with and without an
// order query.
func scriptedFaults() []scriptedFault {
	paid := func(s string) *decimal.Decimal { d := decimal.RequireFromString(s); return &d }
	after := sim.Duration{Duration: 30 * time.Second}
	return []scriptedFault{
		{"cxpay", "100.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, Amount: paid("90.00")}},
		{"cxpay", "110.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, Callbacks: sim.CallbackFaults{Drop: true}}},
		{"usdtpay", "120.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, Callbacks: sim.CallbackFaults{Drop: true}}},
		{"cxpay", "130.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, Callbacks: sim.CallbackFaults{Duplicate: 3}}},
		{"cpay", "14.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, Callbacks: sim.CallbackFaults{Duplicate: 2}}},
		// The reversal's callback overtakes the success's (both injected).
		{"cxpay", "150.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, ReverseAfter: after, Callbacks: sim.CallbackFaults{Reorder: true}}},
		{"cxpay", "160.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, ReverseAfter: sim.Duration{Duration: time.Minute}}},
		{"cxpay", "170.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, Callbacks: sim.CallbackFaults{BadSignature: true}}},
		{"vpay", "180.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, Callbacks: sim.CallbackFaults{BadSignature: true}}},
		{"cxpay", "190.00", sim.Script{Outcome: sim.OutcomeSucceed, After: after, Callbacks: sim.CallbackFaults{Delay: sim.Duration{Duration: 3 * time.Minute}}}},
	}
}

// scripted places the scripted orders through the merchant API and sets each
// one's script through the sandbox control API (the autopilot is off, so no
// drawn script competes), then turns the autopilot on for the rest of the day.
func (st *stack) scripted(ctx context.Context) ([]order, error) {
	var out []order
	for i, f := range scriptedFaults() {
		o, err := st.createOne(ctx, "deposit", request{provider: f.provider, customer: fmt.Sprintf("c-%s-%d", f.provider, i%6),
			amount: decimal.RequireFromString(f.amount)})
		if err != nil {
			return out, fmt.Errorf("scripted %s deposit: %w", f.provider, err)
		}
		if _, err := st.control(ctx, f.provider, "PUT", "/scripts/"+url.PathEscape(o.ProviderOrderNo), f.script); err != nil {
			return out, fmt.Errorf("script %s order %s: %w", f.provider, o.ProviderOrderNo, err)
		}
		out = append(out, order{provider: f.provider, order: o})
	}
	for _, p := range providersInOrder {
		if _, err := st.control(ctx, p, "PUT", "/auto", autopilot); err != nil {
			return out, err
		}
	}
	return out, nil
}

// order is one order the demo created, as tally's API answered it, and the
// provider it went to.
type order struct {
	provider string
	order    client.Order
}

// request is one order the demo asks tally for.
type request struct {
	provider, customer string
	amount             decimal.Decimal
}

// deposits creates the day's deposits through the merchant API, a few at a time,
// and for UsdtPay posts the pay form as the payer's browser does.
func (st *stack) deposits(ctx context.Context, rng *rand.Rand) ([]order, error) {
	var reqs []request
	for _, p := range providersInOrder {
		for i := 0; i < st.opts.Deposits; i++ {
			reqs = append(reqs, request{provider: p, customer: fmt.Sprintf("c-%s-%d", p, i%6), amount: depositAmount(p, rng)})
		}
	}
	rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	return st.create(ctx, "deposit", reqs)
}

// payouts pays out about half of what each customer of the payout providers holds.
func (st *stack) payouts(ctx context.Context, rng *rand.Rand) ([]order, error) {
	var reqs []request
	for _, p := range []string{"cpay", "cxpay", "usdtcnpay"} {
		cur := map[string]string{"cpay": "USDT", "cxpay": "BRL", "usdtcnpay": "CNY"}[p]
		for i := 0; i < 6 && len(reqs) < st.opts.Payouts*3; i++ {
			cust := fmt.Sprintf("c-%s-%d", p, i)
			b, err := st.tally.Ledger.Balance(ctx, st.merchant.ID, "liabilities:customer:"+cust+":"+cur)
			if err != nil || !b.Available.IsPositive() {
				continue
			}
			for k := 0; k < st.opts.Payouts/6+1; k++ {
				amt := payoutAmount(p, b.Available.Div(decimal.NewFromInt(int64(st.opts.Payouts/6+2))))
				if amt.IsPositive() {
					reqs = append(reqs, request{provider: p, customer: cust, amount: amt})
				}
			}
		}
	}
	rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	return st.create(ctx, "payout", reqs)
}

// create posts orders through the API with 6 concurrent clients.
func (st *stack) create(ctx context.Context, kind string, reqs []request) ([]order, error) {
	var mu sync.Mutex
	var out []order
	var firstErr error
	work := make(chan request)
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				o, err := st.createOne(ctx, kind, r)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					out = append(out, order{provider: r.provider, order: o})
				}
				mu.Unlock()
			}
		}()
	}
	for i, r := range reqs {
		select {
		case work <- r:
		case <-ctx.Done():
			close(work)
			wg.Wait()
			return out, ctx.Err()
		}
		if i%25 == 24 {
			st.progress(fmt.Sprintf("%ss created: %d/%d", kind, i+1, len(reqs)))
		}
	}
	close(work)
	wg.Wait()
	return out, firstErr
}

// createOne places one deposit or payout through tally's merchant API (the
// generated client) and waits up to 5s for the provider's answer; for UsdtPay
// it posts the pay form as the payer's browser does.
func (st *stack) createOne(ctx context.Context, kind string, r request) (client.Order, error) {
	cur := map[string]string{"cpay": "USDT", "cxpay": "BRL", "usdtcnpay": "CNY", "usdtpay": "CNY", "vpay": "CNY"}[r.provider]
	party := client.Party{Name: new("Ana Souza"), TaxID: new("12345678901"), Email: new("ana@example.com"), Phone: new("+5511999990000")}
	key := fmt.Sprintf("demo-%s-%s-%d", kind, r.provider, rand.Int64())
	account, amount, wait := r.provider+"-main", r.amount.String(), new("5s")
	// The created order (201), else the answer for the error.
	var (
		o      *client.Order
		status int
		answer []byte
		err    error
	)
	if kind == "payout" {
		switch r.provider {
		case "cpay":
			party = client.Party{Account: new("TRMYtLHzmTeMm1FW86LZh2LGnE2D7kJnnw"), Network: new("TRON(TRC-20)")}
		case "cxpay":
			party.Account, party.AccountType = new("12345-6"), new("CPF")
		case "usdtcnpay":
			party = client.Party{Name: new("张三"), Account: new("6222020202020202"), Category: new("0"), BankCode: new("1")}
		}
		var resp *client.CreatePayoutResponse
		resp, err = st.api.CreatePayoutWithResponse(ctx, &client.CreatePayoutParams{IdempotencyKey: key, Wait: wait},
			client.PayoutRequest{ProviderAccount: account, CustomerID: r.customer, Amount: amount, Currency: cur, Beneficiary: &party})
		if err == nil {
			o, status, answer = resp.JSON201, resp.StatusCode(), resp.Body
		}
	} else {
		req := client.DepositRequest{ProviderAccount: account, CustomerID: r.customer, Amount: amount, Currency: cur,
			ReturnURL: new("https://demo-broker.example/deposit/done")}
		if r.provider == "cxpay" {
			req.Payer = &party
		}
		if r.provider == "vpay" {
			req.PayCurrency = new("USDT")
		}
		var resp *client.CreateDepositResponse
		resp, err = st.api.CreateDepositWithResponse(ctx, &client.CreateDepositParams{IdempotencyKey: key, Wait: wait}, req)
		if err == nil {
			o, status, answer = resp.JSON201, resp.StatusCode(), resp.Body
		}
	}
	if err != nil {
		return client.Order{}, fmt.Errorf("create %s at %s: %w", kind, r.provider, err)
	}
	if o == nil {
		return client.Order{}, fmt.Errorf("create %s at %s: HTTP %d %s", kind, r.provider, status, answer)
	}
	if f := o.PayForm; f != nil {
		form := url.Values{}
		for _, fl := range f.Fields {
			form.Set(fl.Name, fl.Value)
		}
		resp, err := st.client.PostForm(f.Action, form)
		if err != nil {
			return *o, fmt.Errorf("post the UsdtPay form: %w", err)
		}
		resp.Body.Close()
	}
	return *o, nil
}

// extras are the day's faults that are not about one scripted order: deposits to
// users' wallet addresses with no order, a payment tally never asked for, and
// provider balances that change without an order.
func (st *stack) extras(ctx context.Context) ([]sim.Injection, error) {
	for i := 0; i < 3; i++ {
		if _, err := st.control(ctx, "cpay", "POST", "/deposits", map[string]string{"merchant_id": sandbox.DefaultCredentials["cpay"].ID,
			"user_id": fmt.Sprintf("wallet-user-%d", i), "currency": "USDT", "network": "TRON(TRC-20)", "amount": fmt.Sprintf("%d.5", 10+i)}); err != nil {
			return nil, err
		}
	}
	// Another system shares the CXPay credentials and tally's notify URL: its
	// paid order is unknown to tally.
	c := sandbox.DefaultCredentials["cxpay"]
	ad, err := cxpay.New(providers.Config{Account: "cxpay-main", BaseURL: st.sandboxURL + "/cxpay", MerchantID: c.ID, Secret: providers.Secret(c.Secret),
		Options: map[string]string{"pay_code": "PIX", "currency": "BRL"}, NotifyURL: st.tally.Merchants.NotifyURL(st.accounts["cxpay"]), HTTPClient: st.client})
	if err != nil {
		return nil, err
	}
	if _, err := ad.CreateDeposit(ctx, providers.DepositRequest{OrderNo: "OTHER-SYSTEM-1", Amount: decimal.RequireFromString("77.00"), Currency: "BRL",
		Payer: providers.Party{Name: "X", TaxID: "1", Email: "x@example.com", Phone: "1"}}); err != nil {
		return nil, err
	}
	if _, err := st.control(ctx, "cxpay", "PUT", "/scripts/OTHER-SYSTEM-1", sim.Script{Outcome: sim.OutcomeSucceed}); err != nil {
		return nil, err
	}
	return []sim.Injection{{Kind: "unknown_order", Provider: "cxpay", OrderNo: "OTHER-SYSTEM-1", Detail: "77.00 BRL paid to an order tally never created"}}, nil
}

// drift changes provider balances behind tally's back, after the day's traffic.
func (st *stack) drift(ctx context.Context) error {
	for _, d := range []struct{ provider, id, cur, amount string }{
		{"cpay", sandbox.DefaultCredentials["cpay"].ID, "USDT", "-1.5"},
		{"cxpay", sandbox.DefaultCredentials["cxpay"].ID, "BRL", "2.00"},
	} {
		if _, err := st.control(ctx, d.provider, "POST", "/merchants/"+d.id+"/adjust", map[string]string{"currency": d.cur, "amount": d.amount}); err != nil {
			return err
		}
	}
	return nil
}

// settle waits until every simulator order has a final status and tally has
// nothing left to do (or the deadline passes).
func (st *stack) settle(ctx context.Context, what string, max time.Duration) error {
	deadline := time.Now().Add(max)
	stableSince := time.Time{}
	var last string
	for time.Now().Before(deadline) {
		open := 0
		for _, p := range providersInOrder {
			for _, o := range st.sandbox.Simulator(p).Engine().Orders() {
				if !o.Status.Final() && !(o.Status == providers.StatusProcessing && len(o.Parts) > 0) {
					open++
				}
			}
		}
		var jobs int
		_ = st.tally.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state IN ('available','running','retryable')
			AND kind IN ('submit_order','process_callback','notify_merchant')`).Scan(&jobs)
		state := fmt.Sprintf("%d provider orders open, %d jobs", open, jobs)
		if state != last {
			stableSince, last = time.Now(), state
			st.progress(what + ": " + state)
		}
		if open == 0 && jobs == 0 && time.Since(stableSince) > 2*time.Second {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s: %w (%s)", what, errTimeout, last)
}

func (st *stack) progress(msg string) {
	if st.opts.Progress != nil {
		st.opts.Progress(msg)
	}
}

func depositAmount(p string, rng *rand.Rand) decimal.Decimal {
	switch p {
	case "usdtcnpay":
		return decimal.NewFromInt(int64(1+rng.IntN(30)) * 100)
	case "cpay":
		return decimal.New(int64(500+rng.IntN(30000)), -2)
	default:
		return decimal.New(int64(1000+rng.IntN(200000)), -2)
	}
}

func payoutAmount(p string, max decimal.Decimal) decimal.Decimal {
	if p == "usdtcnpay" {
		return max.Div(decimal.NewFromInt(100)).Floor().Mul(decimal.NewFromInt(100))
	}
	return max.Truncate(2)
}
