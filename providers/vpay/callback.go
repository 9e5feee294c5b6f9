package vpay

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// The callback answers: Ack, "只需要返回success,即表示消息已处理" (vpay.txt),
// stops MinPay's retries; AckFail, anything else, makes it send again.
const (
	Ack     = "success"
	AckFail = "fail"
)

// MaxCallbackBytes bounds a callback body; MinPay's are well under 1 KiB.
const MaxCallbackBytes = 64 << 10

// ParseCallback verifies a MinPay callback (JSON POST, signed over every field
// including the nested extra object) and normalizes it:
//
//   - Requested = amount (the order amount in currency, the paid currency);
//   - Paid = userAmount (what the payer actually sent, in userCurrency);
//   - Credited = merchantActualAmount and Fee = merchantPaidAmount -
//     merchantActualAmount when merchantCurrency is the event currency;
//   - when merchantCurrency is another currency, the merchant's balance moved
//     in it: the event states that (Currency = merchantCurrency, Paid =
//     merchantPaidAmount, Credited = merchantActualAmount, Fee their
//     difference, no Requested), and the payer's side is in Remark and Raw;
//   - Quote = extra {quoteCurrency, quoteAmount, quotePrice};
//   - Kind from bizType before type (see KindOf), Status from status (MapStatus).
func (a *Adapter) ParseCallback(cb *providers.Callback) (*providers.Event, error) {
	const op = "callback"
	if cb == nil || len(cb.Body) == 0 {
		return nil, providers.Invalid(Name, op, "empty callback")
	}
	if cb.Method != "" && cb.Method != http.MethodPost {
		return nil, providers.Invalid(Name, op, "callback method %s, MinPay posts", cb.Method)
	}
	if len(cb.Body) > MaxCallbackBytes {
		return nil, providers.Invalid(Name, op, "callback body of %d bytes exceeds %d", len(cb.Body), MaxCallbackBytes)
	}
	root, err := parseJSON(cb.Body)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Err: err}
	}
	if root.kind != kindObject {
		return nil, providers.Invalid(Name, op, "callback body is not a JSON object")
	}
	if !verifyObject(root, a.cfg.Secret.Reveal()) {
		return nil, providers.Errorf(providers.ErrBadSignature, Name, op, "callback signature does not verify")
	}
	ev, err := a.callbackEvent(root)
	if err != nil {
		return nil, providers.Unreadable(err)
	}
	ev.Raw = append([]byte(nil), cb.Body...)
	a.log.Debug("vpay callback verified", "order_no", ev.OrderNo, "provider_order_id", ev.ProviderOrderID, "status", ev.ProviderStatus)
	return ev, nil
}

