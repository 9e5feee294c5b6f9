package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/tallytest"
)

// TestAmountsAtCurrencyScale: a deposit of "100.5" BRL, paid, answers its
// amounts at BRL's scale ("100.50", never "100.5", "1.00" not "1") in the order, the
// customer's balance, its ledger entries and the webhook; the entries page is
// snake_case with data and no next_after on its last page. Every answer here
// also goes through the contract check (tallytest), and every webhook
// through CheckWebhook.
func TestAmountsAtCurrencyScale(t *testing.T) {
	t.Parallel()
	e := tallytest.New(t, tallytest.Options{})
	o := e.CreateOrder("deposit", map[string]any{"provider_account": "cxpay-main", "customer_id": "s1", "amount": "100.5", "currency": "BRL",
		"payer": map[string]string{"name": "Ana", "tax_id": "12345678901", "email": "ana@example.com", "phone": "+5511999999999"}})
	e.Control("cxpay", "POST", "/orders/"+o.ProviderOrderNo+"/pay", nil)
	e.WaitStatus(o.ID, orders.StatusSucceeded)
	e.WaitIdle()

	var got map[string]any
	e.API("GET", fmt.Sprintf("/v1/orders/%d", o.ID), nil).JSON(t, &got)
	if got["amount"] != "100.50" || got["paid_amount"] != "100.50" || got["settled_currency"] != "BRL" {
		t.Fatalf("order amounts: amount %v paid_amount %v settled in %v", got["amount"], got["paid_amount"], got["settled_currency"])
	}
	// CXPay's 1% fee, as the simulator states it in BRL's cents.
	if got["fee"] != "1.00" || got["credited_amount"] != "99.50" {
		t.Fatalf("fee %v credited_amount %v, want 1.00 and 99.50", got["fee"], got["credited_amount"])
	}

	var bal struct {
		Data []struct {
			Account string `json:"account"`
			Posted  string `json:"posted"`
		} `json:"data"`
	}
	e.API("GET", "/v1/balances", nil).JSON(t, &bal)
	found := false
	for _, b := range bal.Data {
		if b.Account == "liabilities:customer:s1:BRL" {
			found = true
			if b.Posted != "100.50" {
				t.Fatalf("customer balance posted %q, want 100.50", b.Posted)
			}
		}
	}
	if !found {
		t.Fatalf("no customer balance in %+v", bal.Data)
	}

	r := e.API("GET", "/v1/accounts/liabilities:customer:s1:BRL/entries", nil)
	var page map[string]json.RawMessage
	r.JSON(t, &page)
	if _, ok := page["next_after"]; ok || page["data"] == nil {
		t.Fatalf("entries page: %s", r.Body)
	}
	var entries []map[string]any
	if err := json.Unmarshal(page["data"], &entries); err != nil || len(entries) != 1 {
		t.Fatalf("entries: %s (%v)", page["data"], err)
	}
	if entries[0]["amount"] != "100.50" || entries[0]["side"] != "credit" || entries[0]["transfer_id"] == nil {
		t.Fatalf("entry: %v", entries[0])
	}

	e.Eventually("webhooks", func() bool { return len(e.Webhooks.For(o.ID)) >= 2 })
	for _, ev := range e.Webhooks.For(o.ID) {
		b, err := json.Marshal(ev.Order)
		if err != nil {
			t.Fatal(err)
		}
		var wo map[string]any
		_ = json.Unmarshal(b, &wo)
		if wo["amount"] != "100.50" {
			t.Fatalf("webhook %s order amount %v", ev.Type, wo["amount"])
		}
	}

	// A Go-style field name is refused, naming the snake_case one.
	bad := e.API("POST", "/v1/deposits", `{"provider_account":"cxpay-main","customer_id":"s1","amount":"1.00","currency":"BRL","payer":{"name":"a","TaxID":"1"}}`,
		"Idempotency-Key", "go-name")
	var apiErr struct {
		Error struct {
			Code, Message, Field string
		} `json:"error"`
	}
	bad.JSON(t, &apiErr)
	if bad.Status != http.StatusBadRequest || apiErr.Error.Code != "unknown_field" || apiErr.Error.Field != "TaxID" ||
		apiErr.Error.Message != `unknown field "TaxID" (field names are snake_case: "tax_id")` {
		t.Fatalf("a Go-style field: %d %s", bad.Status, bad.Body)
	}
	e.CheckLedger()
}
