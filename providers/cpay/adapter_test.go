package cpay

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tallyhq/tally/providers"
)

// countingServer counts the requests that reach it: validation refusals must
// make none.
func countingServer(t *testing.T) (*Adapter, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "unexpected call", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	return testAdapter(t, srv.URL), &n
}

func TestNewRequiresConfig(t *testing.T) {
	for _, cfg := range []providers.Config{
		{MerchantID: "1", Secret: "s"},
		{BaseURL: "https://api.cpay.ltd", Secret: "s"},
		{BaseURL: "https://api.cpay.ltd", MerchantID: "1"},
		{BaseURL: "api.cpay.ltd", MerchantID: "1", Secret: "s"},
		{BaseURL: "ftp://api.cpay.ltd", MerchantID: "1", Secret: "s"},
	} {
		if _, err := New(cfg); !errors.Is(err, providers.ErrInvalidRequest) {
			t.Errorf("New(%+v) = %v, want invalid", cfg, err)
		}
	}
	a, err := New(providers.Config{BaseURL: "https://api.cpay.ltd/", MerchantID: "1", Secret: "s"})
	if err != nil || a.Provider() != "cpay" {
		t.Fatalf("New = %v, %v", a, err)
	}
	c := a.Capabilities()
	if !c.Deposit || !c.Payout || !c.QueryOrder || !c.QueryBalance || !c.SignedCallbacks || !c.PayPage || !c.WalletAddress || c.QuotedDeposits || c.AmountDecimals != 8 {
		t.Fatalf("capabilities = %+v", c)
	}
	if strings.Join(c.DepositCurrencies, ",") != "BNB,BRL,BTC,ETH,EUR,TRX,USD,USDT" || strings.Join(c.PayoutCurrencies, ",") != "BNB,BRL,BTC,ETH,EUR,TRX,USD,USDT" {
		t.Fatalf("currencies = %v / %v", c.DepositCurrencies, c.PayoutCurrencies)
	}
}

