package vpay

import (
	"testing"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/conformance"
	"github.com/tallyhq/tally/providers/sim"
)

// TestConformance runs the providers' conformance suite against VPay
// (MinPay): quoted deposits only, CNY paid in USDT.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Name:         Name,
		Ack:          Ack,
		New:          func(c providers.Config) (providers.Adapter, error) { return New(c) },
		NewSimulator: func(c sim.Config) sim.Simulator { return NewSimulator(c) },
		Merchant: sim.Merchant{
			ID: testKey, Secret: testSecret, DepositFeeRate: dec("0.01"),
			Options: map[string]string{"rate:CNY": "7.1", "merchant_id": "303122065665"},
		},
		Deposit: func(no string) providers.DepositRequest {
			return providers.DepositRequest{OrderNo: no, Amount: dec("100.00"), Currency: "CNY", PayCurrency: "USDT", CustomerID: "user-1"}
		},
		// MinPay has no order query: a duplicate localOrderId is refused
		// with code 10004, read as ErrDuplicateOrder (doc.go).
		Duplicate: conformance.DuplicateRefused,
		Tamper:    conformance.JSONBody("sign"),
		// userAmount is what the payer sent: never negative.
		Unreadable: func(o *sim.Order) { o.Paid = o.Paid.Neg() },
	})
}
