package vpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

func TestNewRequiresConfig(t *testing.T) {
	ok := providers.Config{BaseURL: "https://walletapi.minpayapp.com", MerchantID: "k", Secret: "s"}
	cases := map[string]func(c *providers.Config){
		"no base url":            func(c *providers.Config) { c.BaseURL = "" },
		"relative base url":      func(c *providers.Config) { c.BaseURL = "walletapi.minpayapp.com" },
		"no key":                 func(c *providers.Config) { c.MerchantID = "" },
		"no secret":              func(c *providers.Config) { c.Secret = "" },
		"empty quote currencies": func(c *providers.Config) { c.Options = map[string]string{"quote_currencies": " , "} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := ok
			mutate(&c)
			if _, err := New(c); !errors.Is(err, providers.ErrInvalidRequest) {
				t.Fatalf("New = %v, want ErrInvalidRequest", err)
			}
		})
	}
	a, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	caps := a.Capabilities()
	if !caps.Deposit || !caps.PayPage || !caps.SignedCallbacks || !caps.QuotedDeposits || caps.Payout || caps.QueryOrder || caps.QueryBalance || caps.WalletAddress {
		t.Fatalf("capabilities %+v", caps)
	}
	if caps.AmountDecimals != 2 || len(caps.DepositCurrencies) != 1 || caps.DepositCurrencies[0] != "CNY" {
		t.Fatalf("capabilities %+v", caps)
	}
	if a.Provider() != "vpay" {
		t.Fatal(a.Provider())
	}
}

func TestValidateDeposit(t *testing.T) {
	a, err := New(providers.Config{BaseURL: "https://x.test", MerchantID: "k", Secret: "s", Options: map[string]string{"quote_currencies": "CNY,USD"}})
	if err != nil {
		t.Fatal(err)
	}
	good := providers.DepositRequest{OrderNo: "o1", Amount: dec("100.5"), Currency: "CNY", PayCurrency: "USDT"}
	refused := map[string]func(r *providers.DepositRequest){
		"no order no":         func(r *providers.DepositRequest) { r.OrderNo = "" },
		"order no too long":   func(r *providers.DepositRequest) { r.OrderNo = strings.Repeat("9", 65) },
		"no currency":         func(r *providers.DepositRequest) { r.Currency = "" },
		"quote currency off":  func(r *providers.DepositRequest) { r.Currency = "EUR" },
		"pay currency BTC":    func(r *providers.DepositRequest) { r.PayCurrency = "BTC" },
		"no pay currency":     func(r *providers.DepositRequest) { r.PayCurrency = "" },
		"pay currency CNY":    func(r *providers.DepositRequest) { r.PayCurrency = "CNY" },
		"zero amount":         func(r *providers.DepositRequest) { r.Amount = dec("0") },
		"negative amount":     func(r *providers.DepositRequest) { r.Amount = dec("-1") },
		"three decimals":      func(r *providers.DepositRequest) { r.Amount = dec("10.005") },
		"unknown method":      func(r *providers.DepositRequest) { r.Method = "credit_card" },
		"relative notify url": func(r *providers.DepositRequest) { r.NotifyURL = "/callbacks/vpay" },
		"ftp return url":      func(r *providers.DepositRequest) { r.ReturnURL = "ftp://x.test/back" },
	}
	for name, mutate := range refused {
		t.Run(name, func(t *testing.T) {
			r := good
			mutate(&r)
			err := a.ValidateDeposit(r)
			if !errors.Is(err, providers.ErrInvalidRequest) {
				t.Fatalf("ValidateDeposit = %v, want ErrInvalidRequest", err)
			}
			// CreateDeposit validates before any call: the base URL does not resolve.
			if _, err := a.CreateDeposit(t.Context(), r); !errors.Is(err, providers.ErrInvalidRequest) {
				t.Fatalf("CreateDeposit = %v, want ErrInvalidRequest", err)
			}
		})
	}
	for _, r := range []providers.DepositRequest{
		good,
		{OrderNo: "o2", Amount: dec("0.01"), Currency: "USD", PayCurrency: "TRX"},
		{OrderNo: "o3", Amount: dec("100.00"), Currency: "CNY", PayCurrency: "USDT", NotifyURL: "https://t.test/cb", ReturnURL: "https://t.test/ok"},
	} {
		if err := a.ValidateDeposit(r); err != nil {
			t.Errorf("ValidateDeposit(%+v) = %v", r, err)
		}
	}
}

