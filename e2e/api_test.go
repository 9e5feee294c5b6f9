package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tallyhq/tally/client"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/tallytest"
)

func countOrders(t *testing.T, e *tallytest.Env) int {
	t.Helper()
	var n int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAPIRefusesBadInputAndStoresNothing(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true})
	payer := `"payer":{"name":"A","tax_id":"1","email":"a@b.c","phone":"1"}`
	tests := []struct {
		name, path, body string
		headers          []string
		status           int
		code             string
	}{
		{"unknown provider account", "/v1/deposits", `{"provider_account":"nope","customer_id":"c","amount":"1","currency":"BRL"}`, nil, 422, "unknown_provider_account"},
		{"too many decimals", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"c","amount":"1.001","currency":"BRL",` + payer + `}`, nil, 400, "invalid_amount"},
		{"negative amount", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"c","amount":"-5","currency":"BRL",` + payer + `}`, nil, 400, "invalid_amount"},
		{"zero amount", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"c","amount":"0","currency":"BRL",` + payer + `}`, nil, 400, "invalid_amount"},
		{"currency the provider does not take", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"c","amount":"5","currency":"USDT",` + payer + `}`, nil, 422, "unsupported_currency"},
		{"unknown currency", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"c","amount":"5","currency":"XYZ"}`, nil, 422, "unsupported_currency"},
		{"USDTCNPAY amount not a multiple of 100", "/v1/deposits", `{"provider_account":"usdtcnpay-main","customer_id":"c","amount":"150","currency":"CNY"}`, nil, 400, "invalid_amount"},
		{"USDTCNPAY payout not a multiple of 100", "/v1/payouts", `{"provider_account":"usdtcnpay-main","customer_id":"c","amount":"250","currency":"CNY","beneficiary":{"name":"x","account":"1","category":"1"}}`, nil, 400, "invalid_amount"},
		{"deposit-only provider asked for a payout", "/v1/payouts", `{"provider_account":"vpay-main","customer_id":"c","amount":"5","currency":"CNY"}`, nil, 422, "unsupported_operation"},
		{"malformed JSON", "/v1/deposits", `{"provider_account":`, nil, 400, "malformed_json"},
		{"unknown field", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"c","amount":"5","currency":"BRL","colour":"red"}`, nil, 400, "unknown_field"},
		{"amount not a string", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"c","amount":true,"currency":"BRL"}`, nil, 400, "invalid_amount"},
		{"missing amount", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"c","currency":"BRL"}`, nil, 400, "missing_field"},
		{"bad customer id", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"a b:c","amount":"5","currency":"BRL"}`, nil, 422, "invalid_customer_id"},
		{"payer on a payout", "/v1/payouts", `{"provider_account":"cxpay-main","customer_id":"c","amount":"5","currency":"BRL","payer":{}}`, nil, 400, "unknown_field"},
		{"oversized body", "/v1/deposits", `{"provider_account":"cxpay-main","extra":{"x":"` + strings.Repeat("a", 70000) + `"}}`, nil, 413, "body_too_large"},
		{"trailing data", "/v1/deposits", `{"provider_account":"cxpay-main"} {}`, nil, 400, "malformed_json"},
		{"wrong content type", "/v1/deposits", `provider_account=cxpay-main`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
		{"missing idempotency key", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"c","amount":"5","currency":"BRL",` + payer + `}`, []string{"Idempotency-Key", ""}, 400, "missing_idempotency_key"},
		{"bad wait", "/v1/deposits?wait=forever", `{"provider_account":"cxpay-main","customer_id":"c","amount":"5","currency":"BRL",` + payer + `}`, nil, 400, "invalid_wait"},
		{"payout over the balance", "/v1/payouts", `{"provider_account":"cxpay-main","customer_id":"broke","amount":"5.00","currency":"BRL","beneficiary":{"name":"x","account":"1","account_type":"CPF","tax_id":"1","email":"a@b.c","phone":"1"}}`, nil, 422, "insufficient_funds"},
	}
	for i, tc := range tests {
		headers := append([]string{"Idempotency-Key", fmt.Sprintf("bad-%d", i)}, tc.headers...)
		r := e.API("POST", tc.path, tc.body, headers...)
		if r.Status != tc.status || !strings.Contains(string(r.Body), `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
	if n := countOrders(t, e); n != 0 {
		t.Fatalf("%d orders stored by refused requests", n)
	}
	for _, tc := range []struct{ auth string }{{""}, {"Bearer "}, {"Bearer tly_nope_nope"}, {"Basic abc"}} {
		req, _ := http.NewRequest("GET", e.URL+"/v1/orders", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d, want 401", tc.auth, resp.StatusCode)
		}
	}
}

// The Idempotency-Key replays the first answer and refuses another body, under
// concurrency too, and the merchant order number is unique: driven through the
// generated client, the refusals read as the document's typed error body.
func TestIdempotency(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true})
	deposit := func(api *client.ClientWithResponses, key, customer, amount string, orderNo *string) (*client.CreateDepositResponse, error) {
		return api.CreateDepositWithResponse(context.Background(), &client.CreateDepositParams{IdempotencyKey: key},
			client.DepositRequest{ProviderAccount: "cpay-main", CustomerID: customer, Amount: amount, Currency: "USDT", MerchantOrderNo: orderNo})
	}
	api := e.Client()
	first, err := deposit(api, "same", "c1", "12.5", nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := deposit(api, "same", "c1", "12.5", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.JSON201 == nil || again.JSON200 == nil || first.JSON201.ID != again.JSON200.ID || again.HTTPResponse.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: HTTP %d %s, then HTTP %d %s", first.StatusCode(), first.Body, again.StatusCode(), again.Body)
	}
	other, err := deposit(api, "same", "c1", "13", nil)
	if err != nil {
		t.Fatal(err)
	}
	if other.JSON409 == nil || other.JSON409.Error.Code != "idempotency_conflict" || other.JSON409.Error.RequestID == nil ||
		*other.JSON409.Error.RequestID != other.HTTPResponse.Header.Get("X-Request-Id") || *other.JSON409.Error.RequestID == "" {
		t.Fatalf("same key, other body: HTTP %d %s, want 409 idempotency_conflict with the request id", other.StatusCode(), other.Body)
	}
	// Twenty concurrent requests with one key create one order.
	var wg sync.WaitGroup
	ids := make(chan int64, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := deposit(api, "race", "c2", "12.5", nil)
			switch {
			case err != nil:
				t.Errorf("concurrent create: %v", err)
			case r.JSON201 != nil:
				ids <- r.JSON201.ID
			case r.JSON200 != nil:
				ids <- r.JSON200.ID
			default:
				t.Errorf("concurrent create: HTTP %d %s", r.StatusCode(), r.Body)
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 || countOrders(t, e) != 2 {
		t.Fatalf("concurrent creates made %d distinct orders (%d stored), want 1 (2 in all)", len(seen), countOrders(t, e))
	}
	// The merchant order number is unique too.
	r1, err := deposit(api, "m1", "c1", "1", new("M-1"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := deposit(api, "m2", "c1", "2", new("M-1"))
	if err != nil {
		t.Fatal(err)
	}
	if r1.JSON201 == nil || r2.JSON409 == nil || r2.JSON409.Error.Code != "duplicate_merchant_order_no" {
		t.Fatalf("duplicate merchant order no: HTTP %d, HTTP %d %s", r1.StatusCode(), r2.StatusCode(), r2.Body)
	}
	// A key without orders:write creates nothing, whatever its Idempotency-Key.
	reader := e.Client(e.NewAPIKey("reader", merchants.OrdersRead))
	r3, err := deposit(reader, "same", "c1", "12.5", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r3.JSON403 == nil || r3.JSON403.Error.Code != "insufficient_scope" || countOrders(t, e) != 3 {
		t.Fatalf("a read-only key: HTTP %d %s, %d orders stored, want 403 insufficient_scope and 3", r3.StatusCode(), r3.Body, countOrders(t, e))
	}
}

// PATCH /v1/provider-accounts/{name} changes only what it is sent, never shows
// the secret, and cannot touch another merchant's account.
func TestProviderAccountPatch(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true})
	ctx := context.Background()
	before, err := e.Merchants.ProviderAccount(ctx, e.Merchant.ID, "cxpay-main")
	if err != nil {
		t.Fatal(err)
	}
	r := e.API("PATCH", "/v1/provider-accounts/cxpay-main", `{"amount_policy":"credit_received","secret":"a-new-secret-4242","deposit_lifetime":"2h","enabled":false}`)
	if r.Status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	if strings.Contains(string(r.Body), "a-new-secret-4242") || strings.Contains(string(r.Body), `"secret"`) {
		t.Fatalf("the answer shows the secret: %s", r.Body)
	}
	var v map[string]any
	r.JSON(t, &v)
	if v["amount_policy"] != "credit_received" || v["deposit_lifetime"] != "2h0m0s" || v["enabled"] != false || v["base_url"] != before.BaseURL {
		t.Fatalf("PATCH answer = %v", v)
	}
	after, err := e.Merchants.ProviderAccount(ctx, e.Merchant.ID, "cxpay-main")
	if err != nil {
		t.Fatal(err)
	}
	if after.Secret.Reveal() != "a-new-secret-4242" || after.ProviderMerchantID != before.ProviderMerchantID || after.Options["pay_code"] != "PIX" {
		t.Fatalf("stored after PATCH: merchant id %s options %v, secret replaced %v", after.ProviderMerchantID, after.Options, after.Secret.Reveal() == "a-new-secret-4242")
	}
	if r := e.API("GET", "/v1/provider-accounts", nil); strings.Contains(string(r.Body), "a-new-secret-4242") || strings.Contains(string(r.Body), before.Secret.Reveal()) {
		t.Fatalf("the list shows a secret: %s", r.Body)
	}
	// Another merchant's account is not found; bad input changes nothing.
	other, _, err := e.Merchants.CreateMerchant(ctx, "other", "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Merchants.AddProviderAccount(ctx, merchants.ProviderAccountInput{MerchantCode: "other", Name: "other-cpay", Provider: "cpay",
		BaseURL: e.SandboxURL + "/cpay", ProviderMerchantID: "1", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"/v1/provider-accounts/other-cpay", `{"enabled":false}`, 404, "not_found"},
		{"/v1/provider-accounts/nope", `{"enabled":false}`, 404, "not_found"},
		{"/v1/provider-accounts/cxpay-main", `{"name":"renamed"}`, 400, "unknown_field"},
		{"/v1/provider-accounts/cxpay-main", `{"provider":"cpay"}`, 400, "unknown_field"},
		{"/v1/provider-accounts/cxpay-main", `{"amount_policy":"keep_it","enabled":true}`, 422, "invalid_provider_account"},
		{"/v1/provider-accounts/cxpay-main", `{"base_url":"ftp://x","enabled":true}`, 422, "invalid_provider_account"},
		{"/v1/provider-accounts/cxpay-main", `{"deposit_lifetime":"soon"}`, 400, "invalid_field"},
		{"/v1/provider-accounts/cxpay-main", `{"deposit_lifetime":"-1h"}`, 422, "invalid_provider_account"},
		{"/v1/provider-accounts/cxpay-main", `{"options":{"pay_code":"PIX","currency":"XYZ"},"enabled":true}`, 422, "unsupported_currency"},
	} {
		r := e.API("PATCH", tc.path, tc.body)
		if r.Status != tc.status || !strings.Contains(string(r.Body), `"code":"`+tc.code+`"`) {
			t.Errorf("PATCH %s %s: %d %s, want %d %s", tc.path, tc.body, r.Status, r.Body, tc.status, tc.code)
		}
	}
	// A new account must be in a currency the ledger can book (CXPay's INR is
	// seeded; XYZ is not).
	account := func(name, cur string) string {
		return `{"name":"` + name + `","provider":"cxpay","base_url":"` + e.SandboxURL + `/cxpay","provider_merchant_id":"M1",` +
			`"secret":"s3cret","options":{"pay_code":"UPI","currency":"` + cur + `"}}`
	}
	if r := e.API("POST", "/v1/provider-accounts", account("cx-inr", "INR")); r.Status != http.StatusCreated {
		t.Errorf("POST an INR account: %d %s", r.Status, r.Body)
	}
	if r := e.API("POST", "/v1/provider-accounts", account("cx-xyz", "XYZ")); r.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(string(r.Body), `"code":"unsupported_currency"`) || !strings.Contains(string(r.Body), "cannot book") {
		t.Errorf("POST an XYZ account: %d %s", r.Status, r.Body)
	}
	if o, err := e.Merchants.ProviderAccount(ctx, other.ID, "other-cpay"); err != nil || !o.Enabled {
		t.Fatalf("another merchant's account: %+v, %v", o, err)
	}
	if now, err := e.Merchants.ProviderAccount(ctx, e.Merchant.ID, "cxpay-main"); err != nil || now.Enabled || now.BaseURL != before.BaseURL || now.AmountPolicy != merchants.CreditReceived {
		t.Fatalf("a refused PATCH changed the account: %+v, %v", now, err)
	}
}
