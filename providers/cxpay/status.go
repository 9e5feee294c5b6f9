package cxpay

import "github.com/tallyhq/tally/providers"

// CXPay's transaction status values (the document's data dictionary), as sent in
// callbacks and order queries.
const (
	// StatusSubmitted is "0 Payment submission": created, not settled yet.
	StatusSubmitted = "0"
	// StatusPaid is "1 pay success"; with reverse=true it is a reversed order.
	StatusPaid = "1"
	// StatusFailed is "2 Payment failed"; CXPay has no separate expired status,
	// so an order the payer never paid also ends here.
	StatusFailed = "2"
)

// MapStatus normalizes a CXPay status. reverse is the callback's reverse flag;
// kind, when known, tells a payout in flight (processing) from a deposit
// awaiting its payer (pending). known is false for a value outside the data
// dictionary: the order is then reported as processing — not final, so nothing
// is posted and the order keeps being queried — rather than guessed at.
func MapStatus(status string, reverse bool, kind providers.OrderKind) (s providers.Status, known bool) {
	switch status {
	case StatusSubmitted:
		if kind == providers.KindPayout {
			return providers.StatusProcessing, true
		}
		return providers.StatusPending, true
	case StatusPaid:
		if reverse {
			return providers.StatusReversed, true
		}
		return providers.StatusSucceeded, true
	case StatusFailed:
		return providers.StatusFailed, true
	}
	return providers.StatusProcessing, false
}

// wireStatus is the status CXPay shows for a normalized one: what the simulator
// renders. Expired orders show as failed and reversed ones as paid (the
// callback adds reverse=true).
func wireStatus(s providers.Status) string {
	switch s {
	case providers.StatusSucceeded, providers.StatusReversed:
		return StatusPaid
	case providers.StatusFailed, providers.StatusExpired:
		return StatusFailed
	}
	return StatusSubmitted
}
