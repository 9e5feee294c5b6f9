package cxpay

import (
	"testing"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/conformance"
	"github.com/tallyhq/tally/providers/sim"
)

// TestConformance runs the providers' conformance suite against CXPay.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Name:         Name,
		Ack:          Ack,
		New:          func(c providers.Config) (providers.Adapter, error) { return New(c) },
		NewSimulator: func(c sim.Config) sim.Simulator { return NewSimulator(c) },
		Merchant: sim.Merchant{
			ID: testMerchant, Secret: testKey,
			Options:        map[string]string{SimOptionPayCodes: "PIX", SimOptionCurrency: "BRL"},
			DepositFeeRate: dec("0.01"), PayoutFeeRate: dec("0.02"), PayoutFixedFee: dec("1"),
			Balances: map[string]*sim.Balance{"BRL": {Available: dec("1000")}},
		},
		Options: map[string]string{OptionPayCode: "PIX", OptionCurrency: "BRL"},
		Deposit: func(no string) providers.DepositRequest {
			return providers.DepositRequest{OrderNo: no, Amount: dec("80.00"), Currency: "BRL",
				Payer: providers.Party{Name: "Ana Souza", TaxID: "12345678909", Phone: "+5511999990000", Email: "ana@example.com"}}
		},
		Payout: func(no string) providers.PayoutRequest {
			return providers.PayoutRequest{OrderNo: no, Amount: dec("50.00"), Currency: "BRL",
				Beneficiary: providers.Party{Name: "Ana Souza", Account: "12345678909", AccountType: "CPF", Email: "ana@example.com"}}
		},
		// The document names no answer to a duplicate orderId; the
		// simulator's is code 400 "orderId already exists" (doc.go), and the
		// order query finds the first order.
		Duplicate: conformance.DuplicateRejected,
		Tamper:    conformance.JSONBody(SignField),
		// amount is "the actual payment amount": never negative.
		Unreadable: func(o *sim.Order) { o.Paid = o.Paid.Neg() },
	})
}