// callbackEvent reads the fields of a verified callback.
func (a *Adapter) callbackEvent(root *node) (*providers.Event, error) {
	const op = "callback"
	str := func(name string) string {
		v, _ := root.field(name).scalar()
		return strings.TrimSpace(v)
	}
	key := str("key")
	if key != a.cfg.MerchantID {
		return nil, providers.Invalid(Name, op, "callback for merchant key %q, this account is %q", key, a.cfg.MerchantID)
	}
	if a.merchantNo != "" && str("merchantId") != a.merchantNo {
		return nil, providers.Invalid(Name, op, "callback for merchantId %q, this account is %q", str("merchantId"), a.merchantNo)
	}
	if err := providers.RequireFields(Name, op, "orderId", str("orderId"), "localOrderId", str("localOrderId"), "status", str("status"), "currency", str("currency")); err != nil {
		return nil, err
	}
	status, _ := MapStatus(str("status"))
	ev := &providers.Event{
		Provider:        Name,
		Kind:            KindOf(str("bizType"), str("type")),
		ProviderOrderID: str("orderId"),
		OrderNo:         str("localOrderId"),
		Status:          status,
		ProviderStatus:  str("status"),
		Currency:        str("currency"),
		Reversed:        status == providers.StatusReversed,
		UserID:          str("merchantUserId"),
		Verified:        true,
	}
	amounts := map[string]decimal.NullDecimal{}
	for _, name := range []string{"amount", "userAmount", "merchantPaidAmount", "merchantActualAmount", "notifyTime"} {
		d, present, err := root.field(name).amount()
		if err != nil {
			return nil, providers.Invalid(Name, op, "field %s: %v", name, err)
		}
		if present {
			if d.IsNegative() {
				return nil, providers.Invalid(Name, op, "field %s is negative: %s", name, d.String())
			}
			amounts[name] = providers.Nullable(d)
		}
	}
	ev.Requested = amounts["amount"]
	if uc := str("userCurrency"); uc == "" || uc == ev.Currency {
		ev.Paid = amounts["userAmount"]
	}
	gross, net := amounts["merchantPaidAmount"], amounts["merchantActualAmount"]
	if t := amounts["notifyTime"]; t.Valid {
		ev.OccurredAt = msTime(t.Decimal)
	}
	q, err := quoteOf(root.field("extra"))
	if err != nil {
		return nil, providers.Invalid(Name, op, "extra: %v", err)
	}
	ev.Quote = q
	mc := str("merchantCurrency")
	if mc == "" || mc == ev.Currency {
		ev.Credited = net
		if gross.Valid && net.Valid && !gross.Decimal.LessThan(net.Decimal) {
			ev.Fee = providers.Nullable(gross.Decimal.Sub(net.Decimal))
		}
		return ev, nil
	}
	// The merchant's balance moved in another currency than the payer paid:
	// what the event states moved for the merchant is that, in mc. The payer's
	// side stays in Remark and Raw as evidence; tally then sees a currency the
	// order does not settle in and flags it (package settle).
	ev.Remark = fmt.Sprintf("payer paid %s %s (order amount %s %s)", nullString(amounts["userAmount"]), str("userCurrency"), nullString(ev.Requested), ev.Currency)
	ev.Currency, ev.Requested, ev.Paid, ev.Credited, ev.Fee = mc, decimal.NullDecimal{}, gross, net, decimal.NullDecimal{}
	if gross.Valid && net.Valid && !gross.Decimal.LessThan(net.Decimal) {
		ev.Fee = providers.Nullable(gross.Decimal.Sub(net.Decimal))
	}
	if q != nil && q.Currency == mc {
		ev.Quote = nil // the quote is no longer in another currency than the event's
	}
	return ev, nil
}

// quoteOf reads the extra object {quoteAmount, quoteCurrency, quotePrice};
// nil when absent.
func quoteOf(extra *node) (*providers.Quote, error) {
	if extra == nil || extra.kind == kindNull {
		return nil, nil
	}
	if extra.kind != kindObject {
		return nil, fmt.Errorf("not an object")
	}
	cur, _ := extra.field("quoteCurrency").scalar()
	amt, hasAmt, err := extra.field("quoteAmount").amount()
	if err != nil {
		return nil, fmt.Errorf("quoteAmount: %w", err)
	}
	rate, hasRate, err := extra.field("quotePrice").amount()
	if err != nil {
		return nil, fmt.Errorf("quotePrice: %w", err)
	}
	if cur == "" && !hasAmt && !hasRate {
		return nil, nil
	}
	if cur == "" || !hasAmt || !hasRate || amt.IsNegative() || !rate.IsPositive() {
		return nil, fmt.Errorf("quoteCurrency, quoteAmount and a positive quotePrice are required together")
	}
	return &providers.Quote{Currency: cur, Amount: amt, Rate: rate}, nil
}

func nullString(d decimal.NullDecimal) string {
	if !d.Valid {
		return "-"
	}
	return d.Decimal.String()
}

// Reply is "success" (HTTP 200) when the callback was stored; a bad signature
// or an unreadable callback gets 400 "fail", anything else 500 "fail", so
// that MinPay sends it again on its schedule.
func (a *Adapter) Reply(err error) providers.Reply {
	switch {
	case err == nil:
		return providers.TextReply(http.StatusOK, Ack)
	case errors.Is(err, providers.ErrBadSignature), errors.Is(err, providers.ErrInvalidRequest):
		return providers.TextReply(http.StatusBadRequest, AckFail)
	default:
		return providers.TextReply(http.StatusInternalServerError, AckFail)
	}
}
