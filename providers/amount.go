package providers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// FormatFixed writes d with exactly places decimals ("100.00"). It refuses,
// rather than rounds, an amount with more decimals: money is never rounded
// silently on its way to a provider.
func FormatFixed(d decimal.Decimal, places int32) (string, error) {
	if err := CheckDecimals(d, places); err != nil {
		return "", err
	}
	return d.StringFixed(places), nil
}

// FormatPlain writes d without trailing zeros ("100", "7.2").
func FormatPlain(d decimal.Decimal) string {
	return d.String()
}

// CheckDecimals refuses an amount with more than places significant decimals.
func CheckDecimals(d decimal.Decimal, places int32) error {
	if !d.Equal(d.Truncate(places)) {
		return fmt.Errorf("amount %s has more than %d decimals", d.String(), places)
	}
	return nil
}

// ParseAmount parses a decimal amount as a provider writes it ("10", "0.0123",
// "1.00"). It refuses exponents, signs other than a leading minus, and blanks, so
// that a malformed field is an error rather than a zero.
func ParseAmount(s string) (decimal.Decimal, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return decimal.Decimal{}, fmt.Errorf("empty amount")
	}
	digits := strings.TrimPrefix(t, "-")
	dot := false
	for i, r := range digits {
		switch {
		case r >= '0' && r <= '9':
		case r == '.' && !dot && i > 0 && i < len(digits)-1:
			dot = true
		default:
			return decimal.Decimal{}, fmt.Errorf("malformed amount %q", s)
		}
	}
	if digits == "" {
		return decimal.Decimal{}, fmt.Errorf("malformed amount %q", s)
	}
	return decimal.NewFromString(t)
}

// ParseJSONAmount parses an amount sent as a JSON number or string, never
// through float64.
func ParseJSONAmount(raw json.RawMessage) (decimal.Decimal, error) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return decimal.Decimal{}, fmt.Errorf("malformed amount %s", s)
		}
		return ParseAmount(str)
	}
	return ParseAmount(s)
}

// Nullable wraps d as a valid NullDecimal.
func Nullable(d decimal.Decimal) decimal.NullDecimal {
	return decimal.NullDecimal{Decimal: d, Valid: true}
}

// CheckAmount validates an amount against a provider's capabilities: positive,
// at most caps.AmountDecimals decimals, a multiple of caps.AmountMultiple when
// set. The error wraps ErrInvalidRequest.
func CheckAmount(provider, op string, caps Capabilities, amount decimal.Decimal) error {
	if !amount.IsPositive() {
		return Invalid(provider, op, "amount %s must be positive", amount.String())
	}
	if err := CheckDecimals(amount, caps.AmountDecimals); err != nil {
		return Invalid(provider, op, "%v", err)
	}
	if caps.AmountMultiple.IsPositive() && !amount.Mod(caps.AmountMultiple).IsZero() {
		return Invalid(provider, op, "amount %s must be a whole multiple of %s", amount.String(), caps.AmountMultiple.String())
	}
	return nil
}

// CheckCurrency refuses a currency not in accepted. The error wraps ErrInvalidRequest.
func CheckCurrency(provider, op string, accepted []string, currency string) error {
	if !slices.Contains(accepted, currency) {
		return Invalid(provider, op, "currency %q is not accepted (accepted: %s)", currency, strings.Join(accepted, ", "))
	}
	return nil
}

// RequireFields refuses a request with an empty required field; pairs are name,
// value, name, value... The error wraps ErrInvalidRequest.
func RequireFields(provider, op string, pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			missing = append(missing, pairs[i])
		}
	}
	if len(missing) > 0 {
		return Invalid(provider, op, "missing required field(s): %s", strings.Join(missing, ", "))
	}
	return nil
}
