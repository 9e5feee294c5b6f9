package cxpay

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tallyhq/tally/providers"
)

func TestNewConfig(t *testing.T) {
	base := providers.Config{BaseURL: "https://api.cxpay.example", MerchantID: "M1", Secret: "k", Options: map[string]string{OptionPayCode: "PIX", OptionCurrency: "BRL"}, Logger: quiet}
	with := func(f func(*providers.Config)) providers.Config {
		c := base
		c.Options = map[string]string{}
		for k, v := range base.Options {
			c.Options[k] = v
		}
		f(&c)
		return c
	}
	bad := map[string]providers.Config{
		"no base url":      with(func(c *providers.Config) { c.BaseURL = "" }),
		"no merchant":      with(func(c *providers.Config) { c.MerchantID = " " }),
		"no secret":        with(func(c *providers.Config) { c.Secret = "" }),
		"no pay code":      with(func(c *providers.Config) { delete(c.Options, OptionPayCode) }),
		"no currency":      with(func(c *providers.Config) { delete(c.Options, OptionCurrency) }),
		"blank currency":   with(func(c *providers.Config) { c.Options[OptionCurrency] = " " }),
		"unknown option":   with(func(c *providers.Config) { c.Options["paycode"] = "X" }),
		"bad currency":     with(func(c *providers.Config) { c.Options[OptionCurrency] = "REAL" }),
		"decimals 3":       with(func(c *providers.Config) { c.Options[OptionAmountDecimals] = "3" }),
		"decimals letters": with(func(c *providers.Config) { c.Options[OptionAmountDecimals] = "two" }),
	}
	for name, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted the config", name)
		} else if strings.Contains(err.Error(), "k\"") {
			t.Errorf("%s: error mentions the secret: %v", name, err)
		}
	}

	a, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	caps := a.Capabilities()
	if a.Provider() != "cxpay" || a.payoutPayCode != "PIX" || a.Currency() != "BRL" || caps.AmountDecimals != 2 ||
		!caps.Deposit || !caps.Payout || !caps.QueryOrder || !caps.QueryBalance || !caps.SignedCallbacks || !caps.PayPage ||
		caps.WalletAddress || caps.QuotedDeposits || len(caps.DepositCurrencies) != 1 || caps.DepositCurrencies[0] != "BRL" ||
		len(caps.PayoutCurrencies) != 1 || caps.PayoutCurrencies[0] != "BRL" {
		t.Fatalf("defaults: %+v payout code %q", caps, a.payoutPayCode)
	}
	idr, err := New(with(func(c *providers.Config) { c.Options[OptionCurrency] = "idr"; c.Options[OptionPayoutPayCode] = "BANK" }))
	if err != nil {
		t.Fatal(err)
	}
	// IDR: collections take the document's two decimals; only payouts take none.
	if idr.Currency() != "IDR" || idr.Capabilities().AmountDecimals != 2 || idr.payoutPlaces != 0 || idr.payoutPayCode != "BANK" {
		t.Fatalf("IDR: currency %s decimals %d payout decimals %d payout code %s", idr.Currency(), idr.Capabilities().AmountDecimals, idr.payoutPlaces, idr.payoutPayCode)
	}
	idr1, err := New(with(func(c *providers.Config) { c.Options[OptionCurrency] = "IDR"; c.Options[OptionAmountDecimals] = "1" }))
	if err != nil || idr1.Capabilities().AmountDecimals != 1 || idr1.payoutPlaces != 0 {
		t.Fatalf("IDR amount_decimals 1: %+v, %v", idr1, err)
	}
	one, err := New(with(func(c *providers.Config) { c.Options[OptionAmountDecimals] = "1" }))
	if err != nil || one.Capabilities().AmountDecimals != 1 {
		t.Fatalf("amount_decimals 1: %v", err)
	}
}

