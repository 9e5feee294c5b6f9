package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// apiError is the merchant API's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// refusal is one request the API must refuse, and how.
type refusal struct {
	name, method, path, body string
	status                   int
	code, field              string
	msg                      string // part of the message, when set
}

// checkRefusals sends each request and asserts the exact status, code and
// field of its refusal.
func checkRefusals(t *testing.T, e *tallytest.Env, tests []refusal) {
	t.Helper()
	for i, tc := range tests {
		r := e.API(tc.method, tc.path, tc.body, "Idempotency-Key", fmt.Sprintf("%s-%d", t.Name(), i))
		var got apiError
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Errorf("%s: %d %s: not an error body", tc.name, r.Status, r.Body)
			continue
		}
		if r.Status != tc.status || got.Error.Code != tc.code || got.Error.Field != tc.field || !strings.Contains(got.Error.Message, tc.msg) {
			t.Errorf("%s: %d %s/%s %q, want %d %s/%s mentioning %q", tc.name, r.Status, got.Error.Code, got.Error.Field, got.Error.Message,
				tc.status, tc.code, tc.field, tc.msg)
		}
	}
}

// TestInputAmounts: an amount in the merchant API is a JSON string of plain
// decimal digits, within its currency's scale and its provider account's
// limit; anything else is 400 invalid_amount naming the field, and nothing is
// stored.
func TestInputAmounts(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true})
	deposit := func(amount string) string {
		return `{"provider_account":"cpay-main","customer_id":"c1","amount":` + amount + `,"currency":"USDT"}`
	}
	const (
		dep = "/v1/deposits"
		pay = "/v1/payouts"
	)
	tests := []refusal{
		{"JSON number", "POST", dep, deposit(`100.5`), 400, "invalid_amount", "amount", "not a JSON number"},
		{"JSON integer", "POST", dep, deposit(`100`), 400, "invalid_amount", "amount", "not a JSON number"},
		{"JSON number with exponent", "POST", dep, deposit(`1e2`), 400, "invalid_amount", "amount", "not a JSON number"},
		{"exponent", "POST", dep, deposit(`"1e2"`), 400, "invalid_amount", "amount", "exponent"},
		{"exponent, upper case", "POST", dep, deposit(`"1E2"`), 400, "invalid_amount", "amount", "exponent"},
		{"minus", "POST", dep, deposit(`"-1"`), 400, "invalid_amount", "amount", "sign"},
		{"plus", "POST", dep, deposit(`"+1"`), 400, "invalid_amount", "amount", "sign"},
		{"leading blank", "POST", dep, deposit(`" 1"`), 400, "invalid_amount", "amount", "blanks"},
		{"trailing blank", "POST", dep, deposit(`"1 "`), 400, "invalid_amount", "amount", "blanks"},
		{"empty string", "POST", dep, deposit(`""`), 400, "invalid_amount", "amount", "empty"},
		{"thousands separator", "POST", dep, deposit(`"1,000"`), 400, "invalid_amount", "amount", "separators"},
		{"no digits after the point", "POST", dep, deposit(`"1."`), 400, "invalid_amount", "amount", "both sides"},
		{"no digits before the point", "POST", dep, deposit(`".5"`), 400, "invalid_amount", "amount", "both sides"},
		{"leading zero", "POST", dep, deposit(`"01"`), 400, "invalid_amount", "amount", "leading zero"},
		{"hex", "POST", dep, deposit(`"0x10"`), 400, "invalid_amount", "amount", "not a decimal number"},
		{"NaN", "POST", dep, deposit(`"NaN"`), 400, "invalid_amount", "amount", "not a decimal number"},
		{"null", "POST", dep, deposit(`null`), 400, "missing_field", "amount", "required"},
		{"object", "POST", dep, deposit(`{"value":"1"}`), 400, "invalid_amount", "amount", "not an object"},
		{"zero", "POST", dep, deposit(`"0"`), 400, "invalid_amount", "amount", "positive"},
		{"zero with decimals", "POST", dep, deposit(`"0.00"`), 400, "invalid_amount", "amount", "positive"},
		{"more decimals than USDT has", "POST", dep, deposit(`"1.000000001"`), 400, "invalid_amount", "amount", "at most 8"},
		{"trailing zeros beyond the scale", "POST", dep, `{"provider_account":"cxpay-main","customer_id":"c1","amount":"1.000","currency":"BRL"}`, 400, "invalid_amount", "amount", "at most 2"},
		{"above the default limit (10^12 minor units)", "POST", dep, deposit(`"10000.00000001"`), 400, "invalid_amount", "amount", "above the limit of provider account \"cpay-main\": 10000 USDT"},
		{"far above any limit", "POST", dep, deposit(`"` + strings.Repeat("9", 30) + `"`), 400, "invalid_amount", "amount", "above the limit"},
		{"too long to read", "POST", dep, deposit(`"` + strings.Repeat("9", 41) + `"`), 400, "invalid_amount", "amount", "longer than 40"},
		{"payout amount as a number", "POST", pay, `{"provider_account":"cpay-main","customer_id":"c1","amount":5,"currency":"USDT","beneficiary":{"network":"TRON(TRC-20)","account":"TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}}`, 400, "invalid_amount", "amount", "not a JSON number"},
		{"payout amount with exponent", "POST", pay, `{"provider_account":"cpay-main","customer_id":"c1","amount":"5e0","currency":"USDT","beneficiary":{"network":"TRON(TRC-20)","account":"TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}}`, 400, "invalid_amount", "amount", "exponent"},
		// Provider-account amounts: tolerances and limits.
		{"tolerance as a number", "PATCH", "/v1/provider-accounts/cpay-main", `{"amount_tolerance":0.01}`, 400, "invalid_amount", "amount_tolerance", "not a JSON number"},
		{"negative tolerance", "PATCH", "/v1/provider-accounts/cpay-main", `{"balance_tolerance":"-1"}`, 400, "invalid_amount", "balance_tolerance", "sign"},
		{"tolerance with exponent", "PATCH", "/v1/provider-accounts/cpay-main", `{"amount_tolerance":"1e-2"}`, 400, "invalid_amount", "amount_tolerance", "exponent"},
		{"tolerance beyond 8 decimals", "PATCH", "/v1/provider-accounts/cpay-main", `{"amount_tolerance":"0.000000001"}`, 422, "invalid_provider_account", "", "more than 8 decimals"},
		{"limit as a number", "PATCH", "/v1/provider-accounts/cpay-main", `{"max_amounts":{"USDT":500}}`, 400, "invalid_amount", "max_amounts", "not a JSON number"},
		{"limit with exponent", "PATCH", "/v1/provider-accounts/cpay-main", `{"max_amounts":{"USDT":"5e2"}}`, 400, "invalid_amount", "max_amounts", "exponent"},
		{"limit null", "PATCH", "/v1/provider-accounts/cpay-main", `{"max_amounts":{"USDT":null}}`, 400, "invalid_amount", "max_amounts", "not null"},
		{"limit zero", "PATCH", "/v1/provider-accounts/cpay-main", `{"max_amounts":{"USDT":"0"}}`, 422, "invalid_provider_account", "", "must be positive"},
		{"limit beyond the scale", "PATCH", "/v1/provider-accounts/cpay-main", `{"max_amounts":{"CNY":"1.001"}}`, 422, "invalid_provider_account", "", "more than 2 decimals"},
		{"limit for an unknown currency", "PATCH", "/v1/provider-accounts/cpay-main", `{"max_amounts":{"XYZ":"1"}}`, 422, "invalid_provider_account", "", "not a currency"},
		{"new account with a number tolerance", "POST", "/v1/provider-accounts", `{"name":"cpay-2","provider":"cpay","base_url":"http://127.0.0.1:1/cpay","provider_merchant_id":"1","secret":"s","amount_tolerance":1}`, 400, "invalid_amount", "amount_tolerance", "not a JSON number"},
		{"new account with a bad limit", "POST", "/v1/provider-accounts", `{"name":"cpay-2","provider":"cpay","base_url":"http://127.0.0.1:1/cpay","provider_merchant_id":"1","secret":"s","max_amounts":{"USDT":"-1"}}`, 400, "invalid_amount", "max_amounts", "sign"},
	}
	checkRefusals(t, e, tests)
	if n := countOrders(t, e); n != 0 {
		t.Fatalf("%d orders stored by refused requests", n)
	}
	acct, err := e.Merchants.ProviderAccount(context.Background(), e.Merchant.ID, "cpay-main")
	if err != nil || len(acct.MaxAmounts) != 0 || !acct.AmountTolerance.IsZero() || !acct.BalanceTolerance.IsZero() {
		t.Fatalf("refused PATCHes changed the account: %+v, %v", acct, err)
	}
	if _, err := e.Merchants.ProviderAccount(context.Background(), e.Merchant.ID, "cpay-2"); err == nil {
		t.Fatal("a refused POST stored an account")
	}

	// At the default limit the order is taken; written decimals up to the scale are fine.
	for i, amount := range []string{"10000", "10000.00000000", "0.00000001"} {
		r := e.API("POST", dep, deposit(`"`+amount+`"`), "Idempotency-Key", fmt.Sprintf("ok-%d", i))
		if r.Status != http.StatusCreated {
			t.Fatalf("amount %s: %d %s", amount, r.Status, r.Body)
		}
	}
	// A configured limit replaces the default for its currency only, and is shown.
	r := e.API("PATCH", "/v1/provider-accounts/cpay-main", `{"max_amounts":{"USDT":"500.5","BRL":"10"},"amount_tolerance":"0.01"}`)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"max_amounts":{"BRL":"10.00","USDT":"500.50000000"}`) || !strings.Contains(string(r.Body), `"amount_tolerance":"0.01"`) {
		t.Fatalf("PATCH max_amounts: %d %s", r.Status, r.Body)
	}
	limitsSeen(t, e, 2) // the orders service keeps an account up to 2 s
	before := countOrders(t, e)
	checkRefusals(t, e, []refusal{
		{"above the configured limit", "POST", dep, deposit(`"500.500001"`), 400, "invalid_amount", "amount", "above the limit of provider account \"cpay-main\": 500.5 USDT"},
		{"payout above the configured limit", "POST", pay, `{"provider_account":"cpay-main","customer_id":"c1","amount":"501","currency":"USDT","beneficiary":{"network":"TRON(TRC-20)","account":"TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}}`, 400, "invalid_amount", "amount", "500.5 USDT"},
	})
	if n := countOrders(t, e); n != before {
		t.Fatalf("orders above the limit stored: %d, was %d", n, before)
	}
	if r := e.API("POST", dep, deposit(`"500.5"`), "Idempotency-Key", "at-limit"); r.Status != http.StatusCreated {
		t.Fatalf("amount at the configured limit: %d %s", r.Status, r.Body)
	}
	// An empty map returns every currency to the default.
	if r := e.API("PATCH", "/v1/provider-accounts/cpay-main", `{"max_amounts":{}}`); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"max_amounts":{}`) {
		t.Fatalf("clearing max_amounts: %d %s", r.Status, r.Body)
	}
	limitsSeen(t, e, 0)
	if r := e.API("POST", dep, deposit(`"600"`), "Idempotency-Key", "after-clear"); r.Status != http.StatusCreated {
		t.Fatalf("after clearing the limit: %d %s", r.Status, r.Body)
	}
}

// limitsSeen waits until the provider account cache reads cpay-main with n limits.
func limitsSeen(t *testing.T, e *tallytest.Env, n int) {
	t.Helper()
	e.Eventually(fmt.Sprintf("cpay-main read with %d limits", n), func() bool {
		_, a, err := e.Merchants.Adapter(context.Background(), e.Merchant.ID, "cpay-main")
		return err == nil && len(a.MaxAmounts) == n
	})
}

// TestInputDuplicateKeys: a key twice in one object, at any depth of any
// merchant API body, is 400 malformed_json naming the key; nothing is stored.
func TestInputDuplicateKeys(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true})
	const dep = "/v1/deposits"
	checkRefusals(t, e, []refusal{
		{"amount twice", "POST", dep, `{"provider_account":"cpay-main","customer_id":"c1","amount":"1","amount":"1000","currency":"USDT"}`, 400, "malformed_json", "amount", `duplicate key "amount" in the body`},
		{"amount twice, same value", "POST", dep, `{"provider_account":"cpay-main","customer_id":"c1","amount":"1","currency":"USDT","amount":"1"}`, 400, "malformed_json", "amount", `duplicate key "amount"`},
		{"amount twice, other case", "POST", dep, `{"provider_account":"cpay-main","customer_id":"c1","amount":"1","AMOUNT":"1000","currency":"USDT"}`, 400, "malformed_json", "AMOUNT", `duplicate key "AMOUNT"`},
		{"account twice, spelled with an escape", "POST", dep, `{"provider_account":"cpay-main","customer_id":"c1","amount":"1","currency":"USDT","provider_\u0061ccount":"other"}`, 400, "malformed_json", "provider_account", `duplicate key "provider_account"`},
		{"nested in payer", "POST", dep, `{"provider_account":"cxpay-main","customer_id":"c1","amount":"1","currency":"BRL","payer":{"Name":"a","TaxID":"1","Name":"b"}}`, 400, "malformed_json", "payer.Name", `duplicate key "Name" in payer`},
		{"nested in extra", "POST", dep, `{"provider_account":"cpay-main","customer_id":"c1","amount":"1","currency":"USDT","extra":{"ip":"1.2.3.4","ip":"5.6.7.8"}}`, 400, "malformed_json", "extra.ip", `duplicate key "ip" in extra`},
		{"payout beneficiary", "POST", "/v1/payouts", `{"provider_account":"cpay-main","customer_id":"c1","amount":"1","currency":"USDT","beneficiary":{"Account":"A","Network":"TRON(TRC-20)","Account":"B"}}`, 400, "malformed_json", "beneficiary.Account", `duplicate key "Account" in beneficiary`},
		{"limit twice", "PATCH", "/v1/provider-accounts/cpay-main", `{"max_amounts":{"USDT":"1","usdt":"9"}}`, 400, "malformed_json", "max_amounts.usdt", `duplicate key "usdt" in max_amounts`},
		{"option twice", "PATCH", "/v1/provider-accounts/cxpay-main", `{"options":{"pay_code":"PIX","currency":"BRL","currency":"USD"}}`, 400, "malformed_json", "options.currency", `duplicate key "currency" in options`},
		{"secret twice", "PATCH", "/v1/provider-accounts/cpay-main", `{"secret":"a-1","secret":"b-2"}`, 400, "malformed_json", "secret", `duplicate key "secret"`},
		{"recon run", "POST", "/v1/recon/runs", `{"kind":"full","kind":"orders"}`, 400, "malformed_json", "kind", `duplicate key "kind"`},
		{"resolution", "POST", "/v1/discrepancies/1/resolve", `{"action":"close","note":"x","action":"reverse"}`, 400, "malformed_json", "action", `duplicate key "action"`},
		{"duplicate after a syntax error is a syntax error", "POST", dep, `{"amount":"1",}`, 400, "malformed_json", "", "not valid JSON"},
	})
	if n := countOrders(t, e); n != 0 {
		t.Fatalf("%d orders stored by refused requests", n)
	}
	a, err := e.Merchants.ProviderAccount(context.Background(), e.Merchant.ID, "cpay-main")
	if err != nil || len(a.MaxAmounts) != 0 || a.Secret.Reveal() == "a-1" || a.Secret.Reveal() == "b-2" {
		t.Fatalf("a refused PATCH changed the account: %v %v", a.MaxAmounts, err)
	}
	x, err := e.Merchants.ProviderAccount(context.Background(), e.Merchant.ID, "cxpay-main")
	if err != nil || x.Options["currency"] != "BRL" {
		t.Fatalf("a refused PATCH changed the options: %v %v", x.Options, err)
	}
	// The same keys in different objects are not duplicates.
	r := e.API("POST", dep, `{"provider_account":"cxpay-main","customer_id":"c1","amount":"1.00","currency":"BRL","payer":{"name":"a","tax_id":"12345678909","email":"a@b.c","phone":"1"},"extra":{"name":"x"}}`,
		"Idempotency-Key", "distinct")
	if r.Status == http.StatusBadRequest && strings.Contains(string(r.Body), "duplicate") {
		t.Fatalf("keys in different objects refused: %s", r.Body)
	}
}

// TestInputSettlementCurrency: every field that decides what the provider
// settles in is stated: a VPay deposit without pay_currency is refused (400
// missing_field), and pay_currency elsewhere may only repeat the order's
// currency (what the provider is told and settles in).
func TestInputSettlementCurrency(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{NoWorkers: true})
	const dep = "/v1/deposits"
	checkRefusals(t, e, []refusal{
		{"VPay without pay_currency", "POST", dep, `{"provider_account":"vpay-main","customer_id":"c1","amount":"100.00","currency":"CNY"}`, 400, "missing_field", "pay_currency", "pay_currency is required"},
		{"VPay with an empty pay_currency", "POST", dep, `{"provider_account":"vpay-main","customer_id":"c1","amount":"100.00","currency":"CNY","pay_currency":""}`, 400, "missing_field", "pay_currency", "pay_currency is required"},
		{"VPay in an unknown pay currency", "POST", dep, `{"provider_account":"vpay-main","customer_id":"c1","amount":"100.00","currency":"CNY","pay_currency":"DOGE"}`, 422, "unsupported_currency", "pay_currency", ""},
		{"VPay paid in BTC", "POST", dep, `{"provider_account":"vpay-main","customer_id":"c1","amount":"100.00","currency":"CNY","pay_currency":"BTC"}`, 422, "unsupported_currency", "pay_currency", "pay currency \"BTC\" is not accepted"},
		{"C-Pay with another pay_currency", "POST", dep, `{"provider_account":"cpay-main","customer_id":"c1","amount":"1","currency":"USDT","pay_currency":"BTC"}`, 422, "unsupported_currency", "pay_currency", "cpay settles this deposit in its currency (USDT)"},
		{"CXPay with another pay_currency", "POST", dep, `{"provider_account":"cxpay-main","customer_id":"c1","amount":"1","currency":"BRL","pay_currency":"USDT"}`, 422, "unsupported_currency", "pay_currency", "cxpay settles"},
		{"UsdtPay paid in USDT", "POST", dep, `{"provider_account":"usdtpay-main","customer_id":"83430099","amount":"1","currency":"CNY","pay_currency":"USDT","return_url":"https://shop.example/ok"}`, 422, "unsupported_currency", "pay_currency", "usdtpay settles"},
		{"USDTCNPAY paid in USDT", "POST", dep, `{"provider_account":"usdtcnpay-main","customer_id":"c1","amount":"100","currency":"CNY","pay_currency":"USDT"}`, 422, "unsupported_currency", "pay_currency", ""},
		{"payout with another pay_currency", "POST", "/v1/payouts", `{"provider_account":"cpay-main","customer_id":"c1","amount":"1","currency":"USDT","pay_currency":"BTC","beneficiary":{"network":"TRON(TRC-20)","account":"TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE"}}`, 422, "unsupported_currency", "pay_currency", "pays a payout out in its currency"},
	})
	if n := countOrders(t, e); n != 0 {
		t.Fatalf("%d orders stored by refused requests", n)
	}
	// Stated, the order keeps its books in what the provider settles in; a
	// pay_currency repeating the currency is the same order as none.
	for _, tc := range []struct {
		body, pay string
	}{
		{`{"provider_account":"vpay-main","customer_id":"c1","amount":"100.00","currency":"CNY","pay_currency":"USDT"}`, "USDT"},
		{`{"provider_account":"vpay-main","customer_id":"c2","amount":"100.00","currency":"CNY","pay_currency":"trx"}`, "TRX"},
		{`{"provider_account":"cpay-main","customer_id":"c1","amount":"1","currency":"USDT","pay_currency":"USDT"}`, "USDT"},
		{`{"provider_account":"cpay-main","customer_id":"c3","amount":"1","currency":"USDT"}`, "USDT"},
	} {
		r := e.API("POST", dep, tc.body, "Idempotency-Key", tc.body)
		var o orders.Order
		if r.Status != http.StatusCreated {
			t.Fatalf("%s: %d %s", tc.body, r.Status, r.Body)
		}
		r.JSON(t, &o)
		if o.PayCurrency != tc.pay {
			t.Fatalf("%s: pay_currency %q, want %q", tc.body, o.PayCurrency, tc.pay)
		}
	}
}
