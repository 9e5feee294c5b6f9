package server

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in     string
		want   string // the value written back with its places; "" means refused
		places int32
		why    string // part of the refusal
	}{
		{"100.50", "100.50", 2, ""},
		{"100", "100", 0, ""},
		{"0", "0", 0, ""},
		{"0.5", "0.5", 1, ""},
		{"0.00", "0.00", 2, ""},
		{"1.000", "1.000", 3, ""},
		{"123456789012345678901234567.12345678", "123456789012345678901234567.12345678", 8, ""},

		{"", "", 0, "empty"},
		{"-5", "", 0, "sign"},
		{"+5", "", 0, "sign"},
		{"1e3", "", 0, "exponent"},
		{"1E+3", "", 0, "exponent"},
		{"1.5e2", "", 0, "exponent"},
		{" 5", "", 0, "blanks"},
		{"5 ", "", 0, "blanks"},
		{"5\n", "", 0, "blanks"},
		{"1,000", "", 0, "separators"},
		{"1_000", "", 0, "separators"},
		{"1.", "", 0, "both sides"},
		{".5", "", 0, "both sides"},
		{".", "", 0, "both sides"},
		{"1.2.3", "", 0, "more than one decimal point"},
		{"007", "", 0, "leading zero"},
		{"00.5", "", 0, "leading zero"},
		{"0x10", "", 0, "not a decimal number"},
		{"NaN", "", 0, "not a decimal number"},
		{"Infinity", "", 0, "not a decimal number"},
		{"١٢", "", 0, "not a decimal number"}, // Arabic-Indic digits
		{"１２", "", 0, "not a decimal number"}, // full-width digits
		{strings.Repeat("9", MaxAmountChars+1), "", 0, "longer than"},
	}
	for _, tc := range tests {
		got, err := ParseAmount(tc.in)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrInvalidAmount) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("ParseAmount(%q) = %s, %v; want a refusal mentioning %q", tc.in, got, err, tc.why)
			}
			continue
		}
		if err != nil || got.String() != tc.want || got.Places() != tc.places || !got.Decimal().Equal(decimal.RequireFromString(tc.want)) {
			t.Errorf("ParseAmount(%q) = %s (%d places), %v; want %s (%d places)", tc.in, got, got.Places(), err, tc.want, tc.places)
		}
	}
}

func TestAmountUnmarshalJSON(t *testing.T) {
	var body struct {
		Amount *Amount `json:"amount"`
	}
	for _, tc := range []struct {
		json string
		want string // "" means refused; "nil" means absent
	}{
		{`{"amount":"100.50"}`, "100.50"},
		{`{"amount":"\u0031\u0030"}`, "10"}, // escapes are decoded before the digits are read
		{`{}`, "nil"},
		{`{"amount":null}`, "nil"},
		{`{"amount":100.5}`, ""},
		{`{"amount":100}`, ""},
		{`{"amount":1e3}`, ""},
		{`{"amount":true}`, ""},
		{`{"amount":["1"]}`, ""},
		{`{"amount":{"v":"1"}}`, ""},
		{`{"amount":""}`, ""},
		{`{"amount":" 1"}`, ""},
		{`{"amount":"-1"}`, ""},
		{`{"amount":"1e3"}`, ""},
	} {
		body.Amount = nil
		err := json.Unmarshal([]byte(tc.json), &body)
		switch {
		case tc.want == "":
			var typ *json.UnmarshalTypeError
			if !errors.As(err, &typ) || typ.Type != amountType || typ.Field != "amount" || typ.Value == "" {
				t.Errorf("%s: %v, want an UnmarshalTypeError for the Amount at field amount", tc.json, err)
			}
		case tc.want == "nil":
			if err != nil || body.Amount != nil {
				t.Errorf("%s: %v, %v; want no amount", tc.json, body.Amount, err)
			}
		default:
			if err != nil || body.Amount == nil || body.Amount.String() != tc.want {
				t.Errorf("%s: %v, %v; want %s", tc.json, body.Amount, err, tc.want)
			}
		}
	}
	// A value (not pointer) Amount refuses null, as inside a map.
	var limits map[string]Amount
	if err := json.Unmarshal([]byte(`{"CNY":null}`), &limits); err == nil {
		t.Errorf("null limit accepted: %v", limits)
	}
	out, err := json.Marshal(map[string]Amount{"CNY": mustAmount(t, "5000000.00")})
	if err != nil || string(out) != `{"CNY":"5000000.00"}` {
		t.Errorf("Marshal = %s, %v", out, err)
	}
}

func mustAmount(t testing.TB, s string) Amount {
	t.Helper()
	a, err := ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// plainRE is the whole grammar an accepted amount has.
var plainRE = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]+)?$`)

// FuzzAmount: ParseAmount accepts exactly the plain grammar (no sign,
// exponent, blank or leading zero; digits on both sides of a point; at most
// MaxAmountChars), reads the value exactly (what it writes back is what was
// sent), and UnmarshalJSON accepts a JSON string exactly when ParseAmount
// accepts its content, and nothing else.
func FuzzAmount(f *testing.F) {
	for _, s := range []string{"100.50", "0", "0.5", "1e3", "-1", "+1", " 1", "1.", ".5", "007", "1,5", "", "NaN", "9999999999999999999999999999999999999999", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		accept := plainRE.MatchString(s) && len(s) <= MaxAmountChars
		if (err == nil) != accept {
			t.Fatalf("ParseAmount(%q) = %v, %v; the grammar says accept=%v", s, a, err, accept)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidAmount) {
				t.Fatalf("ParseAmount(%q): untyped error %v", s, err)
			}
		} else {
			if a.String() != s {
				t.Fatalf("ParseAmount(%q) writes back %q", s, a.String())
			}
			if a.Decimal().IsNegative() || !a.Decimal().Equal(decimal.RequireFromString(s)) {
				t.Fatalf("ParseAmount(%q) = %s", s, a.Decimal())
			}
		}
		// As a JSON string: the same verdict. As raw JSON: only a string passes.
		quoted, _ := json.Marshal(s)
		var viaJSON Amount
		jerr := json.Unmarshal(quoted, &viaJSON)
		if (jerr == nil) != (err == nil) || (jerr == nil && viaJSON.String() != s) {
			t.Fatalf("UnmarshalJSON(%s) = %v, %v; ParseAmount %v", quoted, viaJSON, jerr, err)
		}
		var raw Amount
		if json.Valid([]byte(s)) && json.Unmarshal([]byte(s), &raw) == nil {
			if trimmed := strings.TrimSpace(s); trimmed == "" || trimmed[0] != '"' {
				t.Fatalf("UnmarshalJSON accepted the non-string %q as %s", s, raw)
			}
		}
	})
}
