package e2e_test

import (
	"context"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/client"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// str is an optional string of the API ("" when left out).
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// getOrder reads an order through the generated client; anything but 200
// fails the test.
func getOrder(t *testing.T, api *client.ClientWithResponses, id int64) client.Order {
	t.Helper()
	r, err := api.GetOrderWithResponse(context.Background(), int(id)) // the path id has no int64 format in the document
	if err != nil {
		t.Fatalf("GET /v1/orders/%d: %v", id, err)
	}
	if r.JSON200 == nil {
		t.Fatalf("GET /v1/orders/%d: HTTP %d %s", id, r.StatusCode(), r.Body)
	}
	return *r.JSON200
}

// An exact deposit at CXPay, driven as an integrator does: through
// the generated client (every answer also checked against the document).
func TestCXPayDepositExact(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	api := e.Client()
	r, err := api.CreateDepositWithResponse(context.Background(), &client.CreateDepositParams{IdempotencyKey: "deposit-c1-1", Wait: new("5s")},
		client.DepositRequest{ProviderAccount: "cxpay-main", CustomerID: "c1", Amount: "100.00", Currency: "BRL",
			Payer: &client.Party{Name: new("Ana"), TaxID: new("12345678901"), Email: new("ana@example.com"), Phone: new("+5511999999999")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.JSON201 == nil {
		t.Fatalf("create: HTTP %d %s, want 201 and the order", r.StatusCode(), r.Body)
	}
	o := *r.JSON201
	if o.Status != client.OrderStatusPending || o.SubmitState != client.OrderSubmitStateSubmitted || o.CashierURL == nil || *o.CashierURL == "" ||
		o.Kind != client.OrderKindDeposit || o.CustomerID != "c1" || o.Amount != "100.00" || o.Currency != "BRL" {
		t.Fatalf("after create+wait: %+v", o)
	}
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()
	got := getOrder(t, api, o.ID)
	if got.Status != client.OrderStatusSucceeded || str(got.PaidAmount) != "100.00" || str(got.Fee) != "1.00" || got.FinalAt == nil {
		t.Fatalf("GET the paid order: status %s paid %q fee %q final at %v, want succeeded, \"100.00\" and \"1.00\" (BRL's scale), and a final time",
			got.Status, str(got.PaidAmount), str(got.Fee), got.FinalAt)
	}
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
