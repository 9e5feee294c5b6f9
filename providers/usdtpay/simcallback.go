package usdtpay

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// protocol renders UsdtPay's callbacks for the engine.
type protocol struct{}

// Callback renders the success callback: a form POST to receiveUrl with
// ?amount=<USDT> appended, fields in the document's order. UsdtPay calls back
// only after a successful payment: other states render nothing. orderAmount
// echoes the request's value when the payer paid it exactly, else the paid
// amount with two decimals.
func (protocol) Callback(m *sim.Merchant, o *sim.Order, forged bool) (*sim.Outbound, error) {
	status, ok := callbackStatus(o.Status)
	if !ok || o.NotifyURL == "" {
		return nil, nil
	}
	f := CallbackFields{
		SignType:      firstNonEmpty(o.Fields["signType"], SignTypeMD5),
		OrderNo:       o.OrderNo,
		OrderAmount:   wireAmount(o.Paid),
		OrderCurrency: o.Currency,
		TransactionID: o.ID,
		Status:        status,
	}
	if raw := o.Fields["orderAmount"]; raw != "" && o.Paid.Equal(o.Amount) {
		f.OrderAmount = raw
	}
	f.Sign = f.ComputeSign(m.Secret)
	usdt := usdtFor(o.Paid, o.Rate)
	if forged {
		// A tampered copy: ten times the amount under the genuine signature.
		ten := decimal.NewFromInt(10)
		f.OrderAmount = wireAmount(o.Paid.Mul(ten))
		usdt = usdt.Mul(ten)
	}
	u := o.NotifyURL
	if usdt.IsPositive() {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "amount=" + url.QueryEscape(usdt.StringFixed(2))
	}
	var body strings.Builder
	for i, kv := range f.pairs() {
		if i > 0 {
			body.WriteByte('&')
		}
		body.WriteString(url.QueryEscape(kv[0]) + "=" + url.QueryEscape(kv[1]))
	}
	return &sim.Outbound{
		Method:      http.MethodPost,
		URL:         u,
		ContentType: "application/x-www-form-urlencoded",
		Body:        []byte(body.String()),
	}, nil
}

// RetrySchedule is the wait before each try of a callback after the first:
// "每1分钟回调一次，共回调10次", ten tries one minute apart.
var RetrySchedule = []time.Duration{
	time.Minute, time.Minute, time.Minute, time.Minute, time.Minute,
	time.Minute, time.Minute, time.Minute, time.Minute,
}

// Schedule is a copy of RetrySchedule.
func (protocol) Schedule() []time.Duration { return slices.Clone(RetrySchedule) }

// Ack is "success".
func (protocol) Ack() string { return Ack }

// wireAmount writes an amount as UsdtPay does, with two decimals, or exactly
// when it has more (money is never rounded).
func wireAmount(d decimal.Decimal) string {
	if providers.CheckDecimals(d, 2) == nil {
		return d.StringFixed(2)
	}
	return d.String()
}
