package cxpay

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// The callback answers: Ack, "the lowercase string 'success', indicating
// successful reception" (cxpay.txt); AckFail, anything else, makes CXPay push
// the notification again.
const (
	Ack     = "success"
	AckFail = "fail"
)

// MaxCallbackBytes bounds a callback body; CXPay's are a few hundred bytes.
const MaxCallbackBytes = 64 << 10

// ParseCallback verifies and normalizes CXPay's notification: a JSON POST of
// {platOrderId, orderId, amount, status, reverse, remark, fee, sign}, signed over
// every field it carries (numbers and booleans as their JSON text). The
// signature is checked before any field is interpreted.
//
// amount is what the payer actually paid (or the payout sent): for status 1 it
// is the event's Paid, and a payer-modified amount shows as Paid different from
// the order — the callback does not restate the requested amount, so Requested
// is invalid and the comparison is tally's. For status 0 and 2 nothing was
// paid, so Paid is invalid too. Fee is set when the callback carries it.
// Credited is never set: CXPay does not state it. The kind (deposit or payout)
// is not in the callback and stays empty.
func (a *Adapter) ParseCallback(cb *providers.Callback) (*providers.Event, error) {
	const op = "callback"
	if cb == nil || len(bytes.TrimSpace(cb.Body)) == 0 {
		return nil, providers.Invalid(Name, op, "empty callback body")
	}
	if len(cb.Body) > MaxCallbackBytes {
		return nil, providers.Invalid(Name, op, "callback body of %d bytes exceeds %d", len(cb.Body), MaxCallbackBytes)
	}
	params, err := ParseJSONParams(cb.Body)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Message: "callback is not CXPay's JSON", Err: err}
	}
	if params[SignField] == "" {
		return nil, providers.Errorf(providers.ErrBadSignature, Name, op, "callback has no sign")
	}
	if !Verify(params, a.cfg.Secret.Reveal()) {
		// Debug: anyone can post junk; tally's ingress logs the rejections it
		// keeps as samples, a bounded number, never one line per delivery.
		a.log.Debug("cxpay callback signature does not verify", "account", a.cfg.Account, "order_no", params["orderId"], "remote_addr", remoteAddr(cb))
		return nil, providers.Errorf(providers.ErrBadSignature, Name, op, "signature does not verify")
	}
	ev, err := a.event(op, params, "", cb.Body)
	if err != nil {
		return nil, providers.Unreadable(err)
	}
	return ev, nil
}

// Reply answers a callback: "success" (CXPay's documented acknowledgement)
// when err is nil; otherwise "fail", with 400 for a bad signature or an
// unreadable body and 500 for anything else, so that CXPay pushes again.
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

// event normalizes the fields shared by callbacks and order queries; p is
// already verified (callback) or was fetched by the adapter itself (query).
func (a *Adapter) event(op string, p map[string]string, kind providers.OrderKind, raw []byte) (*providers.Event, error) {
	if p["orderId"] == "" {
		return nil, providers.Invalid(Name, op, "no orderId")
	}
	if p["status"] == "" {
		return nil, providers.Invalid(Name, op, "order %s: no status", p["orderId"])
	}
	var reverse bool
	switch p["reverse"] {
	case "", "false":
	case "true":
		reverse = true
	default:
		return nil, providers.Invalid(Name, op, "order %s: reverse %q is not a boolean", p["orderId"], p["reverse"])
	}
	amount, err := nonNegative(p["amount"])
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Message: "order " + p["orderId"] + ": amount", Err: err}
	}
	var fee decimal.NullDecimal
	if p["fee"] != "" {
		f, err := nonNegative(p["fee"])
		if err != nil {
			return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Message: "order " + p["orderId"] + ": fee", Err: err}
		}
		fee = providers.Nullable(f)
	}
	status, known := MapStatus(p["status"], reverse, kind)
	if !known {
		a.log.Warn("cxpay unknown status; reported as processing", "account", a.cfg.Account, "op", op, "order_no", p["orderId"], "status", p["status"])
	}
	ev := &providers.Event{
		Provider:        Name,
		Kind:            kind,
		ProviderOrderID: p["platOrderId"],
		OrderNo:         p["orderId"],
		Status:          status,
		ProviderStatus:  p["status"],
		Fee:             fee,
		Currency:        a.currency,
		Reversed:        reverse,
		TxHash:          p["utr"],
		Remark:          p["remark"],
		Verified:        true,
		Raw:             bytes.Clone(raw),
	}
	if p["status"] == StatusPaid {
		ev.Paid = providers.Nullable(amount)
	}
	return ev, nil
}

// nonNegative parses an amount CXPay sent and refuses a negative one.
func nonNegative(s string) (decimal.Decimal, error) {
	d, err := providers.ParseAmount(s)
	if err != nil {
		return d, err
	}
	if d.IsNegative() {
		return d, errors.New("negative amount " + s)
	}
	return d, nil
}

func remoteAddr(cb *providers.Callback) string {
	if cb == nil {
		return ""
	}
	return cb.RemoteAddr
}