func TestValidationRefusals(t *testing.T) {
	a, calls := countingServer(t)
	ctx := context.Background()
	card := func(f func(*providers.DepositRequest)) providers.DepositRequest {
		r := providers.DepositRequest{OrderNo: "C1", Amount: dec("19.01"), Currency: "USD", CustomerID: "u1", Method: MethodCreditCard,
			Payer: providers.Party{Email: "p@example.com", Country: "US"}, Extra: map[string]string{ExtraIP: "203.0.113.7"}}
		f(&r)
		return r
	}
	cashier := func(f func(*providers.DepositRequest)) providers.DepositRequest {
		r := providers.DepositRequest{OrderNo: "D1", Amount: dec("66.12345678"), Currency: "USDT", CustomerID: "u1"}
		f(&r)
		return r
	}
	deposits := []struct {
		name string
		req  providers.DepositRequest
		msg  string
	}{
		{"unknown method", cashier(func(r *providers.DepositRequest) { r.Method = "paypal" }), "unknown deposit method"},
		{"another pay currency", cashier(func(r *providers.DepositRequest) { r.PayCurrency = "BTC" }), "settles the deposit in its currency"},
		{"card paid in crypto", card(func(r *providers.DepositRequest) { r.PayCurrency = "USDT" }), "settles the deposit in its currency"},
		{"no order no", cashier(func(r *providers.DepositRequest) { r.OrderNo = "" }), "OrderNo"},
		{"order no too long", cashier(func(r *providers.DepositRequest) { r.OrderNo = strings.Repeat("1", 65) }), "longer than 64"},
		{"no user", cashier(func(r *providers.DepositRequest) { r.CustomerID = " " }), "CustomerID"},
		{"fiat on the cashier", cashier(func(r *providers.DepositRequest) { r.Currency = "USD" }), "not accepted"},
		{"TRX on the cashier", cashier(func(r *providers.DepositRequest) { r.Currency = "TRX" }), "not accepted"},
		{"zero", cashier(func(r *providers.DepositRequest) { r.Amount = dec("0") }), "positive"},
		{"negative", cashier(func(r *providers.DepositRequest) { r.Amount = dec("-1") }), "positive"},
		{"nine decimals", cashier(func(r *providers.DepositRequest) { r.Amount = dec("1.123456789") }), "more than 8 decimals"},
		{"callback URL too long", cashier(func(r *providers.DepositRequest) { r.NotifyURL = "https://x/" + strings.Repeat("a", 250) }), "URL longer"},
		{"card with three decimals", card(func(r *providers.DepositRequest) { r.Amount = dec("19.011") }), "more than 2 decimals"},
		{"card in crypto", card(func(r *providers.DepositRequest) { r.Currency = "USDT" }), "not accepted"},
		{"card without email", card(func(r *providers.DepositRequest) { r.Payer.Email = "" }), "Payer.Email"},
		{"card without ip", card(func(r *providers.DepositRequest) { r.Extra = nil }), "Extra[ip]"},
		{"card with bad products", card(func(r *providers.DepositRequest) { r.Extra[ExtraProducts] = "[{" }), "products"},
		{"wallet without user", providers.DepositRequest{Method: MethodWallet}, "CustomerID"},
		{"wallet in DOGE", providers.DepositRequest{Method: MethodWallet, CustomerID: "u1", Currency: "DOGE"}, "not accepted"},
	}
	for _, tc := range deposits {
		if err := a.ValidateDeposit(tc.req); !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: ValidateDeposit = %v, want invalid mentioning %q", tc.name, err, tc.msg)
		}
		if _, err := a.CreateDeposit(ctx, tc.req); !errors.Is(err, providers.ErrInvalidRequest) {
			t.Errorf("%s: CreateDeposit = %v", tc.name, err)
		}
	}

	tron := providers.Party{Network: NetworkTRON, Account: "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}
	crypto := func(f func(*providers.PayoutRequest)) providers.PayoutRequest {
		r := providers.PayoutRequest{OrderNo: "W1", Amount: dec("10"), Currency: "USDT", CustomerID: "u1", Beneficiary: tron}
		f(&r)
		return r
	}
	pix := func(f func(*providers.PayoutRequest)) providers.PayoutRequest {
		r := providers.PayoutRequest{OrderNo: "F1", Amount: dec("5.25"), Currency: "BRL", CustomerID: "u1", Beneficiary: providers.Party{AccountType: "3", Account: "+5511999999999"}}
		f(&r)
		return r
	}
	payouts := []struct {
		name string
		req  providers.PayoutRequest
		msg  string
	}{
		{"crypto with a method", crypto(func(r *providers.PayoutRequest) { r.Method = MethodPix }), "no method"},
		{"no network", crypto(func(r *providers.PayoutRequest) { r.Beneficiary.Network = "" }), "Beneficiary.Network"},
		{"unknown network", crypto(func(r *providers.PayoutRequest) { r.Beneficiary.Network = "Solana" }), "unknown network"},
		{"BTC on TRON", crypto(func(r *providers.PayoutRequest) { r.Currency = "BTC" }), "does not travel on"},
		{"no address", crypto(func(r *providers.PayoutRequest) { r.Beneficiary.Account = "" }), "toAddress"},
		{"address too long", crypto(func(r *providers.PayoutRequest) { r.Beneficiary.Account = strings.Repeat("T", 129) }), "longer than 128"},
		{"nine decimals", crypto(func(r *providers.PayoutRequest) { r.Amount = dec("0.000000001") }), "more than 8 decimals"},
		{"total below received", crypto(func(r *providers.PayoutRequest) { r.Extra = map[string]string{ExtraTotalAmount: "9.99"} }), "less than"},
		{"malformed total", crypto(func(r *providers.PayoutRequest) { r.Extra = map[string]string{ExtraTotalAmount: "1e3"} }), "totalAmount"},
		{"no user", crypto(func(r *providers.PayoutRequest) { r.CustomerID = "" }), "CustomerID"},
		{"unknown currency", pix(func(r *providers.PayoutRequest) { r.Currency = "XYZ" }), "not accepted"},
		{"Pix in USD", pix(func(r *providers.PayoutRequest) { r.Currency = "USD"; r.Method = MethodPix }), "in BRL"},
		{"USD without a channel", pix(func(r *providers.PayoutRequest) { r.Currency = "USD" }), "needs method"},
		{"unknown channel", pix(func(r *providers.PayoutRequest) { r.Method = "ted" }), "unknown payout method"},
		{"Pix account type 5", pix(func(r *providers.PayoutRequest) { r.Beneficiary.AccountType = "5" }), "accountType"},
		{"Pix outside Brazil", pix(func(r *providers.PayoutRequest) { r.Beneficiary.Country = "ARG" }), "BRA"},
		{"Pix without key", pix(func(r *providers.PayoutRequest) { r.Beneficiary.Account = "" }), "toAccount"},
		{"fiat with three decimals", pix(func(r *providers.PayoutRequest) { r.Amount = dec("5.255") }), "more than 2 decimals"},
		{"bank card without country", pix(func(r *providers.PayoutRequest) { r.Method = MethodBankCard; r.Currency = "EUR" }), "Beneficiary.Country"},
	}
	for _, tc := range payouts {
		if err := a.ValidatePayout(tc.req); !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: ValidatePayout = %v, want invalid mentioning %q", tc.name, err, tc.msg)
		}
		if _, err := a.CreatePayout(ctx, tc.req); !errors.Is(err, providers.ErrInvalidRequest) {
			t.Errorf("%s: CreatePayout = %v", tc.name, err)
		}
	}

	others := []struct {
		name string
		call func() error
	}{
		{"rate without source", func() error { _, err := a.ExchangeRate(ctx, RateQuery{Target: "BTC", Amount: dec("1")}); return err }},
		{"rate purchase type 2", func() error {
			_, err := a.ExchangeRate(ctx, RateQuery{Source: "USDT", Target: "BTC", PurchaseType: 2, Amount: dec("1")})
			return err
		}},
		{"card rate of zero", func() error {
			_, err := a.ExchangeRateForCreditCard(ctx, RateQuery{Source: "USD", Target: "ETH", Amount: dec("0")})
			return err
		}},
		{"exchange to itself", func() error {
			_, err := a.Exchange(ctx, ExchangeRequest{OrderNo: "X1", UserID: "u1", Source: "USDT", Target: "USDT", SourceAmount: dec("1")})
			return err
		}},
		{"exchange of nine decimals", func() error {
			_, err := a.Exchange(ctx, ExchangeRequest{OrderNo: "X1", UserID: "u1", Source: "USDT", Target: "BTC", SourceAmount: dec("0.000000001")})
			return err
		}},
		{"exchange without order no", func() error {
			_, err := a.Exchange(ctx, ExchangeRequest{UserID: "u1", Source: "USDT", Target: "BTC", SourceAmount: dec("1")})
			return err
		}},
		{"addresses without user", func() error { _, err := a.WalletAddresses(ctx, ""); return err }},
	}
	for _, tc := range others {
		if err := tc.call(); !errors.Is(err, providers.ErrInvalidRequest) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("refused requests made %d calls", n)
	}

	// What C-Pay takes passes.
	for _, r := range []providers.DepositRequest{cashier(func(*providers.DepositRequest) {}), card(func(*providers.DepositRequest) {}),
		{Method: MethodWallet, CustomerID: "u1"}} {
		if err := a.ValidateDeposit(r); err != nil {
			t.Errorf("ValidateDeposit(%+v) = %v", r, err)
		}
	}
	for _, r := range []providers.PayoutRequest{crypto(func(*providers.PayoutRequest) {}), pix(func(*providers.PayoutRequest) {}),
		crypto(func(r *providers.PayoutRequest) {
			r.Currency = "BTC"
			r.Beneficiary.Network = NetworkBitcoin
			r.Amount = dec("0.00000001")
		}),
		pix(func(r *providers.PayoutRequest) {
			r.Method = MethodBankCard
			r.Currency = "EUR"
			r.Beneficiary.Country = "DEU"
		})} {
		if err := a.ValidatePayout(r); err != nil {
			t.Errorf("ValidatePayout(%+v) = %v", r, err)
		}
	}
}

