package usdtcnpay

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tallyhq/tally/providers"
)

// Callback URL parameters. The platform calls the successUrl or failUrl it was
// given and adds nothing of its own, so everything tally needs to recognise the
// order travels in the URL the adapter built.
const (
	ParamResult  = "result"  // ResultSuccess or ResultFail
	ParamKind    = "kind"    // "deposit" or "payout"
	ParamOrderNo = "orderNo" // the merchant order number
	ParamSig     = "sig"     // CallbackSignature over result, kind and orderNo
)

// Callback results: which of the two URLs the platform called.
const (
	ResultSuccess = "success"
	ResultFail    = "fail"
)

// The callback answers: Ack is the acknowledgement the simulator waits for,
// HTTP 200 with body "success". The document names none; "success" is the
// common convention of Chinese payment platforms. AckFail, or any other
// answer, makes the simulator call again.
const (
	Ack     = "success"
	AckFail = "fail"
)

// MaxCallbackBytes is the largest callback body the adapter needs: none. The
// platform calls the success and fail URLs and documents no body
// (Capabilities.CallbackBodyIgnored: tally drops a body before the callback
// is stored); everything ParseCallback reads is in the URL's query.
const MaxCallbackBytes = 0

// CallbackURLs builds the successUrl and failUrl of an order from a notify URL
// (tally's /callbacks/{account}): the notify URL with result, kind, orderNo and
// sig added to its query. Parameters of the same names already there are
// replaced.
func (a *Adapter) CallbackURLs(notifyURL string, kind providers.OrderKind, orderNo string) (success, fail string, err error) {
	u, err := url.Parse(notifyURL)
	if err != nil {
		return "", "", fmt.Errorf("notify URL: %w", err)
	}
	build := func(result string) string {
		c := *u
		q := c.Query()
		q.Set(ParamResult, result)
		q.Set(ParamKind, string(kind))
		q.Set(ParamOrderNo, orderNo)
		q.Set(ParamSig, CallbackSignature(a.callbackKey, result, string(kind), orderNo))
		c.RawQuery = q.Encode()
		return c.String()
	}
	return build(ResultSuccess), build(ResultFail), nil
}

// ParseCallback reads a call of a successUrl or failUrl. It accepts GET and
// POST and ignores any body: the platform documents none. The sig parameter
// must match the result, kind and orderNo (else ErrBadSignature), which proves
// the URL is one this account issued and was not altered; it cannot prove
// that the platform meant it. The event therefore has Verified false and
// carries no amount: it is a hint to query the order (getcharge/getwithdraw),
// never a reason to post money.
func (a *Adapter) ParseCallback(cb *providers.Callback) (*providers.Event, error) {
	const op = "callback"
	if cb == nil {
		return nil, providers.Invalid(Name, op, "no callback")
	}
	switch cb.Method {
	case "", http.MethodGet, http.MethodPost:
	default:
		return nil, providers.Invalid(Name, op, "method %s: the platform calls the callback URLs with GET or POST", cb.Method)
	}
	q := cb.Query
	if len(q) == 0 {
		if i := strings.IndexByte(cb.Path, '?'); i >= 0 {
			q, _ = url.ParseQuery(cb.Path[i+1:])
		}
	}
	one := func(name string) (string, bool, error) {
		vs, ok := q[name]
		if !ok {
			return "", false, nil
		}
		if len(vs) != 1 {
			return "", true, providers.Invalid(Name, op, "parameter %s appears %d times", name, len(vs))
		}
		return vs[0], true, nil
	}
	var vals [4]string
	for i, name := range []string{ParamResult, ParamKind, ParamOrderNo, ParamSig} {
		v, present, err := one(name)
		if err != nil {
			return nil, err
		}
		if !present {
			if name == ParamSig {
				return nil, &providers.Error{Kind: providers.ErrBadSignature, Provider: Name, Op: op, Message: "callback URL without sig: not issued by this account"}
			}
			return nil, providers.Invalid(Name, op, "callback URL without %s", name)
		}
		vals[i] = v
	}
	result, kind, orderNo, sig := vals[0], vals[1], vals[2], vals[3]
	if !VerifyCallbackSignature(a.callbackKey, result, kind, orderNo, sig) {
		return nil, &providers.Error{Kind: providers.ErrBadSignature, Provider: Name, Op: op, Message: "callback URL sig does not match its result, kind and orderNo"}
	}
	ev := &providers.Event{Provider: Name, OrderNo: orderNo, ProviderStatus: result, Currency: Currency, Verified: false}
	switch providers.OrderKind(kind) {
	case providers.KindDeposit, providers.KindPayout:
		ev.Kind = providers.OrderKind(kind)
	default:
		return nil, providers.Invalid(Name, op, "callback kind %q", kind)
	}
	switch result {
	case ResultSuccess:
		ev.Status = providers.StatusSucceeded
	case ResultFail:
		ev.Status = providers.StatusFailed
	default:
		return nil, providers.Invalid(Name, op, "callback result %q", result)
	}
	if strings.TrimSpace(orderNo) == "" {
		return nil, providers.Invalid(Name, op, "callback with an empty orderNo")
	}
	ev.Raw = append([]byte(nil), cb.Body...)
	if len(ev.Raw) == 0 {
		ev.Raw = []byte(q.Encode())
	}
	return ev, nil
}

// Reply answers a callback: 200 "success" when it was stored (err nil); 400
// "fail" for a callback that will never parse or verify; 500 "fail" otherwise,
// so that the platform calls again.
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
