package server

import "testing"

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{"TaxID": "tax_id", "payer.AccountType": "payer.account_type", "BankCode": "bank_code",
		"Name": "name", "amount": "amount", "HTTPCode": "http_code", "tax_id": "tax_id"} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
