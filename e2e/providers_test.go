package e2e_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/tallyhq/tally/client"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// payerPays makes the sandbox payer pay an order in full, the way each provider's
// payer does: UsdtPay's payer first posts the signed pay form from the browser.
func payerPays(t *testing.T, e *tallytest.Env, provider string, o orders.Order) {
	t.Helper()
	if o.PayForm != nil {
		form := url.Values{}
		for _, f := range o.PayForm.Fields {
			form.Set(f.Name, f.Value)
		}
		resp, err := http.PostForm(o.PayForm.Action, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("posting the pay form: HTTP %d", resp.StatusCode)
		}
	}
	e.Control(provider, "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
}

func TestDepositEveryProvider(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider string
		req      map[string]any
		check    func(t *testing.T, e *tallytest.Env, o orders.Order)
		ledger   map[string]string
	}{
		{
			provider: "cpay",
			req:      map[string]any{"customer_id": "u1", "amount": "50", "currency": "USDT"},
			check: func(t *testing.T, e *tallytest.Env, o orders.Order) {
				if o.CashierURL == "" {
					t.Errorf("no cashier URL: %+v", o)
				}
			},
			ledger: map[string]string{"liabilities:customer:u1:USDT": "50", "assets:provider:cpay-main:USDT": "49.5", "expenses:fees:cpay-main:USDT": "0.5"},
		},
		{
			provider: "cxpay",
			req: map[string]any{"customer_id": "u1", "amount": "80.00", "currency": "BRL",
				"payer": map[string]string{"name": "Ana", "tax_id": "1", "email": "a@b.c", "phone": "1"}},
			ledger: map[string]string{"liabilities:customer:u1:BRL": "80", "assets:provider:cxpay-main:BRL": "79.2", "expenses:fees:cxpay-main:BRL": "0.8"},
		},
		{
			provider: "usdtpay",
			req:      map[string]any{"customer_id": "83430099", "amount": "100.00", "currency": "CNY", "return_url": "http://merchant.example/paid"},
			check: func(t *testing.T, e *tallytest.Env, o orders.Order) {
				if o.PayForm == nil || len(o.PayForm.Fields) == 0 {
					t.Errorf("no pay form: %+v", o)
				}
			},
			// UsdtPay's callback states no fee: the clearing account holds the order amount.
			ledger: map[string]string{"liabilities:customer:83430099:CNY": "100", "assets:provider:usdtpay-main:CNY": "100"},
		},
		{
			provider: "usdtcnpay",
			req:      map[string]any{"customer_id": "u1", "amount": "1000", "currency": "CNY"},
			// Unsigned callback: the success comes from getcharge; no fee is stated.
			ledger: map[string]string{"liabilities:customer:u1:CNY": "1000", "assets:provider:usdtcnpay-main:CNY": "1000"},
		},
		{
			provider: "vpay",
			req:      map[string]any{"customer_id": "u1", "amount": "100.00", "currency": "CNY", "pay_currency": "USDT"},
			check: func(t *testing.T, e *tallytest.Env, o orders.Order) {
				if o.SettledCurrency != "USDT" || !o.FXRate.Valid {
					t.Errorf("quoted order settled in %q with rate %v, want USDT with a rate", o.SettledCurrency, o.FXRate)
				}
			},
			// 100 CNY at 7.20 CNY/USDT = 13.888889 USDT (rounded up), 1% fee in USDT
			// truncated to 6 decimals (0.138888);
			// each currency balances through the FX accounts.
			ledger: map[string]string{"liabilities:customer:u1:CNY": "100", "equity:fx:CNY": "-100", "equity:fx:USDT": "13.888889",
				"assets:provider:vpay-main:USDT": "13.750001", "expenses:fees:vpay-main:USDT": "0.138888"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			e := tallytest.New(t, tallytest.Options{})
			tc.req["provider_account"] = tc.provider + "-main"
			o := e.CreateOrder("deposit", tc.req)
			if o.Status != orders.StatusPending || o.SubmitState != "submitted" {
				t.Fatalf("after create?wait=5s: status %s submit %s (%s)", o.Status, o.SubmitState, o.LastError)
			}
			payerPays(t, e, tc.provider, o)
			o = e.WaitStatus(o.ID, orders.StatusSucceeded)
			e.WaitIdle()
			if tc.check != nil {
				tc.check(t, e, o)
			}
			for acct, want := range tc.ledger {
				if got := e.Balance(acct); !got.Equal(dec(want)) {
					t.Errorf("%s = %s, want %s", acct, got, want)
				}
			}
			e.Eventually("webhooks for pending and succeeded", func() bool {
				seen := map[string]bool{}
				for _, ev := range e.Webhooks.For(o.ID) {
					seen[ev.ToStatus] = true
				}
				return seen["pending"] && seen["succeeded"]
			})
			if e.Webhooks.Bad() != 0 {
				t.Fatal("a merchant webhook did not verify")
			}
			e.CheckLedger()
		})
	}
}

