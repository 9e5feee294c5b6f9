package vpay

import (
	"strings"

	"github.com/tallyhq/tally/providers"
)

// MinPay's callback status values. The document shows only SUCCESS; the
// others are the set a MinPay integrator meets and the simulator sends (see
// the package documentation).
const (
	WirePending    = "PENDING"    // order created, nothing paid yet
	WireProcessing = "PROCESSING" // payment seen on chain, not yet confirmed
	WireSuccess    = "SUCCESS"    // paid and credited to the merchant
	WireFail       = "FAIL"       // payment failed
	WireExpired    = "EXPIRED"    // the payer did not pay in time
	WireReversed   = "REVERSED"   // a succeeded order was taken back
)

// MapStatus normalizes a MinPay status value (case-insensitive). Known reports
// whether the value is one MinPay is known to send; an unknown value maps to
// processing, a state that posts no money and that reconciliation flags when
// it lingers, and the callback is still acknowledged.
func MapStatus(s string) (status providers.Status, known bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case WirePending, "WAITING", "INIT", "CREATED", "UNPAID":
		return providers.StatusPending, true
	case WireProcessing, "CONFIRMING", "PAYING":
		return providers.StatusProcessing, true
	case WireSuccess, "SUCCEEDED", "PAID", "COMPLETED":
		return providers.StatusSucceeded, true
	case WireFail, "FAILED", "FAILURE", "ERROR", "CANCEL", "CANCELED", "CANCELLED":
		return providers.StatusFailed, true
	case WireExpired, "EXPIRE", "TIMEOUT", "CLOSED":
		return providers.StatusExpired, true
	case WireReversed, "REVERSE", "REFUND", "REFUNDED":
		return providers.StatusReversed, true
	}
	return providers.StatusProcessing, false
}

// wireStatus is the value the simulator sends for a normalized status.
func wireStatus(s providers.Status) string {
	switch s {
	case providers.StatusProcessing:
		return WireProcessing
	case providers.StatusSucceeded:
		return WireSuccess
	case providers.StatusFailed:
		return WireFail
	case providers.StatusExpired:
		return WireExpired
	case providers.StatusReversed:
		return WireReversed
	}
	return WirePending
}

// Order types and business types of MinPay (orderType/type and
// orderBizType/bizType).
const (
	TypePayment  = "PAYMENT"
	TypeWithdraw = "WITHDRAW"

	BizFixedDigitalScan = "PAYMENT_FIXED_DIGITAL_SCAN"
)

// KindOf tells a deposit from a payout. bizType decides, because the
// document's own callback example pairs type WITHDRAW with bizType
// PAYMENT_FIXED_DIGITAL_SCAN (a deposit product): PAYMENT_* is a deposit,
// WITHDRAW_* and BATCH_PAY are payouts. Only when bizType is absent or unknown
// does type decide; neither known gives "".
func KindOf(bizType, typ string) providers.OrderKind {
	b := strings.ToUpper(strings.TrimSpace(bizType))
	switch {
	case strings.HasPrefix(b, "PAYMENT_"):
		return providers.KindDeposit
	case strings.HasPrefix(b, "WITHDRAW_"), b == "BATCH_PAY":
		return providers.KindPayout
	}
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case TypePayment:
		return providers.KindDeposit
	case TypeWithdraw:
		return providers.KindPayout
	}
	return ""
}
