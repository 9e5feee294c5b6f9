package usdtcnpay

import (
	"testing"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/conformance"
	"github.com/tallyhq/tally/providers/sim"
)

// TestConformance runs the providers' conformance suite against USDTCNPAY:
// CNY deposits and bank withdrawals in multiples of 100, with the
// simulator's platform key shared by the tests (key generation is slow).
func TestConformance(t *testing.T) {
	key := platformKey(t)
	conformance.Run(t, conformance.Harness{
		Name:         Name,
		Ack:          Ack,
		New:          func(c providers.Config) (providers.Adapter, error) { return New(c) },
		NewSimulator: func(c sim.Config) sim.Simulator { return newSimulator(c, key) },
		Merchant: sim.Merchant{
			ID: testAccessKey, Secret: testSecretKey,
			DepositFeeRate: dec("0.01"), PayoutFeeRate: dec("0.005"), PayoutFixedFee: dec("2"),
			Balances: map[string]*sim.Balance{"CNY": {Available: dec("10000")}},
		},
		Deposit: func(no string) providers.DepositRequest {
			return providers.DepositRequest{OrderNo: no, Amount: dec("1000"), Currency: "CNY"}
		},
		Payout: func(no string) providers.PayoutRequest {
			return providers.PayoutRequest{OrderNo: no, Amount: dec("500"), Currency: "CNY",
				Beneficiary: providers.Party{Name: "张三", Account: "6222020202020202", Category: "0", BankCode: "1"}}
		},
		// The document names no error code; 2002 商家订单号已存在 is this
		// package's reading (doc.go), read as ErrRejected, and getcharge or
		// getwithdraw finds the first order.
		Duplicate: conformance.DuplicateRejected,
		// The platform signs nothing: the adapter's own sig in the success
		// and fail URLs covers result, kind and orderNo.
		Tamper:       conformance.QueryParams(ParamSig, ParamResult, ParamKind, ParamOrderNo),
		NoUnreadable: "USDTCNPAY states nothing in a callback (usdtcnpay.txt lines 103-105: successUrl 业务成功回调URL, failUr 业务失败回调URL, bare URLs it calls, with no field or signature of its own); a URL whose sig verifies was built by CallbackURLs, which writes only readable values",
	})
}