// Payouts at every provider that makes them, placed and read back through the
// generated client (every answer also checked against the document).
func TestPayoutEveryProviderWithPayouts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider, currency, fund, amount string
		beneficiary                      client.Party
		settle                           func(e *tallytest.Env, o client.Order)
		ledger                           map[string]string
	}{
		{provider: "cpay", currency: "USDT", fund: "100", amount: "50",
			beneficiary: client.Party{Account: new("TRMYtLHzmTeMm1FW86LZh2LGnE2D7kJnnw"), Network: new("TRON(TRC-20)")},
			ledger:      map[string]string{"liabilities:customer:p1:USDT": "50", "assets:provider:cpay-main:USDT": "49.5", "expenses:fees:cpay-main:USDT": "0.5"}},
		{provider: "cxpay", currency: "BRL", fund: "100", amount: "50.00",
			beneficiary: client.Party{Name: new("Ana"), Account: new("12345-6"), AccountType: new("CPF"), TaxID: new("1"), Email: new("a@b.c"), Phone: new("1")},
			ledger:      map[string]string{"liabilities:customer:p1:BRL": "50", "assets:provider:cxpay-main:BRL": "49.5", "expenses:fees:cxpay-main:BRL": "0.5"}},
		{provider: "usdtcnpay", currency: "CNY", fund: "1000", amount: "500",
			beneficiary: client.Party{Name: new("张三"), Account: new("6222020202020202"), Category: new("0"), BankCode: new("1")},
			// Settled in two parts; USDTCNPAY states no fee.
			settle: func(e *tallytest.Env, o client.Order) {
				e.Control("usdtcnpay", "POST", "/orders/"+o.ProviderOrderNo+"/settle-part", map[string]string{"amount": "200"})
				e.Control("usdtcnpay", "POST", "/orders/"+o.ProviderOrderNo+"/settle-part", map[string]string{"amount": "300"})
			},
			ledger: map[string]string{"liabilities:customer:p1:CNY": "500", "assets:provider:usdtcnpay-main:CNY": "500"}},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			e := tallytest.New(t, tallytest.Options{})
			api := e.Client()
			e.Fund(tc.provider, "p1", tc.currency, tc.fund)
			r, err := api.CreatePayoutWithResponse(context.Background(), &client.CreatePayoutParams{IdempotencyKey: "payout-p1-1", Wait: new("5s")},
				client.PayoutRequest{ProviderAccount: tc.provider + "-main", CustomerID: "p1", Amount: tc.amount, Currency: tc.currency, Beneficiary: &tc.beneficiary})
			if err != nil {
				t.Fatal(err)
			}
			if r.JSON201 == nil {
				t.Fatalf("create: HTTP %d %s, want 201 and the payout", r.StatusCode(), r.Body)
			}
			o := *r.JSON201
			if o.SubmitState != client.OrderSubmitStateSubmitted || o.Kind != client.OrderKindPayout || !dec(o.Amount).Equal(dec(tc.amount)) {
				t.Fatalf("payout not submitted: %+v", o)
			}
			held := dec(tc.fund).Sub(dec(tc.amount))
			if got := e.Available("liabilities:customer:p1:" + tc.currency); !got.Equal(held) {
				t.Fatalf("available during the hold = %s, want %s", got, held)
			}
			if tc.settle != nil {
				tc.settle(e, o)
			} else {
				e.Control(tc.provider, "POST", "/orders/"+o.ProviderOrderNo+"/settle", nil)
			}
			e.WaitStatus(o.ID, orders.StatusSucceeded)
			e.WaitIdle()
			for acct, want := range tc.ledger {
				if got := e.Balance(acct); !got.Equal(dec(want)) {
					t.Errorf("%s = %s, want %s", acct, got, want)
				}
			}
			got := getOrder(t, api, o.ID)
			if got.Status != client.OrderStatusSucceeded || got.FinalAt == nil {
				t.Errorf("GET the settled payout: status %s final at %v, want succeeded and a final time", got.Status, got.FinalAt)
			}
			if tc.provider == "usdtcnpay" {
				var parts []string
				if got.Parts != nil {
					for _, p := range *got.Parts {
						parts = append(parts, dec(p.Amount).String())
					}
				}
				slices.Sort(parts)
				if len(parts) != 2 || parts[0] != "200" || parts[1] != "300" {
					t.Errorf("parts = %v, want the two settled parts, 200 and 300", parts)
				}
			}
			e.Eventually("payout webhooks", func() bool {
				evs := e.Webhooks.For(o.ID)
				return len(evs) > 0 && evs[len(evs)-1].ToStatus == "succeeded"
			})
			e.CheckLedger()
		})
	}
}

func TestCPayWalletDepositCreditsItsUser(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	e.Control("cpay", "POST", "/deposits", map[string]string{"merchant_id": "20000387", "user_id": "u77", "currency": "USDT",
		"network": "TRON(TRC-20)", "amount": "10", "tx_hash": "c4dbbf5737c52072817dc92fa09c41386f8024fee883270b92bfc1943616f957"})
	e.Eventually("the wallet deposit to be credited", func() bool { return e.Balance("liabilities:customer:u77:USDT").Equal(dec("10")) })
	e.WaitIdle()
	list := e.API("GET", "/v1/orders?provider_account=cpay-main", nil)
	var page struct{ Data []orders.Order }
	list.JSON(t, &page)
	if len(page.Data) != 1 || page.Data[0].Origin != "wallet" || page.Data[0].CustomerID != "u77" || page.Data[0].Status != orders.StatusSucceeded {
		t.Fatalf("orders = %+v, want one succeeded wallet deposit for u77", page.Data)
	}
	if got := e.Balance("assets:provider:cpay-main:USDT"); !got.Equal(dec("9.9")) {
		t.Fatalf("clearing = %s, want 9.9", got)
	}
	if ds := e.Discrepancies(""); len(ds) != 0 {
		t.Fatalf("a wallet deposit is not a discrepancy: %+v", ds)
	}
	e.CheckLedger()
}