func TestValidateDeposit(t *testing.T) {
	a := mustAdapter(t, nil)
	ok := providers.DepositRequest{
		OrderNo: "D1", Amount: dec("100"), Currency: "BRL", NotifyURL: "https://tally.example/cb",
		Payer: providers.Party{Name: "Joao", Email: "j@example.com", Phone: "55119", TaxID: "12345678909"},
	}
	if err := a.ValidateDeposit(ok); err != nil {
		t.Fatalf("valid deposit refused: %v", err)
	}
	tests := []struct {
		name string
		f    func(*providers.DepositRequest)
		msg  string
	}{
		{"other currency", func(r *providers.DepositRequest) { r.Currency = "USD" }, `currency "USD"`},
		{"another pay currency", func(r *providers.DepositRequest) { r.PayCurrency = "USDT" }, `pay currency "USDT": the account settles in BRL`},
		{"no currency", func(r *providers.DepositRequest) { r.Currency = "" }, `currency ""`},
		{"zero amount", func(r *providers.DepositRequest) { r.Amount = dec("0") }, "must be positive"},
		{"negative amount", func(r *providers.DepositRequest) { r.Amount = dec("-5") }, "must be positive"},
		{"three decimals", func(r *providers.DepositRequest) { r.Amount = dec("10.005") }, "more than 2 decimals"},
		{"no order no", func(r *providers.DepositRequest) { r.OrderNo = "" }, "orderId (OrderNo)"},
		{"order no 33", func(r *providers.DepositRequest) { r.OrderNo = strings.Repeat("a", 33) }, "at most 32"},
		{"order no spaces", func(r *providers.DepositRequest) { r.OrderNo = " D1" }, "surrounding spaces"},
		{"no notify url", func(r *providers.DepositRequest) { r.NotifyURL = "" }, "notifyUrl (NotifyURL)"},
		{"brazil no CPF", func(r *providers.DepositRequest) { r.Payer.TaxID = "" }, "remark (Payer.TaxID (CPF/CNPJ))"},
		{"brazil no name", func(r *providers.DepositRequest) { r.Payer.Name = " " }, "customName (Payer.Name)"},
		{"brazil no phone", func(r *providers.DepositRequest) { r.Payer.Phone = "" }, "number (Payer.Phone)"},
		{"brazil no email", func(r *providers.DepositRequest) { r.Payer.Email = "" }, "email (Payer.Email)"},
		{"relative notify url", func(r *providers.DepositRequest) { r.NotifyURL = "/callbacks/cxpay" }, `notifyUrl "/callbacks/cxpay" is not an absolute`},
		{"ftp return url", func(r *providers.DepositRequest) { r.ReturnURL = "ftp://shop.example/r" }, `callbackUrl "ftp://shop.example/r"`},
		{"unknown extra", func(r *providers.DepositRequest) { r.Extra = map[string]string{"utr": "1"} }, `unknown Extra key "utr"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.f(&r)
			err := a.ValidateDeposit(r)
			wantKind(t, err, providers.ErrInvalidRequest)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.msg)
			}
			// CreateDeposit refuses it too, before any call (the base URL is unreachable).
			_, err = a.CreateDeposit(context.Background(), r)
			wantKind(t, err, providers.ErrInvalidRequest)
		})
	}
	// The Extra remark replaces a missing CPF; 32 characters is the limit.
	r := ok
	r.Payer.TaxID = ""
	r.Extra = map[string]string{ExtraRemark: "98765432100"}
	r.OrderNo = strings.Repeat("a", 32)
	if err := a.ValidateDeposit(r); err != nil {
		t.Fatalf("Extra remark: %v", err)
	}
	// Outside Brazil the payer fields are optional; notify URL from Config.
	usd := mustAdapter(t, map[string]string{OptionCurrency: "USD"})
	usd.cfg.NotifyURL = "https://tally.example/cb"
	if err := usd.ValidateDeposit(providers.DepositRequest{OrderNo: "D2", Amount: dec("1.5"), Currency: "USD"}); err != nil {
		t.Fatalf("USD deposit: %v", err)
	}
	// Indonesia: "does not allow decimal points" is said of /pay/create only;
	// a collection takes two decimals like everywhere else.
	idr := mustAdapter(t, map[string]string{OptionCurrency: "IDR"})
	idr.cfg.NotifyURL = "https://tally.example/cb"
	for _, amt := range []string{"10000", "10000.5", "10000.25"} {
		if err := idr.ValidateDeposit(providers.DepositRequest{OrderNo: "D3", Amount: dec(amt), Currency: "IDR"}); err != nil {
			t.Fatalf("IDR collection of %s: %v", amt, err)
		}
	}
	err := idr.ValidateDeposit(providers.DepositRequest{OrderNo: "D3", Amount: dec("10000.125"), Currency: "IDR"})
	wantKind(t, err, providers.ErrInvalidRequest)
	if !strings.Contains(err.Error(), "more than 2 decimals") {
		t.Fatalf("IDR decimals: %v", err)
	}
}

func TestValidatePayout(t *testing.T) {
	brl := mustAdapter(t, nil)
	ok := providers.PayoutRequest{
		OrderNo: "P1", Amount: dec("50.25"), Currency: "BRL", NotifyURL: "https://tally.example/cb",
		Beneficiary: providers.Party{Name: "Maria", Email: "m@example.com", Account: "12345678909", AccountType: "CPF"},
	}
	if err := brl.ValidatePayout(ok); err != nil {
		t.Fatalf("valid payout refused: %v", err)
	}
	tests := []struct {
		name string
		a    *Adapter
		f    func(*providers.PayoutRequest)
		msg  string
	}{
		{"no account", brl, func(r *providers.PayoutRequest) { r.Beneficiary.Account = "" }, "bankAccount (Beneficiary.Account)"},
		{"no name", brl, func(r *providers.PayoutRequest) { r.Beneficiary.Name = "" }, "customName (Beneficiary.Name)"},
		{"brazil no account type", brl, func(r *providers.PayoutRequest) { r.Beneficiary.AccountType = "" }, "remark (Beneficiary.AccountType"},
		{"brazil no email", brl, func(r *providers.PayoutRequest) { r.Beneficiary.Email = "" }, "email (Beneficiary.Email)"},
		{"amount decimals", brl, func(r *providers.PayoutRequest) { r.Amount = dec("0.001") }, "more than 2 decimals"},
		{"currency", brl, func(r *providers.PayoutRequest) { r.Currency = "INR" }, `currency "INR"`},
		{"india no IFSC", mustAdapter(t, map[string]string{OptionCurrency: "INR"}), func(r *providers.PayoutRequest) { r.Currency = "INR"; r.Beneficiary.Phone = "91987" },
			"remark (Beneficiary.AccountType (Brazil) or Beneficiary.BankCode"},
		{"nigeria no bank code", mustAdapter(t, map[string]string{OptionCurrency: "NGN"}), func(r *providers.PayoutRequest) { r.Currency = "NGN" }, "remark"},
		{"indonesia decimals", mustAdapter(t, map[string]string{OptionCurrency: "IDR"}), func(r *providers.PayoutRequest) { r.Currency = "IDR"; r.Beneficiary.BankCode = "014" },
			"more than 0 decimals"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok
			tc.f(&r)
			err := tc.a.ValidatePayout(r)
			wantKind(t, err, providers.ErrInvalidRequest)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.msg)
			}
			_, err = tc.a.CreatePayout(context.Background(), r)
			wantKind(t, err, providers.ErrInvalidRequest)
		})
	}
	inr := mustAdapter(t, map[string]string{OptionCurrency: "INR"})
	r := ok
	r.Currency = "INR"
	r.Beneficiary.BankCode, r.Beneficiary.Phone, r.Beneficiary.Email = "SBIN0001234", "919876543210", ""
	if err := inr.ValidatePayout(r); err != nil {
		t.Fatalf("India payout: %v", err)
	}
	// number is optional ("no") in India too: the document only says what to
	// fill in when it is sent.
	r.Beneficiary.Phone = ""
	if err := inr.ValidatePayout(r); err != nil {
		t.Fatalf("India payout without a phone: %v", err)
	}
}

func mustAdapter(t *testing.T, opts map[string]string) *Adapter {
	t.Helper()
	o := map[string]string{OptionPayCode: "PIX", OptionCurrency: "BRL"}
	for k, v := range opts {
		o[k] = v
	}
	// An unroutable base URL: a test that reaches the network fails.
	a, err := New(providers.Config{BaseURL: "http://127.0.0.1:1", MerchantID: testMerchant, Secret: testKey, Options: o, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestWireRequests checks the exact JSON the adapter sends: every value a
// string, the amount with two decimals, the documented field names, a valid sign.
func TestWireRequests(t *testing.T) {
	type capture struct {
		path, contentType string
		body              map[string]any
	}
	got := make(chan capture, 4)
	answers := map[string]string{
		PathCollectCreate: `{"code":200,"success":true,"msg":"success","desc":"","data":{"url":"http://localhost:8888/pay/xxx"}}`,
		PathPayCreate:     `{"code":200,"success":true,"msg":"success","desc":"","data":{"platOrderId":"122145557788"}}`,
		PathOrderQuery:    `{"code":200,"success":true,"msg":"success","desc":"","data":{"amount":1000,"orderId":"e8a581fa692342ccbaf9cbd6f2598e48","platOrderId":"236130395249311744","status":0,"utr":"310310600223","fee":0}}`,
		PathOrderBalance:  `{"code":200,"success":true,"msg":"success","desc":"","data":{"balanceAll":1000,"balanceUsable":1000}}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("body is not JSON: %s", b)
		}
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		got <- capture{r.URL.Path, r.Header.Get("Content-Type"), m}
		_, _ = io.WriteString(w, answers[r.URL.Path])
	}))
	defer srv.Close()
	a, err := New(providers.Config{BaseURL: srv.URL + "/", MerchantID: testMerchant, Secret: testKey, HTTPClient: testClient,
		Options: map[string]string{OptionPayCode: "PIX", OptionPayoutPayCode: "PIXOUT", OptionCurrency: "BRL"}, NotifyURL: "https://tally.example/cb", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(wantPath string, want map[string]string) {
		t.Helper()
		c := <-got
		if c.path != wantPath || c.contentType != "application/json" {
			t.Fatalf("sent %s %s, want %s application/json", c.path, c.contentType, wantPath)
		}
		params := map[string]string{}
		for k, v := range c.body {
			s, ok := v.(string)
			if !ok {
				t.Fatalf("%s: field %s = %#v is not a string", wantPath, k, v)
			}
			params[k] = s
		}
		if !Verify(params, testKey) {
			t.Fatalf("%s: sign does not verify", wantPath)
		}
		delete(params, SignField)
		for k, v := range want {
			if params[k] != v {
				t.Fatalf("%s: %s = %q, want %q", wantPath, k, params[k], v)
			}
		}
		if len(params) != len(want) {
			t.Fatalf("%s: sent fields %v, want exactly %v", wantPath, params, want)
		}
	}

	dreq := providers.DepositRequest{OrderNo: "D1", Amount: dec("100"), Currency: "BRL", ReturnURL: "https://shop.example/r",
		Payer: providers.Party{Name: "Joao Silva", Email: "j@example.com", Phone: "5511987654321", TaxID: "12345678909"}}
	res, err := a.CreateDeposit(ctx, dreq)
	if err != nil || res.CashierURL != "http://localhost:8888/pay/xxx" || res.ProviderOrderID != "" || res.Status != providers.StatusPending || len(res.Raw) == 0 {
		t.Fatalf("CreateDeposit = %+v, %v", res, err)
	}
	check(PathCollectCreate, map[string]string{"merchant": testMerchant, "payCode": "PIX", "amount": "100.00", "orderId": "D1",
		"notifyUrl": "https://tally.example/cb", "callbackUrl": "https://shop.example/r", "remark": "12345678909",
		"customName": "Joao Silva", "number": "5511987654321", "email": "j@example.com"})

	preq := providers.PayoutRequest{OrderNo: "P1", Amount: dec("7.5"), Currency: "BRL", NotifyURL: "https://tally.example/p",
		Beneficiary: providers.Party{Name: "Maria", Email: "m@example.com", Account: "m@example.com", AccountType: "EMAIL"}}
	res, err = a.CreatePayout(ctx, preq)
	if err != nil || res.ProviderOrderID != "122145557788" || res.Status != providers.StatusProcessing {
		t.Fatalf("CreatePayout = %+v, %v", res, err)
	}
	check(PathPayCreate, map[string]string{"merchant": testMerchant, "payCode": "PIXOUT", "amount": "7.50", "orderId": "P1",
		"notifyUrl": "https://tally.example/p", "bankAccount": "m@example.com", "customName": "Maria", "remark": "EMAIL", "email": "m@example.com"})

	ev, err := a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "e8a581fa692342ccbaf9cbd6f2598e48"})
	if err != nil || ev.Status != providers.StatusPending || ev.ProviderOrderID != "236130395249311744" || ev.TxHash != "310310600223" || ev.Paid.Valid {
		t.Fatalf("QueryOrder = %+v, %v", ev, err)
	}
	check(PathOrderQuery, map[string]string{"merchant": testMerchant, "orderId": "e8a581fa692342ccbaf9cbd6f2598e48"})

	bs, err := a.QueryBalances(ctx)
	if err != nil || len(bs) != 1 || !bs[0].Total.Equal(dec("1000")) || !bs[0].Frozen.IsZero() {
		t.Fatalf("QueryBalances = %+v, %v", bs, err)
	}
	check(PathOrderBalance, map[string]string{"merchant": testMerchant})

	// Method overrides the payCode for one order.
	dreq.OrderNo, dreq.Method = "D2", "BOLETO"
	if _, err := a.CreateDeposit(ctx, dreq); err != nil {
		t.Fatal(err)
	}
	c := <-got
	if c.body["payCode"] != "BOLETO" {
		t.Fatalf("payCode = %v, want BOLETO", c.body["payCode"])
	}
}

