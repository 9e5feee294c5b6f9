package cxpay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// RetrySchedule is the wait before each push after the first. The document says
// only "a total of 8 pushes within 40 minutes"; this reading spreads the eight
// pushes over exactly 40 minutes with growing gaps: at 0, 1, 3, 6, 11, 18, 28
// and 40 minutes.
var RetrySchedule = []time.Duration{
	1 * time.Minute, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute,
	7 * time.Minute, 10 * time.Minute, 12 * time.Minute,
}

// protocol renders CXPay's callbacks for the simulator engine.
type protocol struct{}

var _ sim.Protocol = protocol{}

// Callback renders the notification CXPay sends when an order is confirmed
// paid (status 1), failed or expired (status 2) or reversed (status 1 with
// reverse true); pending and processing orders send none. A forged copy
// carries an amount one unit higher under the genuine signature.
func (protocol) Callback(m *sim.Merchant, o *sim.Order, forged bool) (*sim.Outbound, error) {
	if m == nil || o == nil || o.NotifyURL == "" {
		return nil, nil
	}
	if o.Status != providers.StatusSucceeded && o.Status != providers.StatusFailed &&
		o.Status != providers.StatusExpired && o.Status != providers.StatusReversed {
		return nil, nil
	}
	amount, fee := wireAmounts(o)
	remark := ""
	switch o.Status {
	case providers.StatusFailed:
		remark = firstNonEmpty(o.Remark, "payment failed")
	case providers.StatusExpired:
		remark = firstNonEmpty(o.Remark, "order expired")
	case providers.StatusReversed:
		remark = "order reversed"
	}
	status, _ := strconv.Atoi(wireStatus(o.Status))
	b := callbackBody{
		PlatOrderID: o.ID,
		OrderID:     o.OrderNo,
		Amount:      json.Number(amount.String()),
		Status:      status,
		Reverse:     o.Status == providers.StatusReversed,
		Remark:      remark,
		Fee:         json.Number(fee.String()),
	}
	b.Sign = Sign(map[string]string{
		"platOrderId": b.PlatOrderID, "orderId": b.OrderID, "amount": b.Amount.String(),
		"status": strconv.Itoa(b.Status), "reverse": strconv.FormatBool(b.Reverse),
		"remark": b.Remark, "fee": b.Fee.String(),
	}, m.Secret)
	if forged {
		b.Amount = json.Number(amount.Add(decimal.NewFromInt(1)).String())
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("cxpay callback: %w", err)
	}
	return &sim.Outbound{Method: http.MethodPost, URL: o.NotifyURL, ContentType: "application/json", Body: body}, nil
}

// Schedule is a copy of RetrySchedule.
func (protocol) Schedule() []time.Duration { return slices.Clone(RetrySchedule) }

// Ack is "success".
func (protocol) Ack() string { return Ack }

// wireAmounts are the amount and fee CXPay shows for an order: once paid, the
// amount actually paid and the commission taken; before that, or after a
// failure, the order amount and no commission (a payout in flight shows the
// commission it will cost).
func wireAmounts(o *sim.Order) (amount, fee decimal.Decimal) {
	switch o.Status {
	case providers.StatusSucceeded, providers.StatusReversed:
		return o.Paid, o.Fee
	case providers.StatusFailed, providers.StatusExpired:
		return o.Amount, decimal.Zero
	}
	if o.Kind == providers.KindPayout {
		return o.Amount, o.Fee
	}
	return o.Amount, decimal.Zero
}

// utrFor is the 12-digit transaction code CXPay shows for a paid order: the
// last twelve digits of its numeric platform order id.
func utrFor(id string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, id)
	if len(digits) >= 12 {
		return digits[len(digits)-12:]
	}
	return strings.Repeat("0", 12-len(digits)) + digits
}
