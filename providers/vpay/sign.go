package vpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// StringToSign returns what MinPay signs for a JSON object body, before
// "&secret=SECRET" is appended: every entry but "sign", sorted by name and
// joined as name=value with "&"; nulls and empty lists skipped, empty strings
// kept; nested objects as {k=v&k=v} sorted the same way; lists as [a,b];
// booleans true/false; numbers without trailing zeros (100.00 -> 100).
// Strings are signed exactly as sent. A body that is not one JSON object, or
// has a duplicate name, is an error.
func StringToSign(body []byte) (string, error) {
	n, err := parseJSON(body)
	if err != nil {
		return "", err
	}
	if n.kind != kindObject {
		return "", errors.New("vpay: signed body must be a JSON object")
	}
	return canonicalObject(n, true), nil
}

// Sign returns the lowercase hex MD5 signature of a JSON object body under
// secret, MinPay's merchant-SDK rule (see StringToSign).
func Sign(body []byte, secret string) (string, error) {
	s, err := StringToSign(body)
	if err != nil {
		return "", err
	}
	return signString(s, secret), nil
}

// signString appends the secret to a string to sign and hashes it.
func signString(toSign, secret string) string {
	return providers.MD5Hex(toSign + "&secret=" + secret)
}

// verifyObject checks the "sign" entry of a parsed object in constant time.
func verifyObject(n *node, secret string) bool {
	got, ok := n.field("sign").stringValue()
	if !ok || got == "" {
		return false
	}
	return providers.EqualSignature(got, signString(canonicalObject(n, true), secret))
}

// signedJSON marshals fields (names to values; amounts as json.Number, nested
// objects as map[string]any), signs the result and returns the body with
// "sign" added. encoding/json writes map keys sorted, the order of MinPay's
// own examples; what is signed is exactly what is sent.
func signedJSON(fields map[string]any, secret string) ([]byte, error) {
	delete(fields, "sign")
	body, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("vpay: marshal body: %w", err)
	}
	sig, err := Sign(body, secret)
	if err != nil {
		return nil, err
	}
	fields["sign"] = sig
	return json.Marshal(fields)
}

// nodeKind is the JSON type of a parsed value.
type nodeKind int

const (
	kindNull nodeKind = iota
	kindString
	kindNumber
	kindBool
	kindObject
	kindArray
)

// node is one JSON value as received: strings and number texts are kept
// verbatim so that signatures are computed over what the sender wrote, never
// over a float64.
type node struct {
	kind nodeKind
	text string           // string value, number text, or "true"/"false"
	obj  map[string]*node // object entries
	arr  []*node          // array elements
}

// maxDepth bounds nesting; MinPay's bodies are two levels deep.
const maxDepth = 32

// parseJSON reads exactly one JSON value, keeping number texts, refusing
// duplicate object names (a signature must cover one reading of the body).
func parseJSON(b []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := readValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("vpay: malformed JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("vpay: malformed JSON: trailing data after the value")
	}
	return n, nil
}

func readValue(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errors.New("nesting too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case nil:
		return &node{kind: kindNull}, nil
	case string:
		return &node{kind: kindString, text: v}, nil
	case json.Number:
		if _, err := numberValue(v.String()); err != nil {
			return nil, err
		}
		return &node{kind: kindNumber, text: v.String()}, nil
	case bool:
		if v {
			return &node{kind: kindBool, text: "true"}, nil
		}
		return &node{kind: kindBool, text: "false"}, nil
	case json.Delim:
		switch v {
		case '{':
			n := &node{kind: kindObject, obj: map[string]*node{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				name, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object name %v is not a string", kt)
				}
				if _, dup := n.obj[name]; dup {
					return nil, fmt.Errorf("duplicate name %q", name)
				}
				val, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.obj[name] = val
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		case '[':
			n := &node{kind: kindArray}
			for dec.More() {
				val, err := readValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, val)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// canonicalObject writes an object's entries sorted by name as name=value
// joined with "&"; top drops "sign" (only at the top level: a nested "sign"
// is data).
func canonicalObject(n *node, top bool) string {
	names := make([]string, 0, len(n.obj))
	for k, v := range n.obj {
		if top && k == "sign" {
			continue
		}
		if v.kind == kindNull || (v.kind == kindArray && len(v.arr) == 0) {
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(canonicalValue(n.obj[k]))
	}
	return b.String()
}

// canonicalValue writes one value the way MinPay's SDK does. A null inside a
// list is written "null" (MinPay's material never shows one).
func canonicalValue(n *node) string {
	switch n.kind {
	case kindNumber:
		return plainNumber(n.text)
	case kindObject:
		return "{" + canonicalObject(n, false) + "}"
	case kindArray:
		parts := make([]string, len(n.arr))
		for i, e := range n.arr {
			parts[i] = canonicalValue(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case kindNull:
		return "null"
	default:
		return n.text
	}
}

// maxExponent bounds the exponent of a JSON number so that writing it out
// plainly stays small (1e999999999 would not).
const maxExponent = 64

// plainNumber writes a JSON number without trailing zeros and without an
// exponent ("100.00" -> "100", "7.20" -> "7.2", "1E+2" -> "100"). parseJSON
// has already refused a number numberValue cannot read.
func plainNumber(text string) string {
	d, err := numberValue(text)
	if err != nil {
		return text
	}
	return d.String()
}

// numberValue parses a JSON number text exactly, refusing huge exponents.
func numberValue(text string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(text)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("malformed number %q", text)
	}
	if e := d.Exponent(); e > maxExponent || e < -maxExponent {
		return decimal.Decimal{}, fmt.Errorf("number %q out of range", text)
	}
	return d, nil
}

// field returns an object's entry, or nil.
func (n *node) field(name string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	return n.obj[name]
}

// stringValue is a JSON string's value.
func (n *node) stringValue() (string, bool) {
	if n == nil || n.kind != kindString {
		return "", false
	}
	return n.text, true
}

// scalar is a string, or a number written plainly (MinPay sends ids such as
// orderId and merchantId either way); ok is false when absent or null.
func (n *node) scalar() (string, bool) {
	if n == nil {
		return "", false
	}
	switch n.kind {
	case kindString:
		return n.text, true
	case kindNumber:
		return plainNumber(n.text), true
	case kindBool:
		return n.text, true
	}
	return "", false
}

// amount parses an amount sent as a JSON number or a numeric string, through
// providers.ParseAmount, never float64; present is false when absent or null.
// The number is read as written, so an exponent (1E+2) is refused: MinPay's
// document writes every amount plainly (1, 22.72, 10), and an amount is
// posted exactly as stated or not at all. (Signing still writes such a
// number out plainly: that is about verifying what was sent, not about
// accepting it as money.)
func (n *node) amount() (d decimal.Decimal, present bool, err error) {
	if n == nil || n.kind == kindNull {
		return decimal.Decimal{}, false, nil
	}
	switch n.kind {
	case kindNumber:
		d, err = providers.ParseAmount(n.text)
		return d, true, err
	case kindString:
		d, err = providers.ParseAmount(n.text)
		return d, true, err
	}
	return decimal.Decimal{}, true, fmt.Errorf("amount is not a number")
}
