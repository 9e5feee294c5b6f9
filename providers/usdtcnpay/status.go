package usdtcnpay

import (
	"fmt"
	"strings"

	"github.com/tallyhq/tally/providers"
)

// Charge (deposit) zt values, exactly as the platform writes them.
const (
	// ChargeAwaitingProof (待提交): the payer started the deposit and has not yet
	// uploaded the screenshot of their transfer.
	ChargeAwaitingProof = "待提交"
	// ChargeUnderReview (待确认): the screenshot is uploaded; bank receipt lookup,
	// AI or manual review is running.
	ChargeUnderReview = "待确认"
	// ChargeConfirmed (已确认): the deposit succeeded and the merchant's CNY
	// balance was credited.
	ChargeConfirmed = "已确认"
	// ChargeCancelled (已取消): the payer did not pay in time, or the payment
	// failed. The platform does not say which.
	ChargeCancelled = "已取消"
)

// Withdraw (payout) zt values, exactly as the platform writes them.
const (
	// WithdrawUnderReview (审核中): the exchange is reviewing and matching the withdrawal.
	WithdrawUnderReview = "审核中"
	// WithdrawInProgress (进行中): the withdrawal is being paid, possibly in
	// several parts.
	WithdrawInProgress = "进行中"
	// WithdrawRejected (已驳回): the withdrawal failed review; nothing was paid.
	WithdrawRejected = "已驳回"
	// WithdrawCompleted (已完成): every part of the withdrawal was paid.
	WithdrawCompleted = "已完成"
)

// chargeStatuses maps a charge's zt to a normalized status.
//
// 已取消 maps to failed, not expired: the platform uses the one value for "the
// payer did not pay in time" and "the payment failed" and gives no way to tell
// them apart. Both mean that no money moved and none will, which is what failed
// says; calling every cancellation "expired" would invent a distinction the
// provider does not make.
var chargeStatuses = map[string]providers.Status{
	ChargeAwaitingProof: providers.StatusPending,
	ChargeUnderReview:   providers.StatusProcessing,
	ChargeConfirmed:     providers.StatusSucceeded,
	ChargeCancelled:     providers.StatusFailed,
}

// withdrawStatuses maps a withdrawal's zt to a normalized status. 进行中 is
// processing whether or not some parts were already paid; only 已完成 says that
// the whole amount went out.
var withdrawStatuses = map[string]providers.Status{
	WithdrawUnderReview: providers.StatusPending,
	WithdrawInProgress:  providers.StatusProcessing,
	WithdrawRejected:    providers.StatusFailed,
	WithdrawCompleted:   providers.StatusSucceeded,
}

// MapStatus turns an order's zt into a normalized status. Charges and
// withdrawals have different value sets, so the kind is required; a value
// outside the documented set is an error, never a guess.
func MapStatus(kind providers.OrderKind, zt string) (providers.Status, error) {
	table := chargeStatuses
	switch kind {
	case providers.KindDeposit:
	case providers.KindPayout:
		table = withdrawStatuses
	default:
		return "", fmt.Errorf("unknown order kind %q", kind)
	}
	s, ok := table[strings.TrimSpace(zt)]
	if !ok {
		return "", fmt.Errorf("unknown %s zt %q", kind, zt)
	}
	return s, nil
}

// ztFor is the zt the platform shows for a normalized status: the inverse of
// MapStatus, used by the simulator. The platform has no expired or reversed
// value: an expired order shows as cancelled (charge) or rejected (withdrawal),
// and so does a succeeded order the platform later takes back.
func ztFor(kind providers.OrderKind, s providers.Status) string {
	if kind == providers.KindPayout {
		switch s {
		case providers.StatusPending:
			return WithdrawUnderReview
		case providers.StatusProcessing:
			return WithdrawInProgress
		case providers.StatusSucceeded:
			return WithdrawCompleted
		default:
			return WithdrawRejected
		}
	}
	switch s {
	case providers.StatusPending:
		return ChargeAwaitingProof
	case providers.StatusProcessing:
		return ChargeUnderReview
	case providers.StatusSucceeded:
		return ChargeConfirmed
	default:
		return ChargeCancelled
	}
}