// TestEnvelopeClassification checks how answers that are not code 200 become
// typed errors. The fake server plays a misbehaving CXPay (or a proxy in front).
func TestEnvelopeClassification(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		create error // kind for /collect/create
		query  error // kind for /order/query
		code   string
	}{
		{"code 400", 200, `{"code":400,"success":false,"msg":"fail","desc":"amount too small","data":null}`, providers.ErrRejected, providers.ErrRejected, "400"},
		{"code 400 as string", 200, `{"code":"400","success":false,"msg":"amount too small"}`, providers.ErrRejected, providers.ErrRejected, "400"},
		{"order not found", 200, `{"code":400,"success":false,"msg":"fail","desc":"order does not exist","data":null}`, providers.ErrRejected, providers.ErrNotFound, "400"},
		{"merchant not found", 200, `{"code":400,"success":false,"msg":"fail","desc":"merchant does not exist","data":null}`, providers.ErrRejected, providers.ErrRejected, "400"},
		{"other not exist", 200, `{"code":400,"success":false,"msg":"fail","desc":"payCode does not exist","data":null}`, providers.ErrRejected, providers.ErrRejected, "400"},
		{"not found on code 500", 200, `{"code":500,"success":false,"msg":"fail","desc":"order does not exist","data":null}`, providers.ErrAmbiguous, providers.ErrTransient, "500"},
		{"code 500", 200, `{"code":500,"success":false,"msg":"fail","desc":"system busy","data":null}`, providers.ErrAmbiguous, providers.ErrTransient, "500"},
		{"unknown code", 200, `{"code":302,"success":false}`, providers.ErrAmbiguous, providers.ErrTransient, "302"},
		{"not json", 200, `<html>gateway</html>`, providers.ErrAmbiguous, providers.ErrTransient, ""},
		{"no code", 200, `{"success":true}`, providers.ErrAmbiguous, providers.ErrTransient, ""},
		{"http 404 html", 404, `<html>not found</html>`, providers.ErrRejected, providers.ErrRejected, "HTTP 404"},
		{"http 502", 502, `bad gateway`, providers.ErrAmbiguous, providers.ErrTransient, "502"},
		{"http 429", 429, `slow down`, providers.ErrTransient, providers.ErrTransient, "429"},
		{"success without data", 200, `{"code":200,"success":true,"msg":"success","desc":"","data":null}`, providers.ErrAmbiguous, providers.ErrTransient, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			a, err := New(providers.Config{BaseURL: srv.URL, MerchantID: testMerchant, Secret: testKey, HTTPClient: testClient, Options: map[string]string{OptionPayCode: "PIX", OptionCurrency: "BRL"}, Logger: quiet, NotifyURL: "https://x/cb"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.CreateDeposit(context.Background(), providers.DepositRequest{OrderNo: "D1", Amount: dec("10"), Currency: "BRL",
				Payer: providers.Party{Name: "J", Email: "j@x", Phone: "1", TaxID: "1"}})
			pe := wantKind(t, err, tc.create)
			if tc.code != "" && pe.Code != tc.code {
				t.Fatalf("create code = %q, want %q", pe.Code, tc.code)
			}
			if tc.name == "code 400" && pe.Message != "amount too small" {
				t.Fatalf("message = %q, want the provider's desc", pe.Message)
			}
			_, err = a.QueryOrder(context.Background(), providers.OrderQuery{OrderNo: "D1"})
			wantKind(t, err, tc.query)
		})
	}
}

func TestQueryOrderNeedsOrderNo(t *testing.T) {
	a := mustAdapter(t, nil)
	_, err := a.QueryOrder(context.Background(), providers.OrderQuery{ProviderOrderID: "236130395249311744"})
	wantKind(t, err, providers.ErrInvalidRequest)
}

func TestQueryOrderForAnotherOrder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"code":200,"success":true,"data":{"amount":5,"orderId":"OTHER","platOrderId":"1","status":1,"fee":0}}`)
	}))
	defer srv.Close()
	a, _ := New(providers.Config{BaseURL: srv.URL, MerchantID: testMerchant, Secret: testKey, HTTPClient: testClient, Options: map[string]string{OptionPayCode: "PIX", OptionCurrency: "BRL"}, Logger: quiet})
	_, err := a.QueryOrder(context.Background(), providers.OrderQuery{OrderNo: "MINE"})
	wantKind(t, err, providers.ErrTransient)
}
