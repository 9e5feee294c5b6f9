package vpay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// protocol renders MinPay's callbacks for the engine.
type protocol struct{ now func() time.Time }

// Callback renders the JSON callback for the order's state: none while
// pending; PROCESSING, SUCCESS, FAIL, EXPIRED or REVERSED otherwise. forged
// alters userAmount and keeps the genuine signature, which then fails.
func (p protocol) Callback(m *sim.Merchant, o *sim.Order, forged bool) (*sim.Outbound, error) {
	if o.Status == providers.StatusPending || o.NotifyURL == "" {
		return nil, nil
	}
	settle := o.SettleCurrency
	if settle == "" {
		settle = o.Currency
	}
	fields := map[string]any{
		"amount":               json.Number(o.Amount.String()),
		"bizType":              BizFixedDigitalScan,
		"currency":             o.Currency,
		"key":                  m.ID,
		"localOrderId":         o.OrderNo,
		"merchantActualAmount": json.Number(o.Credited.String()),
		"merchantCurrency":     settle,
		"merchantId":           idValue(merchantNumber(m)),
		"merchantPaidAmount":   json.Number(o.Paid.String()),
		"notifyTime":           json.Number(fmt.Sprint(p.now().UnixMilli())),
		"orderCreateTime":      json.Number(fmt.Sprint(o.CreatedAt.UnixMilli())),
		"orderId":              o.ID,
		"status":               wireStatus(o.Status),
		"type":                 TypePayment,
		"userAmount":           json.Number(o.Paid.String()),
		"userCurrency":         o.Currency,
	}
	if o.UserID != "" {
		fields["merchantUserId"] = o.UserID
	}
	if o.QuoteCurrency != "" {
		fields["extra"] = map[string]any{
			"quoteAmount":   json.Number(o.QuoteAmount.String()),
			"quoteCurrency": o.QuoteCurrency,
			"quotePrice":    json.Number(o.Rate.String()),
		}
	}
	body, err := signedJSON(fields, m.Secret)
	if err != nil {
		return nil, err
	}
	if forged {
		// signedJSON left the genuine sign in fields: alter the amount under it.
		fields["userAmount"] = json.Number(o.Paid.Add(decimal.NewFromInt(1)).String())
		if body, err = json.Marshal(fields); err != nil {
			return nil, err
		}
	}
	return &sim.Outbound{Method: http.MethodPost, URL: o.NotifyURL, ContentType: "application/json", Body: body}, nil
}

// idValue writes a numeric id as a JSON number, as MinPay does, and any other
// id as a string.
func idValue(id string) any {
	if _, err := providers.ParseAmount(id); err == nil && !strings.ContainsAny(id, ".-") {
		return json.Number(id)
	}
	return id
}

// RetrySchedule is MinPay's documented retry schedule after the first
// attempt: "目前的重试频率为15s, 15s, 30s, 180s, 600s, 1200s, 1800s".
var RetrySchedule = []time.Duration{15 * time.Second, 15 * time.Second, 30 * time.Second, 180 * time.Second, 600 * time.Second, 1200 * time.Second, 1800 * time.Second}

// Schedule is a copy of RetrySchedule.
func (protocol) Schedule() []time.Duration { return slices.Clone(RetrySchedule) }

// Ack is "success".
func (protocol) Ack() string { return Ack }
