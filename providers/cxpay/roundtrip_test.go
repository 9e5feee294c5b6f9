package cxpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

func TestDepositRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.ad.CreateDeposit(ctx, e.deposit("D100", "100"))
	if err != nil {
		t.Fatalf("CreateDeposit: %v", err)
	}
	o := e.order("D100")
	if res.CashierURL != e.srv.URL+"/cxpay/pay/"+o.ID || res.Status != providers.StatusPending || res.ProviderOrderID != "" || !strings.Contains(string(res.Raw), `"url"`) {
		t.Fatalf("CreateDeposit = %+v", res)
	}
	if o.Kind != providers.KindDeposit || !o.Amount.Equal(dec("100")) || o.Currency != "BRL" || o.MerchantID != testMerchant ||
		o.NotifyURL != e.ad.cfg.NotifyURL || o.ReturnURL != "https://shop.example/return" ||
		o.Fields["payCode"] != "PIX" || o.Fields["remark"] != "12345678909" || o.Fields["customName"] != "Joao Silva" ||
		o.Fields["number"] != "5511987654321" || o.Fields["email"] != "joao@example.com" {
		t.Fatalf("simulator order = %+v", o)
	}

	// The cashier page is real HTML under the simulator's base URL.
	resp, err := http.Get(res.CashierURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), "D100") || !strings.Contains(string(page), "100.00 BRL") || !strings.Contains(string(page), `action="`+o.ID+`/submit"`) {
		t.Fatalf("cashier page %d:\n%s", resp.StatusCode, page)
	}

	ev, err := e.ad.QueryOrder(ctx, providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D100"})
	if err != nil {
		t.Fatalf("QueryOrder: %v", err)
	}
	if ev.Status != providers.StatusPending || ev.ProviderStatus != "0" || ev.Kind != providers.KindDeposit || ev.ProviderOrderID != o.ID ||
		ev.OrderNo != "D100" || ev.TxHash != "" || !ev.Verified || ev.Currency != "BRL" {
		t.Fatalf("pending query = %+v", ev)
	}
	wantAmount(t, "Paid", ev.Paid, "")
	wantAmount(t, "Fee", ev.Fee, "0")

	// The payer pays exactly, through the control API.
	e.control(http.MethodPost, "/orders/D100/pay", "")
	cb := e.rcv.waitEvents(t, 1)[0]
	if cb.Status != providers.StatusSucceeded || cb.ProviderStatus != "1" || cb.OrderNo != "D100" || cb.ProviderOrderID != o.ID || cb.Reversed || cb.Kind != "" {
		t.Fatalf("callback = %+v", cb)
	}
	wantAmount(t, "callback Paid", cb.Paid, "100")
	wantAmount(t, "callback Fee", cb.Fee, "1")
	wantAmount(t, "callback Requested", cb.Requested, "")
	wantAmount(t, "callback Credited", cb.Credited, "")

	ev, err = e.ad.QueryOrder(ctx, providers.OrderQuery{Kind: providers.KindDeposit, OrderNo: "D100"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != providers.StatusSucceeded || ev.TxHash != utrFor(o.ID) || len(ev.TxHash) != 12 || ev.TxHash != o.ID[len(o.ID)-12:] {
		t.Fatalf("paid query = %+v", ev)
	}
	wantAmount(t, "Paid", ev.Paid, "100")
	wantAmount(t, "Fee", ev.Fee, "1")
	e.wantBalance("1099", "1099")

	// Exactly one delivery, acknowledged.
	ds := e.sim.Engine().Deliveries()
	if len(ds) != 1 || !ds[0].Acked || ds[0].Attempt != 1 || ds[0].Status != 200 {
		t.Fatalf("deliveries = %+v", ds)
	}
}

// The payer changes the amount on the cashier page: the callback and the query
// report what was paid; the fee is taken on it.
func TestDepositPaidDifferentAmountOnCashier(t *testing.T) {
	e := newEnv(t)
	res, err := e.ad.CreateDeposit(context.Background(), e.deposit("D200", "100.00"))
	if err != nil {
		t.Fatal(err)
	}
	// The browser posts the form to its relative action.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(res.CashierURL+"/submit", url.Values{"amount": {"90.50"}, "action": {"pay"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://shop.example/return" {
		t.Fatalf("cashier submit = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	cb := e.rcv.waitEvents(t, 1)[0]
	if cb.Status != providers.StatusSucceeded || !strings.Contains(string(cb.Raw), `"amount":90.5,`) {
		t.Fatalf("callback = %+v %s", cb, cb.Raw)
	}
	wantAmount(t, "Paid", cb.Paid, "90.50")
	wantAmount(t, "Fee", cb.Fee, "0.90")
	wantAmount(t, "Requested", cb.Requested, "")
	ev, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{OrderNo: "D200"})
	if err != nil {
		t.Fatal(err)
	}
	wantAmount(t, "query Paid", ev.Paid, "90.5")
	e.wantBalance("1089.6", "1089.6")
	in := e.sim.Engine().Injected()
	if len(in) != 1 || in[0].Kind != "amount_mismatch" || in[0].OrderNo != "D200" {
		t.Fatalf("injected = %+v", in)
	}
	// The order is final: the page no longer offers the form.
	resp, err = http.Get(res.CashierURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(page), "<form") || !strings.Contains(string(page), "succeeded") {
		t.Fatalf("final cashier page:\n%s", page)
	}
}

// The payer cancels on the cashier page: the order fails.
func TestDepositCancelledOnCashier(t *testing.T) {
	e := newEnv(t)
	req := e.deposit("D300", "10")
	req.ReturnURL = ""
	res, err := e.ad.CreateDeposit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(res.CashierURL+"/submit", url.Values{"action": {"cancel"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("cancel = %d", resp.StatusCode)
	}
	cb := e.rcv.waitEvents(t, 1)[0]
	if cb.Status != providers.StatusFailed || cb.Remark != "cancelled by payer" || cb.ProviderStatus != "2" {
		t.Fatalf("callback = %+v", cb)
	}
	wantAmount(t, "Paid", cb.Paid, "")
	wantAmount(t, "Fee", cb.Fee, "0")
	// Paying a failed order is refused.
	resp, err = http.PostForm(res.CashierURL+"/submit", url.Values{"action": {"pay"}, "amount": {"10"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("pay after cancel = %d", resp.StatusCode)
	}
	resp, _ = http.Get(e.srv.URL + "/cxpay/pay/123")
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown cashier = %d", resp.StatusCode)
	}
}

func TestPayoutRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.ad.CreatePayout(ctx, e.payout("P100", "100"))
	if err != nil {
		t.Fatalf("CreatePayout: %v", err)
	}
	o := e.order("P100")
	if res.ProviderOrderID != o.ID || res.Status != providers.StatusProcessing || o.Kind != providers.KindPayout ||
		o.Fields["bankAccount"] != "12345678909" || o.Fields["remark"] != "CPF" || o.Fields["customName"] != "Maria Souza" {
		t.Fatalf("CreatePayout = %+v, order %+v", res, o)
	}
	// 100 + 2% + 1 = 103 frozen.
	e.wantBalance("1000", "897")
	ev, err := e.ad.QueryOrder(ctx, providers.OrderQuery{Kind: providers.KindPayout, OrderNo: "P100"})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != providers.StatusProcessing || ev.ProviderStatus != "0" || ev.Kind != providers.KindPayout || ev.ProviderOrderID != o.ID {
		t.Fatalf("query = %+v", ev)
	}
	wantAmount(t, "Paid", ev.Paid, "")
	wantAmount(t, "Fee", ev.Fee, "3")

	e.control(http.MethodPost, "/orders/P100/settle", "")
	cb := e.rcv.waitEvents(t, 1)[0]
	if cb.Status != providers.StatusSucceeded || cb.ProviderOrderID != o.ID || cb.OrderNo != "P100" {
		t.Fatalf("callback = %+v", cb)
	}
	wantAmount(t, "Paid", cb.Paid, "100")
	wantAmount(t, "Fee", cb.Fee, "3")
	e.wantBalance("897", "897")
	ev, err = e.ad.QueryOrder(ctx, providers.OrderQuery{Kind: providers.KindPayout, OrderNo: "P100"})
	if err != nil || ev.Status != providers.StatusSucceeded || len(ev.TxHash) != 12 {
		t.Fatalf("settled query = %+v, %v", ev, err)
	}
	wantAmount(t, "Paid", ev.Paid, "100")
}

func TestPayoutFailureRefunds(t *testing.T) {
	e := newEnv(t)
	if _, err := e.ad.CreatePayout(context.Background(), e.payout("P200", "50")); err != nil {
		t.Fatal(err)
	}
	e.wantBalance("1000", "948") // 50 + 2% + 1 frozen
	e.control(http.MethodPost, "/orders/P200/fail", `{"reason":"invalid pix key"}`)
	cb := e.rcv.waitEvents(t, 1)[0]
	if cb.Status != providers.StatusFailed || cb.Remark != "invalid pix key" {
		t.Fatalf("callback = %+v", cb)
	}
	wantAmount(t, "Paid", cb.Paid, "")
	wantAmount(t, "Fee", cb.Fee, "0")
	e.wantBalance("1000", "1000")
	ev, err := e.ad.QueryOrder(context.Background(), providers.OrderQuery{Kind: providers.KindPayout, OrderNo: "P200"})
	if err != nil || ev.Status != providers.StatusFailed {
		t.Fatalf("query = %+v, %v", ev, err)
	}
	wantAmount(t, "Fee", ev.Fee, "0")
}

func TestRefusalsFromSimulator(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// Insufficient balance: 990 + 2% + 1 > 1000.
	_, err := e.ad.CreatePayout(ctx, e.payout("P1", "990"))
	pe := wantKind(t, err, providers.ErrRejected)
	if pe.Code != "400" || pe.Message != DescInsufficient {
		t.Fatalf("insufficient: %+v", pe)
	}
	if _, err := e.sim.Engine().FindOrder("", "P1"); err == nil {
		t.Fatal("a refused payout exists")
	}
	e.wantBalance("1000", "1000")

	// Duplicate order number.
	if _, err := e.ad.CreateDeposit(ctx, e.deposit("D1", "10")); err != nil {
		t.Fatal(err)
	}
	_, err = e.ad.CreateDeposit(ctx, e.deposit("D1", "10"))
	if pe := wantKind(t, err, providers.ErrRejected); pe.Message != DescOrderExists {
		t.Fatalf("duplicate: %+v", pe)
	}

	// A payCode the merchant does not have.
	req := e.deposit("D2", "10")
	req.Method = "BOLETO"
	_, err = e.ad.CreateDeposit(ctx, req)
	if pe := wantKind(t, err, providers.ErrRejected); pe.Message != DescPayCodeNotEnabled {
		t.Fatalf("payCode: %+v", pe)
	}

	// Unknown order on query -> ErrNotFound, not a rejection. CXPay queries by
	// merchant order number: the platform id is not found either.
	_, err = e.ad.QueryOrder(ctx, providers.OrderQuery{OrderNo: "NOPE"})
	if pe := wantKind(t, err, providers.ErrNotFound); pe.Code != "400" || pe.Message != DescOrderNotExist || errorsIsRejected(err) {
		t.Fatalf("not found: %+v", pe)
	}
	_, err = e.ad.QueryOrder(ctx, providers.OrderQuery{OrderNo: e.order("D1").ID})
	wantKind(t, err, providers.ErrNotFound)
}

func errorsIsRejected(err error) bool { return providers.KindOf(err) == providers.ErrRejected }

func TestUnknownMerchantAndBadSignature(t *testing.T) {
	ctx := context.Background()
	stranger := newEnv(t, func(c *envConfig) { c.adapter.MerchantID = "M99999" })
	_, err := stranger.ad.CreateDeposit(ctx, stranger.deposit("D1", "10"))
	if pe := wantKind(t, err, providers.ErrRejected); pe.Message != DescMerchantNotExist {
		t.Fatalf("unknown merchant: %+v", pe)
	}
	_, err = stranger.ad.QueryBalances(ctx)
	wantKind(t, err, providers.ErrRejected)
	// An unknown merchant's query is a refusal of the credentials, never
	// "order not found": that would tell the job layer to create again.
	_, err = stranger.ad.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1"})
	if errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("unknown merchant query = %v, must not be ErrNotFound", err)
	}
	if pe := wantKind(t, err, providers.ErrRejected); pe.Code != "400" || pe.Message != DescMerchantNotExist {
		t.Fatalf("unknown merchant query: %+v", pe)
	}
	// The same simulator, the right merchant, an order it does not know: ErrNotFound.
	known, err := New(func() providers.Config { c := stranger.ad.cfg; c.MerchantID = testMerchant; return c }())
	if err != nil {
		t.Fatal(err)
	}
	_, err = known.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1"})
	if pe := wantKind(t, err, providers.ErrNotFound); pe.Code != "400" || pe.Message != DescOrderNotExist {
		t.Fatalf("unknown order query: %+v", pe)
	}

	// A wrong key: every endpoint answers code 400 "sign error" and nothing happens.
	e := newEnv(t, func(c *envConfig) { c.adapter.Secret = "not-the-key" })
	_, err = e.ad.CreateDeposit(ctx, e.deposit("D1", "10"))
	if pe := wantKind(t, err, providers.ErrRejected); pe.Code != "400" || pe.Message != DescSignError {
		t.Fatalf("bad sign deposit: %+v", pe)
	}
	_, err = e.ad.CreatePayout(ctx, e.payout("P1", "10"))
	if pe := wantKind(t, err, providers.ErrRejected); pe.Message != DescSignError {
		t.Fatalf("bad sign payout: %+v", pe)
	}
	_, err = e.ad.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1"})
	if pe := wantKind(t, err, providers.ErrRejected); pe.Message != DescSignError {
		t.Fatalf("bad sign query: %+v", pe)
	}
	_, err = e.ad.QueryBalances(ctx)
	if pe := wantKind(t, err, providers.ErrRejected); pe.Message != DescSignError {
		t.Fatalf("bad sign balance: %+v", pe)
	}
	if n := len(e.sim.Engine().Orders()); n != 0 {
		t.Fatalf("%d orders created with a bad signature", n)
	}
}

// Indonesia: collections with the document's two decimals; payouts whole
// ("Indonesia does not allow decimal points" on /pay/create), bank code in
// remark, no decimals on the payout's wire.
func TestIndonesiaAccount(t *testing.T) {
	e := newEnv(t, func(c *envConfig) {
		c.merchant.Options = map[string]string{SimOptionCurrency: "IDR"}
		c.merchant.Balances = map[string]*sim.Balance{"IDR": {Available: dec("1000000")}}
		c.adapter.Options = map[string]string{OptionPayCode: "QRIS", OptionPayoutPayCode: "BANK", OptionCurrency: "IDR"}
	})
	ctx := context.Background()
	res, err := e.ad.CreateDeposit(ctx, providers.DepositRequest{OrderNo: "I1", Amount: dec("150000"), Currency: "IDR"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(res.CashierURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "150000.00 IDR") {
		t.Fatalf("IDR cashier:\n%s", page)
	}
	_, err = e.ad.CreatePayout(ctx, providers.PayoutRequest{OrderNo: "I2", Amount: dec("100000"), Currency: "IDR",
		Beneficiary: providers.Party{Name: "Budi", Account: "1234567890", BankCode: "014"}})
	if err != nil {
		t.Fatal(err)
	}
	if o := e.order("I2"); o.Fields["remark"] != "014" || o.Currency != "IDR" {
		t.Fatalf("payout order %+v", o)
	}
	// 100000 + 2% + 1 frozen.
	b := e.balance()
	if b.Currency != "IDR" || !b.Total.Equal(dec("1000000")) || !b.Available.Equal(dec("897999")) || !b.Frozen.Equal(dec("102001")) {
		t.Fatalf("IDR balance = %+v", b)
	}
}

// IDR decimals: a collection of 150000.50 goes out as "150000.50" and is
// taken by the simulator; a payout with decimals is refused before any call,
// and the simulator refuses one that gets through (amount format error).
func TestIndonesiaDecimalsOnCollectionsOnly(t *testing.T) {
	var sent []string
	e := newEnv(t, func(c *envConfig) {
		c.merchant.Options = map[string]string{SimOptionCurrency: "IDR"}
		c.merchant.Balances = map[string]*sim.Balance{"IDR": {Available: dec("1000000")}}
		c.adapter.Options = map[string]string{OptionPayCode: "QRIS", OptionPayoutPayCode: "BANK", OptionCurrency: "IDR"}
	})
	ctx := context.Background()
	e.ad.tr.Client = &http.Client{Timeout: 2 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		p, _ := ParseJSONParams(b)
		sent = append(sent, p["amount"])
		r.Body = io.NopCloser(bytes.NewReader(b))
		return http.DefaultTransport.RoundTrip(r)
	})}
	if _, err := e.ad.CreateDeposit(ctx, providers.DepositRequest{OrderNo: "I3", Amount: dec("150000.5"), Currency: "IDR"}); err != nil {
		t.Fatalf("IDR collection with decimals: %v", err)
	}
	if o := e.order("I3"); !o.Amount.Equal(dec("150000.5")) || o.Kind != providers.KindDeposit {
		t.Fatalf("collection at the simulator = %+v", o)
	}
	if _, err := e.ad.CreatePayout(ctx, providers.PayoutRequest{OrderNo: "I4", Amount: dec("100000.5"), Currency: "IDR",
		Beneficiary: providers.Party{Name: "Budi", Account: "1234567890", BankCode: "014"}}); !errors.Is(err, providers.ErrInvalidRequest) ||
		!strings.Contains(err.Error(), "more than 0 decimals") {
		t.Fatalf("IDR payout with decimals: %v", err)
	}
	if _, err := e.ad.CreatePayout(ctx, providers.PayoutRequest{OrderNo: "I5", Amount: dec("100000"), Currency: "IDR",
		Beneficiary: providers.Party{Name: "Budi", Account: "1234567890", BankCode: "014"}}); err != nil {
		t.Fatalf("IDR whole payout: %v", err)
	}
	if len(sent) != 2 || sent[0] != "150000.50" || sent[1] != "100000" {
		t.Fatalf("amounts on the wire = %q, want [150000.50 100000]", sent)
	}
	// The simulator's own rule, for a client that does not validate.
	p := map[string]string{"merchant": testMerchant, "payCode": "BANK", "amount": "100000.50", "orderId": "I6",
		"notifyUrl": "https://x/cb", "bankAccount": "1", "customName": "B", "remark": "014"}
	p[SignField] = Sign(p, testKey)
	b, _ := json.Marshal(p)
	resp, err := http.Post(e.srv.URL+"/cxpay"+PathPayCreate, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&env)
	if env["desc"] != DescAmountFormat {
		t.Fatalf("simulator IDR payout with decimals = %v", env)
	}
	p = map[string]string{"merchant": testMerchant, "payCode": "QRIS", "amount": "10.25", "orderId": "I7", "notifyUrl": "https://x/cb"}
	p[SignField] = Sign(p, testKey)
	b, _ = json.Marshal(p)
	resp2, err := http.Post(e.srv.URL+"/cxpay"+PathCollectCreate, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	env = nil
	_ = json.NewDecoder(resp2.Body).Decode(&env)
	if env["code"] != float64(200) {
		t.Fatalf("simulator IDR collection with decimals = %v", env)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
