package usdtpay

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/tallyhq/tally/providers"
)

// The callback answers: Ack, the documented acknowledgement ("CRM如果返回字符串success
// 表示成功收到并处理"), which stops UsdtPay's retries; AckFail, anything but
// Ack, makes UsdtPay call back again.
const (
	Ack     = "success"
	AckFail = "fail"
)

// MaxCallbackBytes bounds a callback body: seven short fields never come near it.
const MaxCallbackBytes = 16 << 10

// ParseCallback verifies and normalizes a callback: a form POST to receiveUrl
// with signType, orderNo, orderAmount, orderCurrency, transactionId, status and
// sign, and the unsigned USDT `amount` in the URL's query string.
//
// The signature is checked first, over the fields exactly as received, before
// anything else is read from them: a missing or wrong sign is ErrBadSignature.
// A body that is not a form, a repeated field, a missing field, an undocumented
// status or signType, or a malformed amount is ErrInvalidRequest.
//
// The event: Kind deposit, ProviderOrderID = transactionId, Paid = orderAmount
// in Currency = orderCurrency (what UsdtPay settled the order for; tally
// compares it with the amount it asked for), Requested, Credited and Fee not
// stated. The USDT amount, when present and well-formed, is Quote{USDT, amount,
// Rate 0 (not stated)}; it is unsigned, so it is information only and never a
// basis for posting money. This is the UsdtPay shape that providers.Event.Quote
// documents: the event in the signed order currency, Quote the paid USDT side
// (the reverse of VPay, whose signed side is the paid one). A malformed USDT
// amount does not refuse the callback: it is left out and noted in Remark.
// Raw is the body as received.
func (a *Adapter) ParseCallback(cb *providers.Callback) (*providers.Event, error) {
	const op = "callback"
	if cb == nil {
		return nil, providers.Invalid(Name, op, "no callback")
	}
	if cb.Method != "" && cb.Method != http.MethodPost {
		return nil, providers.Invalid(Name, op, "method %s: UsdtPay callbacks are form POSTs", cb.Method)
	}
	if ct := cb.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, providers.Invalid(Name, op, "content type %q: UsdtPay callbacks are application/x-www-form-urlencoded", ct)
		}
	}
	if len(cb.Body) > MaxCallbackBytes {
		return nil, providers.Invalid(Name, op, "body of %d bytes is larger than %d", len(cb.Body), MaxCallbackBytes)
	}
	form, err := url.ParseQuery(string(cb.Body))
	if err != nil {
		return nil, providers.Invalid(Name, op, "body is not a form: %v", err)
	}
	for _, name := range callbackFieldNames {
		if len(form[name]) > 1 {
			return nil, providers.Invalid(Name, op, "field %s sent %d times", name, len(form[name]))
		}
	}
	f := CallbackFields{
		SignType:      form.Get("signType"),
		OrderNo:       form.Get("orderNo"),
		OrderAmount:   form.Get("orderAmount"),
		OrderCurrency: form.Get("orderCurrency"),
		TransactionID: form.Get("transactionId"),
		Status:        form.Get("status"),
		Sign:          form.Get("sign"),
	}
	if f.Sign == "" {
		// Debug: anyone can post junk; tally's ingress logs the rejections it
		// keeps as samples, a bounded number, never one line per delivery.
		a.logger.Debug("usdtpay callback without sign", "order_no", f.OrderNo)
		return nil, providers.Errorf(providers.ErrBadSignature, Name, op, "callback for order %q carries no sign", f.OrderNo)
	}
	if !f.Verify(a.key.Reveal()) {
		a.logger.Debug("usdtpay callback signature does not verify", "order_no", f.OrderNo)
		return nil, providers.Errorf(providers.ErrBadSignature, Name, op, "callback for order %q: signature does not verify", f.OrderNo)
	}
	if err := providers.RequireFields(Name, op, "signType", f.SignType, "orderNo", f.OrderNo, "orderAmount", f.OrderAmount,
		"orderCurrency", f.OrderCurrency, "transactionId", f.TransactionID, "status", f.Status); err != nil {
		return nil, providers.Unreadable(err)
	}
	if !strings.EqualFold(f.SignType, SignTypeMD5) {
		return nil, providers.Unreadable(providers.Invalid(Name, op, "signType %q (only MD5 is documented)", f.SignType))
	}
	status, err := MapStatus(f.Status)
	if err != nil {
		return nil, providers.Unreadable(&providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Code: f.Status, Err: err})
	}
	paid, err := providers.ParseAmount(f.OrderAmount)
	if err != nil || !paid.IsPositive() {
		return nil, providers.Unreadable(providers.Invalid(Name, op, "orderAmount %q is not a positive amount", f.OrderAmount))
	}
	if !isCurrencyCode(f.OrderCurrency) {
		return nil, providers.Unreadable(providers.Invalid(Name, op, "orderCurrency %q is not a currency code", f.OrderCurrency))
	}
	ev := &providers.Event{
		Provider:        Name,
		Kind:            providers.KindDeposit,
		ProviderOrderID: f.TransactionID,
		OrderNo:         f.OrderNo,
		Status:          status,
		ProviderStatus:  f.Status,
		Paid:            providers.Nullable(paid),
		Currency:        f.OrderCurrency,
		Verified:        true,
		Raw:             append([]byte(nil), cb.Body...),
	}
	quote, remark := usdtAmount(cb.Query, form)
	ev.Quote, ev.Remark = quote, remark
	a.logger.Debug("usdtpay callback verified", "order_no", f.OrderNo, "transaction_id", f.TransactionID, "status", f.Status)
	return ev, nil
}

// Reply answers a callback: "success" (200) when err is nil, which stops
// UsdtPay's retries; otherwise "fail", with 400 for a callback that will never
// verify or parse, and 500 for our own failure (e.g. storing it). Anything but
// "success" makes UsdtPay retry, every minute, ten tries in all.
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

// callbackFieldNames are the callback's form fields; each may appear once.
var callbackFieldNames = []string{"signType", "orderNo", "orderAmount", "orderCurrency", "transactionId", "status", "sign"}

// usdtAmount reads the unsigned USDT `amount`: from the query string, where the
// document says to read it ("with GET"), or else from the form body. It
// returns the quote, or a remark when the value is present but unusable.
func usdtAmount(query url.Values, form url.Values) (*providers.Quote, string) {
	vals := query["amount"]
	if len(vals) == 0 {
		vals = form["amount"]
	}
	switch {
	case len(vals) == 0:
		return nil, ""
	case len(vals) > 1:
		return nil, "USDT amount sent more than once; ignored"
	}
	d, err := providers.ParseAmount(vals[0])
	if err != nil || !d.IsPositive() {
		return nil, "unusable USDT amount " + quoteShort(vals[0]) + " ignored"
	}
	return &providers.Quote{Currency: USDT, Amount: d}, ""
}

func quoteShort(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
