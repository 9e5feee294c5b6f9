package e2e_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestCXPayDepositExact(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := e.CreateOrder("deposit", map[string]any{"provider_account": "cxpay-main", "customer_id": "c1", "amount": "100.00", "currency": "BRL",
		"payer": map[string]string{"name": "Ana", "tax_id": "12345678901", "email": "ana@example.com", "phone": "+5511999999999"}})
	if o.Status != orders.StatusPending || o.CashierURL == "" {
		t.Fatalf("after create+wait: %+v", o)
	}
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	o = e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	if got := e.Balance("liabilities:customer:c1:BRL"); !got.Equal(dec("100")) {
		t.Fatalf("customer = %s, want 100", got)
	}
	if got := e.Balance("assets:provider:cxpay-main:BRL"); !got.Equal(dec("99")) {
		t.Fatalf("clearing = %s, want 99 (100 less the 1%% fee)", got)
	}
	if got := e.Balance("expenses:fees:cxpay-main:BRL"); !got.Equal(dec("1")) {
		t.Fatalf("fees = %s, want 1", got)
	}
	e.Eventually("webhooks", func() bool { return len(e.Webhooks.For(o.ID)) >= 2 })
	e.CheckLedger()
}