func TestUnsupported(t *testing.T) {
	a := newAdapter(t, "https://x.test", "k", "s", nil, nil)
	checks := map[string]error{}
	_, checks["CreatePayout"] = a.CreatePayout(t.Context(), providers.PayoutRequest{OrderNo: "p", Amount: dec("1"), Currency: "USDT"})
	checks["ValidatePayout"] = a.ValidatePayout(providers.PayoutRequest{})
	_, checks["QueryOrder"] = a.QueryOrder(t.Context(), providers.OrderQuery{OrderNo: "x"})
	_, checks["QueryBalances"] = a.QueryBalances(t.Context())
	for name, err := range checks {
		if !errors.Is(err, providers.ErrUnsupported) {
			t.Errorf("%s = %v, want ErrUnsupported", name, err)
		}
	}
}

func TestCreateDepositRoundTrip(t *testing.T) {
	e := newEnv(t, envOpts{})
	res, err := e.ad.CreateDeposit(t.Context(), providers.DepositRequest{
		OrderNo: "T-1001", Amount: dec("100.00"), Currency: "CNY", PayCurrency: "USDT", CustomerID: "55",
		NotifyURL: "http://tally.test/callbacks/vpay-test", ReturnURL: "http://shop.test/done",
	})
	if err != nil {
		t.Fatal(err)
	}
	// What went on the wire: the documented fields, quoteAmount a JSON number.
	req := e.lastRequest(t)
	want := map[string]any{
		"key": testKey, "localOrderId": "T-1001", "localUserId": "55", "notifyUrl": "http://tally.test/callbacks/vpay-test",
		"successRedirectUrl": "http://shop.test/done", "userCurrency": "USDT", "quoteCurrency": "CNY",
		"quoteAmount": json.Number("100.00"), "isBlockchain": true,
	}
	for k, v := range want {
		if req[k] != v {
			t.Errorf("request %s = %#v, want %#v", k, req[k], v)
		}
	}
	if len(req) != len(want)+1 {
		t.Errorf("request has fields %v", req)
	}
	e.mu.Lock()
	raw := e.requests[len(e.requests)-1]
	e.mu.Unlock()
	if sig, _ := Sign(raw, testSecret); sig != req["sign"] {
		t.Errorf("request sign %v, recomputed %s", req["sign"], sig)
	}

	o, err := e.sim.Engine().FindOrder(testKey, "T-1001")
	if err != nil {
		t.Fatal(err)
	}
	if res.ProviderOrderID != o.ID || res.Status != providers.StatusPending {
		t.Fatalf("result %+v, order %s", res, o.ID)
	}
	// 100.00 CNY at 7.1 CNY/USDT = 14.0845070... rounded up to 14.084508 USDT.
	if !o.Amount.Equal(dec("14.084508")) || o.Currency != "USDT" || o.SettleCurrency != "USDT" ||
		o.QuoteCurrency != "CNY" || !o.QuoteAmount.Equal(dec("100")) || !o.Rate.Equal(dec("7.1")) ||
		o.UserID != "55" || o.ReturnURL != "http://shop.test/done" {
		t.Fatalf("order %+v", o)
	}
	pub := publicKey(testKey, o.ID)
	if len(pub) != 60 || res.CashierURL != e.srv.URL+"/fixed-amount-pay/"+pub {
		t.Fatalf("cashier url %q (public key %q)", res.CashierURL, pub)
	}
	addrs := addressesFor("USDT", testKey, o.ID)
	if len(res.Addresses) != 2 ||
		res.Addresses[0] != (providers.WalletAddress{Currency: "USDT", Network: "BSC", Address: addrs["BSC"]}) ||
		res.Addresses[1] != (providers.WalletAddress{Currency: "USDT", Network: "TRON", Address: addrs["TRON"]}) {
		t.Fatalf("addresses %+v", res.Addresses)
	}
	if !strings.HasPrefix(addrs["TRON"], "T") || len(addrs["TRON"]) != 34 || !strings.HasPrefix(addrs["BSC"], "0x") || len(addrs["BSC"]) != 42 {
		t.Fatalf("address shapes %v", addrs)
	}
	if res.Amount.Valid || res.Fee.Valid {
		t.Fatalf("create result states amounts MinPay does not send: %+v", res)
	}
	var env struct {
		Code    int             `json:"code"`
		Success bool            `json:"success"`
		Message *string         `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(res.Raw, &env); err != nil || env.Code != 0 || !env.Success || env.Message != nil ||
		!strings.Contains(string(env.Data), `"orderId":`+o.ID+",") || !strings.Contains(string(env.Data), `"orderBizType":"PAYMENT_FIXED_DIGITAL_SCAN"`) {
		t.Fatalf("raw answer %s", res.Raw)
	}

	// The pay page is a real HTML page under the simulator's base URL.
	resp, err := http.Get(res.CashierURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), `<span id="amount">14.084508</span>`) || !strings.Contains(string(page), addrs["TRON"]) ||
		!strings.Contains(string(page), "100.00 CNY") || !strings.Contains(string(page), `<strong id="status">PENDING</strong>`) {
		t.Fatalf("pay page %d %s", resp.StatusCode, page)
	}
	resp, err = http.Get(e.srv.URL + "/fixed-amount-pay/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown pay page: %d", resp.StatusCode)
	}
}

// TestCreateDepositTRXAndDefaults: the pay currency is the request's, never the
// account's: the retired option user_currency changes nothing, and empty
// optional fields are left out.
func TestCreateDepositTRXAndDefaults(t *testing.T) {
	e := newEnv(t, envOpts{options: map[string]string{"user_currency": "USDT"}})
	res, err := e.ad.CreateDeposit(t.Context(), providers.DepositRequest{OrderNo: "T-TRX", Amount: dec("10"), Currency: "CNY", PayCurrency: "TRX"})
	if err != nil {
		t.Fatal(err)
	}
	req := e.lastRequest(t)
	if req["userCurrency"] != "TRX" || req["quoteAmount"] != json.Number("10.00") {
		t.Fatalf("request %v", req)
	}
	for _, f := range []string{"localUserId", "notifyUrl", "successRedirectUrl"} {
		if _, ok := req[f]; ok {
			t.Errorf("empty optional %s was sent", f)
		}
	}
	o, _ := e.sim.Engine().FindOrder(testKey, "T-TRX")
	if !o.Amount.Equal(dec("4")) || o.Currency != "TRX" { // 10 CNY at 2.5 CNY/TRX
		t.Fatalf("order %+v", o)
	}
	if len(res.Addresses) != 1 || res.Addresses[0].Network != "TRON" || res.Addresses[0].Currency != "TRX" {
		t.Fatalf("addresses %+v", res.Addresses)
	}
}

func TestCreateDepositRefusals(t *testing.T) {
	e := newEnv(t, envOpts{options: map[string]string{"quote_currencies": "CNY,USD"}})
	e.deposit(t, "DUP-1", nil)
	cases := []struct {
		name string
		ad   *Adapter
		req  providers.DepositRequest
		kind error
		code string
	}{
		{"unknown key", newAdapter(t, e.srv.URL, "nokey", testSecret, nil, nil), providers.DepositRequest{OrderNo: "R1", Amount: dec("1"), Currency: "CNY", PayCurrency: "USDT"}, providers.ErrRejected, "10003"},
		{"wrong secret", newAdapter(t, e.srv.URL, testKey, "wrong", nil, nil), providers.DepositRequest{OrderNo: "R2", Amount: dec("1"), Currency: "CNY", PayCurrency: "USDT"}, providers.ErrRejected, "10002"},
		{"duplicate order", e.ad, providers.DepositRequest{OrderNo: "DUP-1", Amount: dec("100.00"), Currency: "CNY", PayCurrency: "USDT"}, providers.ErrRejected, "10004"},
		{"no rate for USD", e.ad, providers.DepositRequest{OrderNo: "R3", Amount: dec("1"), Currency: "USD", PayCurrency: "USDT"}, providers.ErrRejected, "10005"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.ad.CreateDeposit(t.Context(), c.req)
			var pe *providers.Error
			if !errors.Is(err, c.kind) || !errors.As(err, &pe) || pe.Code != c.code || pe.Message == "" {
				t.Fatalf("CreateDeposit = %v, want %v with code %s", err, c.kind, c.code)
			}
			if (c.code == "10004") != errors.Is(err, ErrDuplicateOrder) {
				t.Fatalf("ErrDuplicateOrder wrapping wrong: %v", err)
			}
		})
	}
	if n := len(e.sim.Engine().Orders()); n != 1 {
		t.Fatalf("refused creates made orders: %d", n)
	}
}

// TestSimulatorRequestChecks sends hand-made requests: the simulator answers
// MinPay's envelope with the documented codes and never creates on a refusal.
func TestSimulatorRequestChecks(t *testing.T) {
	e := newEnv(t, envOpts{})
	signed := func(fields map[string]any) string {
		b, err := signedJSON(fields, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	base := func() map[string]any {
		return map[string]any{"key": testKey, "localOrderId": "S-1", "userCurrency": "USDT", "quoteCurrency": "CNY", "quoteAmount": json.Number("5")}
	}
	with := func(k string, v any) map[string]any { m := base(); m[k] = v; return m }
	without := func(k string) map[string]any { m := base(); delete(m, k); return m }
	cases := []struct {
		name, ct, body string
		status, code   int
	}{
		{"wrong media type", "application/x-www-form-urlencoded", "key=x", 415, 415},
		{"not json", "application/json", "{", 200, CodeInvalidParam},
		{"json array", "application/json", "[]", 200, CodeInvalidParam},
		{"no key", "application/json", signed(without("key")), 200, CodeInvalidParam},
		{"unknown key", "application/json", signed(with("key", "other")), 200, CodeUnknownMerchant},
		{"no sign", "application/json", `{"key":"` + testKey + `","localOrderId":"S-1","userCurrency":"USDT","quoteCurrency":"CNY","quoteAmount":5}`, 200, CodeBadSignature},
		{"tampered amount", "application/json", strings.Replace(signed(base()), `"quoteAmount":5`, `"quoteAmount":6`, 1), 200, CodeBadSignature},
		{"missing localOrderId", "application/json", signed(without("localOrderId")), 200, CodeInvalidParam},
		{"three decimals", "application/json", signed(with("quoteAmount", json.Number("5.001"))), 200, CodeInvalidParam},
		{"negative", "application/json", signed(with("quoteAmount", json.Number("-5"))), 200, CodeInvalidParam},
		{"user currency BTC", "application/json", signed(with("userCurrency", "BTC")), 200, CodeCurrencyRejected},
		{"no rate", "application/json", signed(with("quoteCurrency", "EUR")), 200, CodeRateNotSet},
		{"isBlockchain not bool", "application/json", signed(with("isBlockchain", "yes")), 200, CodeInvalidParam},
		{"bad notify url", "application/json", signed(with("notifyUrl", "notify")), 200, CodeInvalidParam},
		{"duplicate names", "application/json", `{"key":"` + testKey + `","key":"x"}`, 200, CodeInvalidParam},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(e.srv.URL+PathCreate, c.ct, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var env struct {
				Code    int     `json:"code"`
				Success bool    `json:"success"`
				Message string  `json:"message"`
				Data    *string `json:"data"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status || env.Code != c.code || env.Success || env.Message == "" || env.Data != nil {
				t.Fatalf("answer %d %+v, want %d code %d", resp.StatusCode, env, c.status, c.code)
			}
		})
	}
	if n := len(e.sim.Engine().Orders()); n != 0 {
		t.Fatalf("refused requests created %d orders", n)
	}
	// The document's own request example sends quoteAmount as a string: accepted.
	resp, err := http.Post(e.srv.URL+PathCreate, "application/json; charset=utf-8", strings.NewReader(signed(with("quoteAmount", "5"))))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"code":0`) || !strings.Contains(string(b), `"localUserId":null`) {
		t.Fatalf("string quoteAmount: %s", b)
	}
	if o, err := e.sim.Engine().FindOrder(testKey, "S-1"); err != nil || !o.Amount.Equal(dec("0.704226")) { // 5/7.1 = 0.70422535... up
		t.Fatalf("order %+v %v", o, err)
	}
	// GET on the create path is not served.
	resp, err = http.Get(e.srv.URL + PathCreate)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET create: %d", resp.StatusCode)
	}
}

// TestEnvelopeReadings feeds the adapter answers the simulator never gives.
func TestEnvelopeReadings(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		kind       error
		orderID    string
	}{
		{"orderId as string, code as string", `{"code":"0","success":true,"message":null,"data":{"orderId":"273719658252612","localOrderId":"O-1","paymentUrl":"https://p.test/x","addresses":{"TRON":"T1","BSC":""}}}`, 200, nil, "273719658252612"},
		{"success omitted", `{"code":0,"data":{"orderId":273719658252612,"localOrderId":"O-1"}}`, 200, nil, "273719658252612"},
		{"code 0 success false", `{"code":0,"success":false,"message":"closed","data":null}`, 200, providers.ErrRejected, ""},
		{"unknown code", `{"code":99999,"success":false,"message":"merchant frozen","data":null}`, 200, providers.ErrRejected, ""},
		{"parameter code", `{"code":10001,"success":false,"message":"quoteAmount required","data":null}`, 200, providers.ErrInvalidRequest, ""},
		{"unreadable 200", `<html>gateway</html>`, 200, providers.ErrAmbiguous, ""},
		{"no orderId", `{"code":0,"success":true,"data":{}}`, 200, providers.ErrAmbiguous, ""},
		{"another order", `{"code":0,"success":true,"data":{"orderId":1,"localOrderId":"O-2"}}`, 200, providers.ErrAmbiguous, ""},
		{"404", `{"timestamp":1,"status":404,"error":"Not Found"}`, 404, providers.ErrInvalidRequest, ""},
		{"503", `busy`, 503, providers.ErrAmbiguous, ""},
		{"429", `slow down`, 429, providers.ErrTransient, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body)
			}))
			defer srv.Close()
			a := newAdapter(t, srv.URL, "k", "s", nil, nil)
			res, err := a.CreateDeposit(t.Context(), providers.DepositRequest{OrderNo: "O-1", Amount: dec("1"), Currency: "CNY", PayCurrency: "USDT"})
			if c.kind == nil {
				if err != nil || res.ProviderOrderID != c.orderID {
					t.Fatalf("= %+v, %v", res, err)
				}
				for _, a := range res.Addresses {
					if a.Address == "" {
						t.Fatalf("empty address kept: %+v", res.Addresses)
					}
				}
				return
			}
			if !errors.Is(err, c.kind) || providers.KindOf(err) != c.kind {
				t.Fatalf("= %v, want %v", err, c.kind)
			}
		})
	}
}

func TestCreateFaults(t *testing.T) {
	t.Run("5xx is ambiguous", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		if err := e.sim.Engine().AddEndpointFault(sim.EndpointFault{Path: PathCreate, Mode: sim.ModeError5xx, Count: 1}); err != nil {
			t.Fatal(err)
		}
		_, err := e.ad.CreateDeposit(t.Context(), providers.DepositRequest{OrderNo: "F-1", Amount: dec("100"), Currency: "CNY", PayCurrency: "USDT"})
		var pe *providers.Error
		if !errors.Is(err, providers.ErrAmbiguous) || !errors.As(err, &pe) || pe.Code != "500" {
			t.Fatalf("= %v, want ErrAmbiguous code 500", err)
		}
		// 5xx did not act: sending it again creates the order.
		e.deposit(t, "F-1", nil)
	})
	t.Run("timeout is ambiguous, the order exists", func(t *testing.T) {
		e := newEnv(t, envOpts{client: &http.Client{Timeout: 300 * time.Millisecond}})
		e.ctl(t, "POST", "/faults", `{"path":"`+PathCreate+`","mode":"timeout","count":1}`)
		_, err := e.ad.CreateDeposit(t.Context(), providers.DepositRequest{OrderNo: "F-2", Amount: dec("100"), Currency: "CNY", PayCurrency: "USDT"})
		if !errors.Is(err, providers.ErrAmbiguous) {
			t.Fatalf("= %v, want ErrAmbiguous", err)
		}
		// No order query at VPay: sending it again is how to learn; the
		// duplicate refusal proves the first attempt created it.
		if _, err := e.ad.QueryOrder(t.Context(), providers.OrderQuery{OrderNo: "F-2"}); !errors.Is(err, providers.ErrUnsupported) {
			t.Fatalf("QueryOrder = %v", err)
		}
		_, err = e.ad.CreateDeposit(t.Context(), providers.DepositRequest{OrderNo: "F-2", Amount: dec("100"), Currency: "CNY", PayCurrency: "USDT"})
		if !errors.Is(err, ErrDuplicateOrder) || !errors.Is(err, providers.ErrRejected) {
			t.Fatalf("re-create = %v, want ErrDuplicateOrder", err)
		}
		o, err := e.sim.Engine().FindOrder(testKey, "F-2")
		if err != nil || o.Status != providers.StatusPending || !o.Amount.Equal(dec("14.084508")) {
			t.Fatalf("order %+v %v", o, err)
		}
	})
	t.Run("hang is ambiguous, nothing created", func(t *testing.T) {
		e := newEnv(t, envOpts{client: &http.Client{Timeout: 300 * time.Millisecond}})
		e.ctl(t, "POST", "/faults", `{"path":"`+PathCreate+`","mode":"hang","count":1}`)
		_, err := e.ad.CreateDeposit(t.Context(), providers.DepositRequest{OrderNo: "F-3", Amount: dec("100"), Currency: "CNY", PayCurrency: "USDT"})
		if !errors.Is(err, providers.ErrAmbiguous) {
			t.Fatalf("= %v, want ErrAmbiguous", err)
		}
		e.deposit(t, "F-3", nil) // not created the first time: creating again succeeds
	})
	t.Run("connection refused is transient", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		a := newAdapter(t, "http://"+addr, testKey, testSecret, nil, nil)
		_, err = a.CreateDeposit(t.Context(), providers.DepositRequest{OrderNo: "F-4", Amount: dec("1"), Currency: "CNY", PayCurrency: "USDT"})
		if !errors.Is(err, providers.ErrTransient) {
			t.Fatalf("= %v, want ErrTransient", err)
		}
	})
	t.Run("pay page 5xx", func(t *testing.T) {
		e := newEnv(t, envOpts{})
		res := e.deposit(t, "F-5", nil)
		e.ctl(t, "POST", "/faults", `{"path":"/fixed-amount-pay/","mode":"error_5xx","count":1}`)
		resp, err := http.Get(res.CashierURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 500 {
			t.Fatalf("pay page under fault: %d", resp.StatusCode)
		}
	})
}

// TestSimulatorCreateFieldTable walks section 6.3.2's request table: a
// required field ("是") left out is refused with 10001, an optional one ("否")
// left out is accepted, and localOrderId, for which the document gives no
// length, is accepted long and echoed exactly.
func TestSimulatorCreateFieldTable(t *testing.T) {
	e := newEnv(t, envOpts{})
	n := 0
	full := func() map[string]any {
		n++
		return map[string]any{
			"key": testKey, "localOrderId": fmt.Sprintf("FT-%d", n), "localUserId": "55", "notifyUrl": "http://127.0.0.1:1/cb",
			"successRedirectUrl": "http://127.0.0.1:1/done", "userCurrency": "USDT", "quoteCurrency": "CNY",
			"quoteAmount": json.Number("5"), "isBlockchain": true,
		}
	}
	post := func(t *testing.T, fields map[string]any) (code int, data map[string]any) {
		t.Helper()
		b, err := signedJSON(fields, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(e.srv.URL+PathCreate, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env struct {
			Code int            `json:"code"`
			Data map[string]any `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		return env.Code, env.Data
	}
	cases := []struct {
		omit string
		want int
	}{
		{"key", CodeInvalidParam},
		{"localOrderId", CodeInvalidParam},
		{"localUserId", CodeOK},
		{"notifyUrl", CodeOK},
		{"successRedirectUrl", CodeOK},
		{"userCurrency", CodeInvalidParam},
		{"quoteCurrency", CodeInvalidParam},
		{"quoteAmount", CodeInvalidParam},
		{"isBlockchain", CodeOK},
	}
	for _, c := range cases {
		t.Run("without "+c.omit, func(t *testing.T) {
			f := full()
			delete(f, c.omit)
			if code, _ := post(t, f); code != c.want {
				t.Fatalf("code %d, want %d", code, c.want)
			}
		})
		t.Run("blank "+c.omit, func(t *testing.T) {
			if c.omit == "isBlockchain" {
				return // a boolean, never blank
			}
			f := full()
			f[c.omit] = " "
			want := c.want
			if c.omit == "notifyUrl" || c.omit == "successRedirectUrl" || c.omit == "localUserId" {
				want = CodeOK // blank optional fields are as good as absent
			}
			if code, _ := post(t, f); code != want {
				t.Fatalf("code %d, want %d", code, want)
			}
		})
	}
	for _, no := range []string{strings.Repeat("9", 65), strings.Repeat("长", 100), " padded "} {
		f := full()
		f["localOrderId"] = no
		code, data := post(t, f)
		if code != CodeOK || data["localOrderId"] != no {
			t.Fatalf("localOrderId %q: code %d data %v", no, code, data)
		}
		if o, err := e.sim.Engine().FindOrder(testKey, no); err != nil || o.OrderNo != no {
			t.Fatalf("order for %q: %+v %v", no, o, err)
		}
	}
}

// TestSimulatorStringFieldsAsNumbers: the SDK's request vector carries
// localOrderId and localUserId as numbers; the simulator takes them as text.
func TestSimulatorStringFieldsAsNumbers(t *testing.T) {
	e := newEnv(t, envOpts{})
	b, err := signedJSON(map[string]any{
		"key": testKey, "localOrderId": json.Number("1700000000"), "localUserId": json.Number("55"),
		"userCurrency": "USDT", "quoteCurrency": "CNY", "quoteAmount": json.Number("100.00"), "isBlockchain": true,
	}, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.srv.URL+PathCreate, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"code":0`) || !strings.Contains(string(body), `"localOrderId":"1700000000"`) {
		t.Fatalf("numeric ids: %s", body)
	}
	if o, err := e.sim.Engine().FindOrder(testKey, "1700000000"); err != nil || o.UserID != "55" {
		t.Fatalf("order %+v %v", o, err)
	}
}
