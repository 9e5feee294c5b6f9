package usdtpay

import (
	"context"
	"testing"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/conformance"
	"github.com/tallyhq/tally/providers/sim"
)

// TestConformance runs the providers' conformance suite against UsdtPay:
// deposits only, through the pay form the payer's browser posts
// (SubmitPayForm plays the browser).
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Name:         Name,
		Ack:          Ack,
		New:          func(c providers.Config) (providers.Adapter, error) { return New(c) },
		NewSimulator: func(c sim.Config) sim.Simulator { return NewSimulator(c) },
		Merchant: sim.Merchant{
			ID: testCrmNo, Secret: testKey, DepositFeeRate: dec("0.01"),
			Options:  map[string]string{"rate:CNY": "7.20"},
			Balances: map[string]*sim.Balance{"CNY": {Available: dec("1000")}},
		},
		Deposit: func(no string) providers.DepositRequest {
			return providers.DepositRequest{OrderNo: no, Amount: dec("100"), Currency: "CNY", CustomerID: "83430099",
				ReturnURL: "https://crm.example.com/deposit/done"}
		},
		Submit: func(ctx context.Context, a providers.Adapter, res *providers.CreateResult) error {
			_, err := a.(*Adapter).SubmitPayForm(ctx, res.PayForm)
			return err
		},
		// The document says nothing of a pay form with a used orderNo; the
		// simulator answers its error page order_exists, which SubmitPayForm
		// reads as ErrRejected (doc.go). tally's CreateDeposit never reaches
		// UsdtPay, so no create of tally's is ever ambiguous.
		Duplicate: conformance.DuplicateRejected,
		// The callback is a form; its query's USDT amount is unsigned.
		Tamper: conformance.FormBody("sign"),
		// orderAmount is what UsdtPay settled the order for: positive.
		Unreadable: func(o *sim.Order) { o.Paid = o.Paid.Neg() },
	})
}