// Answers that are not C-Pay's envelope, or refusals with other codes.
func TestAnswerClassification(t *testing.T) {
	var body string
	var status int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	a := testAdapter(t, srv.URL)
	ctx := context.Background()
	create := func() error {
		_, err := a.CreateDeposit(ctx, providers.DepositRequest{OrderNo: "D1", Amount: dec("1"), Currency: "USDT", CustomerID: "u1"})
		return err
	}
	query := func() error { _, err := a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1"}); return err }
	for _, tc := range []struct {
		name   string
		status int
		body   string
		call   func() error
		kind   error
		code   string
	}{
		{"pay fail", 200, `{"code":90751015,"msg":"pay fail","data":{"orderId":""},"traceid":"x"}`, create, providers.ErrRejected, "90751015"},
		{"code as string", 200, `{"code":"1","msg":"fail","data":null}`, create, providers.ErrRejected, "1"},
		{"invalid param", 200, `{"code":1,"msg":"invalid param amount"}`, create, providers.ErrInvalidRequest, "1"},
		{"HTML on a create", 200, `<html>gateway</html>`, create, providers.ErrAmbiguous, ""},
		{"HTML on a query", 200, `<html>gateway</html>`, query, providers.ErrTransient, ""},
		{"success without an order id", 200, `{"code":0,"msg":"success","data":{"cashierURL":"x"}}`, create, providers.ErrAmbiguous, ""},
		{"success with an unknown status", 200, `{"code":0,"msg":"success","data":{"orderId":"1","status":"7"}}`, create, providers.ErrAmbiguous, ""},
		{"query success without data", 200, `{"code":0,"msg":"success","data":null}`, query, providers.ErrNotFound, ""},
		{"merchant not exist is no order not found", 200, `{"code":1,"msg":"merchant not exist"}`, query, providers.ErrRejected, "1"},
		{"404", 404, `{"status":404,"error":"Not Found"}`, query, providers.ErrInvalidRequest, "HTTP 404"},
		{"403", 403, `forbidden`, query, providers.ErrRejected, "HTTP 403"},
		{"502 on a query", 502, `bad gateway`, query, providers.ErrTransient, "502"},
		{"502 on a create", 502, `bad gateway`, create, providers.ErrAmbiguous, "502"},
		{"429", 429, `slow down`, create, providers.ErrTransient, "429"},
	} {
		status, body = tc.status, tc.body
		err := tc.call()
		var pe *providers.Error
		if !errors.Is(err, tc.kind) || providers.KindOf(err) != tc.kind || !errors.As(err, &pe) || pe.Code != tc.code {
			t.Errorf("%s: %v, want %v code %q", tc.name, err, tc.kind, tc.code)
		}
	}
	status, body = 200, `{"code":0,"msg":"success","data":{"orderId":"9","status":"14","actualAmount":10.5,"receivedAmount":"10","fee":"0.5","createTime":1663155010000,"merchantId":20003092,"currency":"USDT"}}`
	ev, err := a.QueryOrder(ctx, providers.OrderQuery{OrderNo: "D1"})
	if err != nil || ev.Status != providers.StatusSucceeded || !ev.Paid.Decimal.Equal(dec("10.5")) || ev.OccurredAt.UnixMilli() != 1663155010000 {
		t.Fatalf("numbers in order detail: %+v, %v", ev, err)
	}
}

func TestRetryScheduleIsTenTries(t *testing.T) {
	want := []string{"10s", "30s", "1m0s", "2m0s", "5m0s", "10m0s", "30m0s", "1h0m0s", "2h0m0s"}
	got := protocol{}.Schedule()
	if len(got) != len(want) {
		t.Fatalf("schedule = %v", got)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("schedule = %v, want %v", got, want)
		}
	}
	if (protocol{}).Ack() != Ack {
		t.Fatal("ack")
	}
}
