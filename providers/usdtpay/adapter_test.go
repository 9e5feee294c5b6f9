package usdtpay

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

const (
	testCrmNo = "TW001478"
	testKey   = "123232"
	testBase  = "http://otc.example.com"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestAdapter(t *testing.T, base string) *Adapter {
	t.Helper()
	a, err := New(providers.Config{Account: "usdtpay-main", BaseURL: base, MerchantID: testCrmNo, Secret: testKey,
		NotifyURL: "https://tally.example.com/callbacks/usdtpay-main", HTTPClient: testClient, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func validDeposit() providers.DepositRequest {
	return providers.DepositRequest{
		OrderNo:    "180606174026TW001478000008",
		Amount:     dec("100"),
		Currency:   "CNY",
		CustomerID: "83430099",
		ReturnURL:  "https://crm.example.com/deposit/done",
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	ok := providers.Config{BaseURL: testBase, MerchantID: testCrmNo, Secret: testKey}
	tests := []struct {
		name   string
		change func(*providers.Config)
		want   string
	}{
		{"no base url", func(c *providers.Config) { c.BaseURL = "" }, "BaseURL"},
		{"no crmNo", func(c *providers.Config) { c.MerchantID = "" }, "MerchantID"},
		{"no key", func(c *providers.Config) { c.Secret = "" }, "Secret"},
		{"relative base url", func(c *providers.Config) { c.BaseURL = "otc.example.com" }, "absolute"},
		{"crmNo too long", func(c *providers.Config) { c.MerchantID = "TW0014789" }, "longer than 8"},
		{"unknown option", func(c *providers.Config) { c.Options = map[string]string{"pay_code": "1"} }, "unknown option"},
		{"bad notify url", func(c *providers.Config) { c.NotifyURL = "ftp://x" }, "NotifyURL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.change(&cfg)
			_, err := New(cfg)
			if !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidRequest mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Fatalf("complete config: %v", err)
	}
}

func TestCapabilities(t *testing.T) {
	c := newTestAdapter(t, testBase).Capabilities()
	if !c.Deposit || !c.PayPage || !c.SignedCallbacks || c.Payout || c.QueryOrder || c.QueryBalance || c.WalletAddress || c.QuotedDeposits {
		t.Fatalf("capabilities = %+v", c)
	}
	if strings.Join(c.DepositCurrencies, ",") != "CNY,USD,MYR" || len(c.PayoutCurrencies) != 0 || c.AmountDecimals != 2 {
		t.Fatalf("currencies/decimals = %+v", c)
	}
}

func TestUnsupportedOperations(t *testing.T) {
	a := newTestAdapter(t, testBase)
	ctx := context.Background()
	_, e1 := a.CreatePayout(ctx, providers.PayoutRequest{})
	_, e2 := a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "x"})
	_, e3 := a.QueryBalances(ctx)
	e4 := a.ValidatePayout(providers.PayoutRequest{})
	for i, err := range []error{e1, e2, e3, e4} {
		if !errors.Is(err, providers.ErrUnsupported) {
			t.Errorf("call %d: err = %v, want ErrUnsupported", i, err)
		}
	}
}

func TestCreateDepositBuildsSignedForm(t *testing.T) {
	a := newTestAdapter(t, testBase+"/")
	res, err := a.CreateDeposit(context.Background(), validDeposit())
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != providers.StatusPending || res.ProviderOrderID != "" || res.CashierURL != "" || res.Amount.Valid || res.Fee.Valid {
		t.Fatalf("result = %+v", res)
	}
	f := res.PayForm
	if f.Action != "http://otc.example.com/pay/toConfirmIn" || f.Method != "POST" {
		t.Fatalf("form action/method = %s %s", f.Method, f.Action)
	}
	want := []providers.FormField{
		{Name: "pickupUrl", Value: "https://crm.example.com/deposit/done"},
		{Name: "receiveUrl", Value: "https://tally.example.com/callbacks/usdtpay-main"},
		{Name: "signType", Value: "MD5"},
		{Name: "orderNo", Value: "180606174026TW001478000008"},
		{Name: "orderAmount", Value: "100.00"},
		{Name: "orderCurrency", Value: "CNY"},
		{Name: "customerId", Value: "83430099"},
		{Name: "sign", Value: "38e18d8a775e8e0d11a75f04e6a4cd1d"}, // TestPayRequestVector
		{Name: "crmNo", Value: "TW001478"},
	}
	if len(f.Fields) != len(want) {
		t.Fatalf("fields = %v", f.Fields)
	}
	for i := range want {
		if f.Fields[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, f.Fields[i], want[i])
		}
	}

	// The request's own NotifyURL overrides the account's; amounts get two decimals.
	req := validDeposit()
	req.NotifyURL = "https://other.example.com/cb"
	req.Amount = dec("1.5")
	req.Currency = "MYR"
	res, err = a.CreateDeposit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ff := range res.PayForm.Fields {
		got[ff.Name] = ff.Value
	}
	if got["receiveUrl"] != req.NotifyURL || got["orderAmount"] != "1.50" || got["orderCurrency"] != "MYR" {
		t.Fatalf("fields = %v", got)
	}
	p := PayRequest{PickupURL: got["pickupUrl"], ReceiveURL: got["receiveUrl"], SignType: got["signType"], OrderNo: got["orderNo"],
		OrderAmount: got["orderAmount"], OrderCurrency: got["orderCurrency"], CustomerID: got["customerId"], Sign: got["sign"]}
	if !p.Verify(testKey) {
		t.Fatal("form does not verify")
	}
}

func TestValidateDepositRefusals(t *testing.T) {
	a := newTestAdapter(t, testBase)
	noNotify, err := New(providers.Config{BaseURL: testBase, MerchantID: testCrmNo, Secret: testKey, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	long := func(n int) string { return strings.Repeat("a", n) }
	longURL := func(n int) string { return "https://x.example.com/" + long(n-len("https://x.example.com/")) }
	tests := []struct {
		name    string
		adapter *Adapter
		change  func(*providers.DepositRequest)
		want    string // "" = accepted
	}{
		{"valid", a, func(*providers.DepositRequest) {}, ""},
		{"USD", a, func(r *providers.DepositRequest) { r.Currency = "USD" }, ""},
		{"largest amount", a, func(r *providers.DepositRequest) { r.Amount = dec("9999999.99") }, ""},
		{"smallest amount", a, func(r *providers.DepositRequest) { r.Amount = dec("0.01") }, ""},
		{"32-char order no", a, func(r *providers.DepositRequest) { r.OrderNo = "180322000449TW001375000001140802" }, ""},
		{"100-char urls", a, func(r *providers.DepositRequest) { r.ReturnURL = longURL(100); r.NotifyURL = longURL(100) }, ""},
		{"pay currency = currency", a, func(r *providers.DepositRequest) { r.PayCurrency = "CNY" }, ""},
		{"currency USDT", a, func(r *providers.DepositRequest) { r.Currency = "USDT" }, `currency "USDT" is not accepted`},
		{"currency lowercase", a, func(r *providers.DepositRequest) { r.Currency = "cny" }, "is not accepted"},
		{"pay currency BTC", a, func(r *providers.DepositRequest) { r.PayCurrency = "BTC" }, "pay currency"},
		{"pay currency USDT (unsigned at UsdtPay)", a, func(r *providers.DepositRequest) { r.PayCurrency = "USDT" }, "pay currency"},
		{"zero amount", a, func(r *providers.DepositRequest) { r.Amount = decimal.Zero }, "must be positive"},
		{"negative amount", a, func(r *providers.DepositRequest) { r.Amount = dec("-1") }, "must be positive"},
		{"three decimals", a, func(r *providers.DepositRequest) { r.Amount = dec("1.005") }, "more than 2 decimals"},
		{"eleven characters", a, func(r *providers.DepositRequest) { r.Amount = dec("10000000") }, "longer than 10 characters"},
		{"no order no", a, func(r *providers.DepositRequest) { r.OrderNo = "" }, "OrderNo"},
		{"33-char order no", a, func(r *providers.DepositRequest) { r.OrderNo = "180606174026TW0014780000081000012" }, "longer than 32"},
		{"order no with space", a, func(r *providers.DepositRequest) { r.OrderNo = "A 1" }, "letters, digits"},
		{"order no with unicode", a, func(r *providers.DepositRequest) { r.OrderNo = "订单1" }, "letters, digits"},
		{"no customer", a, func(r *providers.DepositRequest) { r.CustomerID = "" }, "CustomerID"},
		{"long customer", a, func(r *providers.DepositRequest) { r.CustomerID = long(33) }, "customer id is longer than 32"},
		{"customer with space", a, func(r *providers.DepositRequest) { r.CustomerID = "a b" }, "spaces"},
		{"no return url", a, func(r *providers.DepositRequest) { r.ReturnURL = "" }, "ReturnURL"},
		{"relative return url", a, func(r *providers.DepositRequest) { r.ReturnURL = "/done" }, "absolute"},
		{"101-char return url", a, func(r *providers.DepositRequest) { r.ReturnURL = longURL(101) }, "longer than the 100"},
		{"101-char notify url", a, func(r *providers.DepositRequest) { r.NotifyURL = longURL(101) }, "longer than the 100"},
		{"javascript return url", a, func(r *providers.DepositRequest) { r.ReturnURL = "javascript:alert(1)" }, "absolute"},
		{"no notify url anywhere", noNotify, func(*providers.DepositRequest) {}, "NotifyURL"},
		{"method", a, func(r *providers.DepositRequest) { r.Method = "credit_card" }, "unknown method"},
		{"extra", a, func(r *providers.DepositRequest) { r.Extra = map[string]string{"bank": "x"} }, "unknown extra"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := validDeposit()
			tc.change(&req)
			err := tc.adapter.ValidateDeposit(req)
			_, cerr := tc.adapter.CreateDeposit(context.Background(), req)
			if tc.want == "" {
				if err != nil || cerr != nil {
					t.Fatalf("refused: %v / %v", err, cerr)
				}
				return
			}
			for _, e := range []error{err, cerr} {
				if !errors.Is(e, providers.ErrInvalidRequest) || !strings.Contains(e.Error(), tc.want) {
					t.Fatalf("err = %v, want ErrInvalidRequest mentioning %q", e, tc.want)
				}
			}
		})
	}
}

func TestRenderPayPage(t *testing.T) {
	a := newTestAdapter(t, testBase)
	req := validDeposit()
	req.ReturnURL = `https://crm.example.com/done?a=1&b="x"`
	res, err := a.CreateDeposit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	page, err := a.RenderPayPage(res.PayForm)
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{
		`<form id="usdtpay" action="http://otc.example.com/pay/toConfirmIn" method="POST">`,
		`<input type="hidden" name="pickupUrl" value="https://crm.example.com/done?a=1&amp;b=&#34;x&#34;">`,
		`<input type="hidden" name="orderAmount" value="100.00">`,
		`<input type="hidden" name="crmNo" value="TW001478">`,
		`document.getElementById("usdtpay").submit();`,
		`<noscript><button type="submit">`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %s\n%s", want, s)
		}
	}
	if strings.Index(s, `name="pickupUrl"`) > strings.Index(s, `name="crmNo"`) {
		t.Error("fields out of documented order")
	}
	if _, err := a.RenderPayPage(nil); !errors.Is(err, providers.ErrInvalidRequest) {
		t.Fatalf("nil form: %v", err)
	}
}
