package cpay

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/tallyhq/tally/providers"
)

// C-Pay's signing rule (vectors README, C-Pay section): drop "sign" and every
// parameter whose value is empty, sort the rest by name in byte order, join
// them as name=value with "&", append "&key=SECRET", and take the lowercase hex
// HMAC-SHA256 of that string under SECRET. Values are signed exactly as sent:
// "10.0" stays "10.0". The same rule covers form-encoded requests, JSON
// responses and JSON webhooks; for JSON, a member's value is its JSON text
// (see JSONParams).

// SignField is the name of the signature parameter.
const SignField = "sign"

// StringToSign returns the string C-Pay signs for params under secret. It
// contains the secret: never log it.
func StringToSign(params map[string]string, secret string) string {
	return providers.SortedPairs(params, true, SignField) + "&key=" + secret
}

// Sign returns the lowercase hex signature of params under secret.
func Sign(params map[string]string, secret string) string {
	return providers.HMACSHA256Hex(secret, StringToSign(params, secret))
}

// Verify reports, in constant time, whether sig is the signature of params
// under secret. An empty signature never verifies.
func Verify(params map[string]string, secret, sig string) bool {
	return providers.EqualSignature(sig, Sign(params, secret))
}

// JSONParams turns the members of a JSON object into the parameters C-Pay
// signs: a string is its decoded value, a number its literal text as sent
// ("1663155010000", "10.0"), a boolean "true"/"false", null an empty value
// (so not signed), and a nested object or array its compact JSON text. Numbers
// never pass through float64, so nothing is reformatted.
func JSONParams(obj map[string]json.RawMessage) (map[string]string, error) {
	out := make(map[string]string, len(obj))
	for k, raw := range obj {
		v, err := jsonText(raw)
		if err != nil {
			return nil, fmt.Errorf("member %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// jsonText is the signed text of one JSON value.
func jsonText(raw json.RawMessage) (string, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "", fmt.Errorf("empty JSON value")
	}
	switch t[0] {
	case '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return "", err
		}
		return s, nil
	case 'n':
		if string(t) != "null" {
			return "", fmt.Errorf("malformed JSON value %q", providers.Snippet(t))
		}
		return "", nil
	case 't', 'f':
		if string(t) != "true" && string(t) != "false" {
			return "", fmt.Errorf("malformed JSON value %q", providers.Snippet(t))
		}
		return string(t), nil
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, t); err != nil {
			return "", err
		}
		return b.String(), nil
	default:
		var n json.Number
		if err := json.Unmarshal(t, &n); err != nil {
			return "", err
		}
		return string(t), nil
	}
}
