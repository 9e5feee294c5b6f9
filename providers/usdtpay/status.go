package usdtpay

import (
	"fmt"

	"github.com/tallyhq/tally/providers"
)

// StatusSuccess is the only status UsdtPay documents: it calls back after a
// successful payment and at no other time.
const StatusSuccess = "success"

// MapStatus maps a callback's status value, as sent, to a normalized status.
// Only "success" is documented; anything else (including "SUCCESS": the value
// is signed and compared exactly) is an error, because a callback is only ever
// sent for a successful payment and an undocumented value must not move money.
func MapStatus(s string) (providers.Status, error) {
	switch s {
	case StatusSuccess:
		return providers.StatusSucceeded, nil
	}
	return "", fmt.Errorf("undocumented status %q (only %q is documented)", s, StatusSuccess)
}

// callbackStatus is the status value UsdtPay sends for an order in status s,
// and whether it sends a callback at all: only succeeded orders are notified.
// Failures, expiries and reversals produce no callback; reconciliation finds
// them in UsdtPay's statements.
func callbackStatus(s providers.Status) (string, bool) {
	if s == providers.StatusSucceeded {
		return StatusSuccess, true
	}
	return "", false
}
