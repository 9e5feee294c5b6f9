package cxpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tallyhq/tally/providers"
)

// SignField is the name of the signature parameter, which is never signed itself.
const SignField = "sign"

// StringToSign is CXPay's string to sign: every parameter but sign whose value is
// not empty, sorted by name in byte order, joined as name=value with "&", then
// "&key=" and the merchant key. Values are signed exactly as they travel: "100.00"
// stays "100.00", a JSON number 1000 is "1000" and a JSON boolean false is "false".
func StringToSign(params map[string]string, key string) string {
	return providers.SortedPairs(params, true, SignField) + "&key=" + key
}

// Sign is the lowercase hex MD5 of StringToSign(params, key).
func Sign(params map[string]string, key string) string {
	return providers.MD5Hex(StringToSign(params, key))
}

// Verify reports whether params carries a sign that matches its other values
// under key. The comparison is constant-time; a missing sign never verifies.
func Verify(params map[string]string, key string) bool {
	return providers.EqualSignature(params[SignField], Sign(params, key))
}

// ParseJSONParams reads a JSON object (a CXPay callback or a JSON request) into
// the name -> value map the signature is computed over: strings as their value,
// numbers and booleans as their JSON text ("1000", "100.50", "false"), never
// through float64. A null value is left out, as the signing rule drops it. A
// nested object or array, which CXPay never sends, is refused, as is anything
// that is not one JSON object.
func ParseJSONParams(body []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %w", err)
	}
	if raw == nil {
		return nil, errors.New("body is not a JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing data after the JSON object")
	}
	params := make(map[string]string, len(raw))
	for name, v := range raw {
		text, ok, err := jsonValueText(v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
		if ok {
			params[name] = text
		}
	}
	return params, nil
}

// ParseFormParams reads a form-encoded body into the map the signature is
// computed over; a repeated name is refused rather than guessed at.
func ParseFormParams(body []byte) (map[string]string, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("malformed form body: %w", err)
	}
	params := make(map[string]string, len(vals))
	for name, vs := range vals {
		if len(vs) != 1 {
			return nil, fmt.Errorf("field %q is repeated", name)
		}
		params[name] = vs[0]
	}
	return params, nil
}

// jsonValueText is the text a JSON value is signed as; ok is false for null.
func jsonValueText(v json.RawMessage) (string, bool, error) {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "", false, errors.New("empty value")
	}
	switch t[0] {
	case 'n':
		return "", false, nil
	case '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case 't', 'f':
		return string(t), true, nil
	case '{', '[':
		return "", false, errors.New("nested objects and arrays are not part of CXPay's protocol")
	default:
		var n json.Number
		if err := json.Unmarshal(t, &n); err != nil {
			return "", false, err
		}
		return strings.TrimSpace(string(t)), true, nil
	}
}
