package cpay

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/sim"
)

// RetrySchedule is the wait before each retry of a webhook the merchant did
// not answer OK. The document says ten tries and gives no intervals; this
// backs off from 10 s to 2 h, the last try about 3 h 49 min after the first.
var RetrySchedule = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
}

// protocol renders C-Pay's webhooks for the simulator engine: a JSON POST to
// the order's callback URL (or the merchant's configured one) with every
// member a string, signed over its non-empty members. C-Pay calls back "after
// the order succeeds or fails" and when "a payout was initiated": PROCESSING
// (11), COMPLETED (14) and CLOSED (15) are sent, PENDING (0) never. A failed,
// expired or reversed order is CLOSED; an exchange sends nothing.
type protocol struct{}

var _ sim.Protocol = protocol{}

// Callback renders the webhook for o's current state, or nil when C-Pay sends
// none. forged alters actualAmount and receivedAmount after signing.
func (protocol) Callback(m *sim.Merchant, o *sim.Order, forged bool) (*sim.Outbound, error) {
	if o.Status == providers.StatusPending || o.Kind == kindExchange || m == nil {
		return nil, nil
	}
	url := o.NotifyURL
	if url == "" {
		url = m.NotifyURL
	}
	actual, received, fee := orderAmounts(o)
	body := map[string]string{
		"merchantId":      o.MerchantID,
		"merchantTradeNo": o.OrderNo,
		"merchantUserId":  o.UserID,
		"orderId":         o.ID,
		"orderStatus":     StatusCode(o.Status),
		"hash":            txHash(o),
		"actualAmount":    actual,
		"receivedAmount":  received,
		"fee":             fee,
		"cryptoCurrency":  o.Currency,
		"network":         o.Network,
		"remark":          orderRemark(o),
		"extInfo":         o.Fields[fieldExtInfo],
		"createTime":      millis(o.CreatedAt),
	}
	body[SignField] = Sign(body, m.Secret)
	if forged {
		one := decimal.NewFromInt(1)
		body["actualAmount"] = decimal.RequireFromString(actual).Add(one).String()
		body["receivedAmount"] = decimal.RequireFromString(received).Add(one).String()
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return &sim.Outbound{Method: http.MethodPost, URL: url, ContentType: "application/json", Body: b}, nil
}

// Schedule is RetrySchedule: ten tries.
func (protocol) Schedule() []time.Duration { return slices.Clone(RetrySchedule) }

// Ack is "OK".
func (protocol) Ack() string { return Ack }

// orderAmounts are an order's actualAmount, receivedAmount and fee as C-Pay
// reports them. For a deposit: what the payer paid, what the merchant was
// credited, the fee. For a payout: what was sent to the beneficiary (0 until
// it completes), what left the merchant account (amount plus fee), the fee. A
// failed or expired order moved nothing: all zero. A reversed order keeps the
// amounts that were reversed.
func orderAmounts(o *sim.Order) (actual, received, fee string) {
	if o.Status == providers.StatusFailed || o.Status == providers.StatusExpired {
		return "0", "0", "0"
	}
	return o.Paid.String(), o.Credited.String(), o.Fee.String()
}

// orderRemark is the remark C-Pay shows for an order.
func orderRemark(o *sim.Order) string {
	switch {
	case o.Remark != "":
		return o.Remark
	case o.Status == providers.StatusExpired:
		return "order expired"
	case o.Status == providers.StatusReversed:
		return "order reversed"
	}
	return o.Fields[fieldRemark]
}

// txHash is an order's on-chain transaction hash: the one given (a deposit
// without an order names its own), or for a crypto order that moved money a
// hash derived from the order, so that getOrderDetail finds it by hash.
func txHash(o *sim.Order) string {
	if o.TxHash != "" {
		return o.TxHash
	}
	if !slices.Contains(cryptoCurrencies, o.Currency) || o.Kind == kindExchange {
		return ""
	}
	if o.Status != providers.StatusSucceeded && o.Status != providers.StatusReversed {
		return ""
	}
	sum := sha256.Sum256([]byte("cpay-sim-tx\x00" + o.MerchantID + "\x00" + o.ID))
	return hex.EncodeToString(sum[:])
}
