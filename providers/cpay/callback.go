package cpay

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tallyhq/tally/providers"
)

// The webhook answers: C-Pay's "webhook server returns OK or FAIL text".
const (
	Ack     = "OK"
	AckFail = "FAIL"
)

// MaxCallbackBytes bounds a webhook body; C-Pay's are a few hundred bytes.
const MaxCallbackBytes = 64 << 10

// ParseCallback verifies and normalizes a C-Pay webhook: a JSON POST whose
// members are signed like a request (values as their JSON text, so a number
// signs as it was written), with the signature in "sign". Every webhook must
// carry a verifying signature, although the document marks sign optional: an
// unsigned one wraps ErrBadSignature, like a wrong one.
//
// Amounts: actualAmount (what C.Pay received, or for a payout what it sent)
// becomes Paid, receivedAmount (what moved on the merchant account) Credited,
// fee Fee; an amount C-Pay leaves out or empty stays unstated. The webhook has
// no requested amount, so Requested is never set. A deposit to a user's
// wallet address that belongs to no order has no merchantTradeNo but carries
// merchantUserId and hash: its event has OrderNo "" and UserID set, and Kind
// deposit (the webhook does not otherwise say whether an order is a deposit or
// a payout).
func (a *Adapter) ParseCallback(cb *providers.Callback) (*providers.Event, error) {
	const op = "webhook"
	if cb == nil {
		return nil, providers.Invalid(Name, op, "no callback")
	}
	if len(cb.Body) > MaxCallbackBytes {
		return nil, providers.Invalid(Name, op, "body larger than %d bytes", MaxCallbackBytes)
	}
	obj, err := decodeObject(cb.Body)
	if err == nil && obj == nil {
		err = errors.New("empty body")
	}
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Message: "body is not a JSON object", Err: err}
	}
	ps, err := JSONParams(obj)
	if err != nil {
		return nil, &providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Message: "unreadable member", Err: err}
	}
	sig := ps[SignField]
	if sig == "" {
		return nil, providers.Errorf(providers.ErrBadSignature, Name, op, "webhook carries no sign")
	}
	if !Verify(ps, a.cfg.Secret.Reveal(), sig) {
		return nil, providers.Errorf(providers.ErrBadSignature, Name, op, "sign does not verify")
	}
	if m := ps["merchantId"]; m != a.cfg.MerchantID {
		return nil, providers.Unreadable(providers.Invalid(Name, op, "webhook for merchant %q, this account is %q", m, a.cfg.MerchantID))
	}
	ev, err := eventFrom(obj, "orderStatus", "cryptoCurrency")
	if err != nil {
		return nil, providers.Unreadable(&providers.Error{Kind: providers.ErrInvalidRequest, Provider: Name, Op: op, Message: "signed webhook does not parse", Err: err})
	}
	if ev.OrderNo == "" && ev.UserID != "" {
		ev.Kind = providers.KindDeposit
	}
	ev.Verified = true
	ev.Raw = append([]byte(nil), cb.Body...)
	return ev, nil
}

// eventFrom reads the members webhooks and order details share; they differ in
// the names of the status and currency members.
func eventFrom(o object, statusKey, currencyKey string) (*providers.Event, error) {
	code, err := o.text(statusKey)
	if err != nil {
		return nil, err
	}
	if code == "" {
		return nil, fmt.Errorf("no %s", statusKey)
	}
	st, err := MapStatus(code)
	if err != nil {
		return nil, err
	}
	ev := &providers.Event{
		Provider:        Name,
		ProviderOrderID: o.str("orderId"),
		OrderNo:         o.str("merchantTradeNo"),
		Status:          st,
		ProviderStatus:  code,
		Currency:        o.str(currencyKey),
		TxHash:          o.str("hash"),
		Network:         o.str("network"),
		UserID:          o.str("merchantUserId"),
		Remark:          o.str("remark"),
	}
	var e1, e2, e3, e4 error
	ev.Paid, e1 = o.amount("actualAmount")
	ev.Credited, e2 = o.amount("receivedAmount")
	ev.Fee, e3 = o.amount("fee")
	ev.OccurredAt, e4 = parseTime(o.str("createTime"))
	if err := errors.Join(e1, e2, e3, e4); err != nil {
		return nil, err
	}
	return ev, nil
}

// parseTime reads createTime: milliseconds since the epoch (the documented
// unit), tolerating seconds and the Java demo's yyyyMMddHHmmss. Empty is zero.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) == 14 {
		if t, err := time.ParseInLocation("20060102150405", s, time.UTC); err == nil {
			return t, nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("malformed createTime %q", s)
	}
	if n < 100_000_000_000 { // before 1973 in ms: it is seconds
		return time.Unix(n, 0).UTC(), nil
	}
	return time.UnixMilli(n).UTC(), nil
}

// Reply answers a webhook: "OK" once it is stored; "FAIL" otherwise, with 400
// for a webhook that will never verify or parse and 500 for our own failure, so
// that C-Pay retries.
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
