package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tallyhq/tally/jobs"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// More open orders than one sync sweep takes, older than the one that needs a
// query: deposits at providers without an order query (UsdtPay, VPay), which
// stay open until their statement, and unpaid CXPay deposits. The sweep skips
// the first and polls the others in turn, so the newest order's lost callback
// is still repaired by a query.
func TestSyncNotStarvedByUnpollableOrders(t *testing.T) {
	t.Parallel()
	const batch = 4
	e := tallytest.New(t, tallytest.Options{Jobs: jobs.Options{Schedule: true, SyncEvery: time.Second, SyncAge: time.Millisecond, SyncBatch: batch}})
	for i := 0; i < 2*batch; i++ {
		e.CreateOrder("deposit", map[string]any{"provider_account": "usdtpay-main", "customer_id": fmt.Sprintf("p%d", i), "amount": "100.00", "currency": "CNY", "return_url": "http://merchant.example/paid"})
		e.CreateOrder("deposit", map[string]any{"provider_account": "vpay-main", "customer_id": fmt.Sprintf("v%d", i), "amount": "100.00", "currency": "CNY", "pay_currency": "USDT"})
	}
	for i := 0; i < batch+2; i++ {
		brlDeposit(e, fmt.Sprintf("w%d", i), "5.00") // pollable, never paid
	}
	ids, err := e.Orders.OpenOrders(context.Background(), time.Now(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != batch+2 {
		t.Fatalf("OpenOrders = %d orders, want the %d pollable ones only", len(ids), batch+2)
	}
	o := brlDeposit(e, "target", "25.00")
	script(e, "cxpay", o.ProviderOrderNo, map[string]any{"outcome": "succeed", "callbacks": map[string]any{"drop": true}})
	o = e.WaitStatus(o.ID, orders.StatusSucceeded)
	tl, err := e.Orders.Timeline(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := tl[len(tl)-1]; last.Source != "query" {
		t.Fatalf("the success came from %s, want a query", last.Source)
	}
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:target:BRL"); !got.Equal(dec("25")) {
		t.Fatalf("customer = %s, want 25", got)
	}
	// Every pollable order was asked about, not only the oldest page.
	var unsynced int
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM orders o JOIN provider_accounts a ON a.id = o.provider_account_id
		WHERE a.provider = 'cxpay' AND o.last_synced_at IS NULL`).Scan(&unsynced); err != nil {
		t.Fatal(err)
	}
	if unsynced != 0 {
		t.Fatalf("%d CXPay orders never polled", unsynced)
	}
	e.CheckLedger()
}

// A deposit's deadline is its account's deposit lifetime (24 h unless set).
func TestDepositDeadline(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := brlDeposit(e, "d1", "5.00")
	if o.ExpiresAt == nil || o.ExpiresAt.Sub(o.CreatedAt).Round(time.Second) != 24*time.Hour {
		t.Fatalf("deposit expires at %v, created %v: want 24h later", o.ExpiresAt, o.CreatedAt)
	}
	acct, err := e.Merchants.ProviderAccount(context.Background(), e.Merchant.ID, "cxpay-main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Merchants.UpdateProviderAccount(context.Background(), merchants.ProviderAccountInput{MerchantCode: "acme", Name: acct.Name, BaseURL: acct.BaseURL,
		ProviderMerchantID: acct.ProviderMerchantID, Options: acct.Options, DepositLifetime: 90 * time.Minute}, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // provider accounts are read again after 2 s (merchants.AccountTTL)
	o = brlDeposit(e, "d2", "5.00")
	if o.ExpiresAt == nil || o.ExpiresAt.Sub(o.CreatedAt).Round(time.Second) != 90*time.Minute {
		t.Fatalf("deposit expires at %v, created %v: want 90m later", o.ExpiresAt, o.CreatedAt)
	}
}
