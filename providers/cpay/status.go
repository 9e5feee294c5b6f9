package cpay

import (
	"fmt"

	"github.com/tallyhq/tally/providers"
)

// C-Pay's order status codes, the same in every response and webhook
// ("0:PENDING 11: PROCESSING 14:COMPLETED 15:CLOSED").
const (
	StatusCodePending    = "0"
	StatusCodeProcessing = "11"
	StatusCodeCompleted  = "14"
	StatusCodeClosed     = "15"
)

// MapStatus turns a C-Pay status code into a normalized status. CLOSED means
// "rejected or errored" for every order type and is reported as failed: C-Pay
// has no separate expired or reversed code, so an unpaid cashier order that
// times out and a completed order that C-Pay later closes both arrive as 15. A
// CLOSED after a COMPLETED for the same order is a reversal, which only the
// order's history (the ledger) can tell.
func MapStatus(code string) (providers.Status, error) {
	switch code {
	case StatusCodePending:
		return providers.StatusPending, nil
	case StatusCodeProcessing:
		return providers.StatusProcessing, nil
	case StatusCodeCompleted:
		return providers.StatusSucceeded, nil
	case StatusCodeClosed:
		return providers.StatusFailed, nil
	}
	return "", fmt.Errorf("unknown C-Pay status %q", code)
}

// StatusCode is the C-Pay code the simulator reports for a normalized status:
// failed, expired and reversed are all CLOSED.
func StatusCode(s providers.Status) string {
	switch s {
	case providers.StatusPending:
		return StatusCodePending
	case providers.StatusProcessing:
		return StatusCodeProcessing
	case providers.StatusSucceeded:
		return StatusCodeCompleted
	default:
		return StatusCodeClosed
	}
}
