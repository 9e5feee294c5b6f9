package orders

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// TestRequestHashStable: the idempotency hash of a request is the one an
// earlier tally stored (before Party had snake_case JSON tags), so that a
// retry across the upgrade replays its order rather than conflict with it.
func TestRequestHashStable(t *testing.T) {
	req := CreateRequest{MerchantID: 7, Kind: providers.KindPayout, ProviderAccount: "cxpay-main", MerchantOrderNo: "M-1",
		CustomerID: "c1", Amount: decimal.RequireFromString("100.50"), Currency: "BRL", PayCurrency: "BRL", Method: "pix",
		Party: providers.Party{Name: "Ana", Email: "a@b.c", Phone: "1", TaxID: "123", Account: "12345-6", AccountType: "CPF",
			BankCode: "001", Network: "n", Country: "BR", Category: "0"},
		ReturnURL: "https://r", FailURL: "https://f", Extra: map[string]string{"k": "v"}, IdempotencyKey: "idem"}
	// Computed by the code before the change.
	const want = "dc738231e40e2dd4eb0c6b7c8f2022f90399bcd3ed478303c961fa133f314139"
	if got := hex.EncodeToString(requestHash(req)); got != want {
		t.Fatalf("requestHash = %s, want %s", got, want)
	}
}

// TestStoredRequestBothSpellings: a request stored with the party's Go field
// names (before the tags) and one stored now read the same.
func TestStoredRequestBothSpellings(t *testing.T) {
	want := providers.Party{Name: "Ana", Email: "a@b.c", TaxID: "123", AccountType: "CPF", BankCode: "001"}
	old := `{"kind":"payout","provider_account":"a","customer_id":"c1","amount":"1.5","currency":"BRL","party":{"Name":"Ana","Email":"a@b.c","Phone":"","TaxID":"123","Account":"","AccountType":"CPF","BankCode":"001","Network":"","Country":"","Category":""}}`
	cur, err := json.Marshal(CreateRequest{Kind: providers.KindPayout, ProviderAccount: "a", CustomerID: "c1",
		Amount: decimal.RequireFromString("1.5"), Currency: "BRL", Party: want})
	if err != nil {
		t.Fatal(err)
	}
	if want := `"party":{"name":"Ana","email":"a@b.c","tax_id":"123","account_type":"CPF","bank_code":"001"}`; !json.Valid(cur) || !strings.Contains(string(cur), want) {
		t.Fatalf("stored now: %s, want it to hold %s", cur, want)
	}
	for name, b := range map[string]string{"go names": old, "snake_case": string(cur)} {
		var r CreateRequest
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Party != want || r.CustomerID != "c1" || !r.Amount.Equal(decimal.RequireFromString("1.5")) {
			t.Fatalf("%s: read %+v", name, r)
		}
	}
	// Parts stored before the tags keep their time.
	var parts []providers.Part
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := json.Unmarshal([]byte(`[{"ID":"p1","Amount":"2","Status":"succeeded","OccurredAt":"2026-01-02T03:04:05Z"}]`), &parts); err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || parts[0].ID != "p1" || !parts[0].OccurredAt.Equal(at) || parts[0].Status != providers.StatusSucceeded {
		t.Fatalf("old parts read as %+v", parts)
	}
}
