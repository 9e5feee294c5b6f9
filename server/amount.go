package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/shopspring/decimal"
)

// ErrInvalidAmount is wrapped by every refusal of ParseAmount.
var ErrInvalidAmount = errors.New("invalid amount")

// AmountError is ParseAmount's refusal: the text and what is wrong with it.
type AmountError struct {
	Text string
	Why  string // "a sign is not allowed"
}

func (e *AmountError) Error() string { return "amount " + e.detail() }

// detail is the refusal without the word amount: `"-1": a sign is not
// allowed; send a decimal string such as "100.50"`.
func (e *AmountError) detail() string {
	return fmt.Sprintf("%s: %s; send a decimal string such as \"100.50\"", quoteShort(e.Text), e.Why)
}

// Unwrap makes an AmountError an ErrInvalidAmount.
func (e *AmountError) Unwrap() error { return ErrInvalidAmount }

// MaxAmountChars bounds an amount's text: far more than any limit allows
// (10^18 minor units at 8 decimals is 27 characters), little enough that a
// hostile value costs nothing to refuse.
const MaxAmountChars = 40

// Amount is a money amount in a merchant API body. On the wire it is a JSON
// string of plain decimal digits with an optional fraction, "100.50": no JSON
// number (a client's float formatting must never decide an amount), no sign,
// exponent, blank, thousands separator or leading zero. It says nothing about
// the currency: the handler checks its decimals (Places) against the
// currency's scale and the order checks it is positive and within its
// provider account's limit.
type Amount struct {
	d      decimal.Decimal
	places int32
}

// amountType is how decode recognizes an Amount's refusal.
var amountType = reflect.TypeOf(Amount{})

// Decimal is the amount's value.
func (a Amount) Decimal() decimal.Decimal { return a.d }

// Places is how many decimals the amount was written with ("1.50": 2), which
// must not exceed the currency's scale.
func (a Amount) Places() int32 { return a.places }

// String is the amount as written.
func (a Amount) String() string { return a.d.StringFixed(a.places) }

// MarshalJSON writes the amount as a JSON string, as it was written.
func (a Amount) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

// UnmarshalJSON accepts only a JSON string that ParseAmount accepts. A refusal
// is a *json.UnmarshalTypeError for the Amount type, so that encoding/json
// names the field at fault (decode answers invalid_amount with it); its Value
// says why, to follow the field's name.
func (a *Amount) UnmarshalJSON(b []byte) error {
	refuse := func(why string) error {
		return &json.UnmarshalTypeError{Value: why, Type: amountType}
	}
	if len(b) == 0 || b[0] != '"' {
		what := "a JSON number"
		switch {
		case len(b) == 0:
			what = "nothing"
		case string(b) == "null":
			what = "null"
		case b[0] == 't' || b[0] == 'f':
			what = "a boolean"
		case b[0] == '{':
			what = "an object"
		case b[0] == '[':
			what = "an array"
		}
		return refuse(fmt.Sprintf("must be a JSON string of decimal digits such as \"100.50\", not %s", what))
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return refuse("must be a JSON string of decimal digits such as \"100.50\"")
	}
	v, err := ParseAmount(s)
	var ae *AmountError
	if errors.As(err, &ae) {
		return refuse(ae.detail())
	}
	if err != nil {
		return refuse(err.Error())
	}
	*a = v
	return nil
}

// ParseAmount reads an amount as the merchant API takes it: one or more
// digits without a redundant leading zero, then optionally a point and one or
// more digits ("0.5", "100", "100.50"), at most MaxAmountChars long. Anything
// else (a sign, an exponent, a blank, "1.", ".5", "1,000", "007", "") is an
// *AmountError (an ErrInvalidAmount) that says what is wrong.
func ParseAmount(s string) (Amount, error) {
	bad := func(why string) (Amount, error) {
		return Amount{}, &AmountError{Text: s, Why: why}
	}
	switch {
	case s == "":
		return bad("empty")
	case len(s) > MaxAmountChars:
		return bad(fmt.Sprintf("longer than %d characters", MaxAmountChars))
	}
	point := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && point < 0:
			point = i
		case c == '.':
			return bad("more than one decimal point")
		case c == '+' || c == '-':
			return bad("a sign is not allowed")
		case c == 'e' || c == 'E':
			return bad("an exponent is not allowed")
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return bad("blanks are not allowed")
		case c == ',' || c == '_' || c == '\'':
			return bad("separators are not allowed")
		default:
			return bad("not a decimal number")
		}
	}
	intPart := s
	if point >= 0 {
		intPart = s[:point]
		if point == 0 || point == len(s)-1 {
			return bad("digits are required on both sides of the decimal point")
		}
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return bad("a leading zero is not allowed")
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return bad("not a decimal number")
	}
	places := int32(0)
	if point >= 0 {
		places = int32(len(s) - point - 1)
	}
	return Amount{d: d, places: places}, nil
}

// quoteShort quotes s for a message, cut to a readable length.
func quoteShort(s string) string {
	if len(s) > MaxAmountChars+8 {
		s = s[:MaxAmountChars+8] + "..."
	}
	return strconv.Quote(s)
}
