package cpay

import (
	"testing"
	"time"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/conformance"
	"github.com/tallyhq/tally/providers/sim"
)

// TestConformance runs the providers' conformance suite against C-Pay: a
// cashier deposit in USDT and a crypto payout (withdraw) on TRON.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		Name:         Name,
		Ack:          Ack,
		New:          func(c providers.Config) (providers.Adapter, error) { return New(c) },
		NewSimulator: func(c sim.Config) sim.Simulator { return NewSimulator(c) },
		Merchant: sim.Merchant{
			ID: testMerchant, Secret: testSecret,
			DepositFeeRate: dec("0.01"), PayoutFeeRate: dec("0.005"), PayoutFixedFee: dec("1"),
			Balances: map[string]*sim.Balance{"USDT": {Available: dec("1000")}},
		},
		Deposit: func(no string) providers.DepositRequest {
			return providers.DepositRequest{OrderNo: no, Amount: dec("50"), Currency: "USDT", CustomerID: "user-1"}
		},
		Payout: func(no string) providers.PayoutRequest {
			return providers.PayoutRequest{OrderNo: no, Amount: dec("40"), Currency: "USDT", CustomerID: "user-1",
				Beneficiary: providers.Party{Account: "TRMYtLHzmTeMm1FW86LZh2LGnE2D7kJnnw", Network: NetworkTRON}}
		},
		// The document names no answer to a duplicate merchantTradeNo; the
		// simulator's is code 1 "merchantTradeNo already exists", and
		// getOrderDetail finds the first order.
		Duplicate: conformance.DuplicateRejected,
		Tamper:    conformance.JSONBody(SignField),
		// createTime is milliseconds since the epoch: never negative.
		Unreadable: func(o *sim.Order) { o.CreatedAt = time.UnixMilli(-1) },
	})
}
