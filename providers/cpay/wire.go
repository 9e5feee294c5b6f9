package cpay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// envelope is C-Pay's response wrapper: {"code":0,"msg":"success","data":...,
// "traceid":"..."}. code is 0 for success, 1 for "fail" (or a specific code
// such as 90751015 "pay fail"); some tables type it as a string, so it is read
// as either.
type envelope struct {
	Code    string
	Msg     string
	Data    json.RawMessage
	TraceID string
}

// parseEnvelope reads a response body. It fails when the body is not a JSON
// object with a code.
func parseEnvelope(b []byte) (*envelope, error) {
	obj, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("response is null")
	}
	code, err := obj.text("code")
	if err != nil {
		return nil, err
	}
	if code == "" {
		return nil, fmt.Errorf("response has no code")
	}
	msg, err := obj.text("msg")
	if err != nil {
		return nil, err
	}
	trace, _ := obj.text("traceid")
	return &envelope{Code: code, Msg: msg, Data: obj["data"], TraceID: trace}, nil
}

// ok reports whether the envelope is a success.
func (e *envelope) ok() bool { return e.Code == "0" }

// object is a JSON object whose members are read one by one, by exact name
// (encoding/json's struct decoding matches names case-insensitively, which
// would let an unsigned look-alike member shadow a signed one).
type object map[string]json.RawMessage

// decodeObject decodes a JSON object; JSON null (or nothing) is a nil object.
func decodeObject(raw []byte) (object, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if t[0] != '{' {
		return nil, fmt.Errorf("expected a JSON object, got %q", providers.Snippet(t))
	}
	var o object
	if err := json.Unmarshal(t, &o); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	return o, nil
}

// decodeList decodes a JSON array of objects; null is an empty list.
func decodeList(raw []byte) ([]object, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if t[0] != '[' {
		return nil, fmt.Errorf("expected a JSON array, got %q", providers.Snippet(t))
	}
	var l []object
	if err := json.Unmarshal(t, &l); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	return l, nil
}

// text is a member's value as C-Pay signs it (see JSONParams); "" when absent.
func (o object) text(key string) (string, error) {
	raw, ok := o[key]
	if !ok {
		return "", nil
	}
	v, err := jsonText(raw)
	if err != nil {
		return "", fmt.Errorf("field %s: %w", key, err)
	}
	return v, nil
}

// str is text for members whose malformation does not matter (echoed ids,
// remarks): a malformed value reads as its raw text.
func (o object) str(key string) string {
	v, err := o.text(key)
	if err != nil {
		return strings.TrimSpace(string(o[key]))
	}
	return v
}

// amount is a member's decimal value, sent as a string or a number, never read
// through float64. An absent, null or empty member is not stated (invalid),
// never a zero; a malformed one is an error.
func (o object) amount(key string) (decimal.NullDecimal, error) {
	raw, ok := o[key]
	if !ok {
		return decimal.NullDecimal{}, nil
	}
	t := bytes.TrimSpace(raw)
	if string(t) == "null" || string(t) == `""` {
		return decimal.NullDecimal{}, nil
	}
	d, err := providers.ParseJSONAmount(t)
	if err != nil {
		return decimal.NullDecimal{}, fmt.Errorf("field %s: %w", key, err)
	}
	return providers.Nullable(d), nil
}

// params is a map of request parameters that skips empty values on Set, so a
// request carries exactly what it signs.
type params map[string]string

func (p params) set(k, v string) {
	if v != "" {
		p[k] = v
	}
}

// The documented paths, relative to the domain (https://api.cpay.ltd,
// https://sandbox-api.cpay.ltd, or a sandbox prefix).
const (
	PathGetWalletAddress             = "/openapi/v1/getWalletAddress"
	PathWithdraw                     = "/openapi/v1/withdraw"
	PathCreateFiatPayoutOrder        = "/openapi/v1/createFiatPayoutOrder"
	PathGetMerchantBalance           = "/openapi/v1/getMerchantBalance"
	PathGetExchangeRate              = "/openapi/v1/getExchangeRate"
	PathGetExchangeRateForCreditCard = "/openapi/v1/getExchangeRateForCreditCard"
	PathGetOrderDetail               = "/openapi/v1/getOrderDetail"
	PathExchange                     = "/openapi/v1/exchange"
	PathCreateOrder                  = "/openapi/v1/createOrder"
	PathCreateOrderByCreditCard      = "/openapi/v1/createOrderByCreditCard"

	// PathCreateFiatPayoutOrderAsDocumented is the fiat payout URL exactly as
	// the document prints it, "/openapi/v1" twice. The adapter uses
	// PathCreateFiatPayoutOrder (the document's own request example does); the
	// simulator answers both.
	PathCreateFiatPayoutOrderAsDocumented = "/openapi/v1" + PathCreateFiatPayoutOrder
)
