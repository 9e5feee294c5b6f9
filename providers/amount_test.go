package providers_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in       string
		want     string // decimal value; "" means an error
		exponent int32  // the scale as written, checked when want is set
	}{
		{"10", "10", 0},
		{"0.0123", "0.0123", -4},
		{"1.00", "1", -2},
		{"100.50", "100.5", -2},
		{"0", "0", 0},
		{"0.00", "0", -2},
		{"-5", "-5", 0},
		{"-0.01", "-0.01", -2},
		{"-0", "0", 0},
		{" 7 ", "7", 0},
		{"\t12.5\n", "12.5", -1},
		{"007", "7", 0},
		// Far more digits than a float64 holds: kept exactly.
		{"123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789", -9},
		{"0.000000000000000000000000000001", "0.000000000000000000000000000001", -30},

		{"", "", 0},
		{"   ", "", 0},
		{"-", "", 0},
		{"+5", "", 0},
		{"--5", "", 0},
		{"5-", "", 0},
		{"1e5", "", 0},
		{"1E5", "", 0},
		{"1.5e-2", "", 0},
		{".5", "", 0},
		{"5.", "", 0},
		{"-.5", "", 0},
		{"1.2.3", "", 0},
		{"1,000", "", 0},
		{"1 000", "", 0},
		{"0x10", "", 0},
		{"NaN", "", 0},
		{"Infinity", "", 0},
		{"١٢", "", 0}, // Arabic-Indic digits
		{"１２", "", 0}, // full-width digits
		{"12abc", "", 0},
	}
	for _, tc := range tests {
		got, err := providers.ParseAmount(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseAmount(%q) = %s, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseAmount(%q): %v", tc.in, err)
			continue
		}
		if !got.Equal(dec(tc.want)) || got.String() != tc.want || got.Exponent() != tc.exponent {
			t.Errorf("ParseAmount(%q) = %s (exponent %d), want %s (exponent %d)", tc.in, got, got.Exponent(), tc.want, tc.exponent)
		}
	}
}

func TestParseJSONAmount(t *testing.T) {
	tests := []struct {
		raw  string
		want string // "" means an error
	}{
		{`10`, "10"},
		{`"10.50"`, "10.5"},
		{`-1`, "-1"},
		{`0`, "0"},
		{` 7.25 `, "7.25"},
		{`1.0000000000000000000001`, "1.0000000000000000000001"}, // not through float64
		{`"0.1"`, "0.1"},
		{`1e2`, ""},
		{`"1e2"`, ""},
		{`null`, ""},
		{`""`, ""},
		{`"abc"`, ""},
		{`true`, ""},
		{`"10`, ""},
		{`[1]`, ""},
		{`{"v":1}`, ""},
		{``, ""},
	}
	for _, tc := range tests {
		got, err := providers.ParseJSONAmount(json.RawMessage(tc.raw))
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseJSONAmount(%s) = %s, want an error", tc.raw, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseJSONAmount(%s) = %s, %v; want %s", tc.raw, got, err, tc.want)
		}
	}
}

func TestFormatFixed(t *testing.T) {
	tests := []struct {
		in     decimal.Decimal
		places int32
		want   string // "" means refused
	}{
		{dec("100"), 2, "100.00"},
		{dec("1.5"), 2, "1.50"},
		{dec("1.50"), 2, "1.50"},
		{dec("1.500"), 2, "1.50"}, // trailing zeros are not significant decimals
		{dec("-1.5"), 2, "-1.50"},
		{dec("0"), 0, "0"},
		{dec("0"), 2, "0.00"},
		{dec("150000"), 0, "150000"},
		{decimal.New(1, 3), 2, "1000.00"}, // positive exponent
		{dec("0.1"), 8, "0.10000000"},
		{dec("66.12345678"), 8, "66.12345678"},
		{dec("1.005"), 2, ""}, // refused, never rounded to 1.01 or 1.00
		{dec("100.10"), 0, ""},
		{dec("0.001"), 2, ""},
		{dec("66.123456789"), 8, ""},
		{dec("-0.005"), 2, ""},
	}
	for _, tc := range tests {
		got, err := providers.FormatFixed(tc.in, tc.places)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "decimals") {
				t.Errorf("FormatFixed(%s, %d) = %q, %v; want refused for its decimals", tc.in, tc.places, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("FormatFixed(%s, %d) = %q, %v; want %q", tc.in, tc.places, got, err, tc.want)
		}
	}
}

func TestFormatPlain(t *testing.T) {
	for in, want := range map[string]string{"100.50": "100.5", "100.00": "100", "0.0100": "0.01", "-7.0": "-7", "12345678901234567890.1": "12345678901234567890.1"} {
		if got := providers.FormatPlain(dec(in)); got != want {
			t.Errorf("FormatPlain(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckAmount(t *testing.T) {
	two := providers.Capabilities{AmountDecimals: 2}
	hundreds := providers.Capabilities{AmountDecimals: 2, AmountMultiple: dec("100")}
	tests := []struct {
		name   string
		caps   providers.Capabilities
		amount string
		want   string // "" means accepted
	}{
		{"plain", two, "10.5", ""},
		{"two decimals", two, "0.01", ""},
		{"trailing zeros", two, "10.5000", ""},
		{"zero", two, "0", "must be positive"},
		{"negative", two, "-1", "must be positive"},
		{"negative small", two, "-0.01", "must be positive"},
		{"three decimals", two, "1.001", "more than 2 decimals"},
		{"multiple", hundreds, "300", ""},
		{"multiple with zeros", hundreds, "300.00", ""},
		{"not a multiple", hundreds, "250", "whole multiple of 100"},
		{"fraction of a multiple", hundreds, "100.5", "whole multiple of 100"},
		{"below the multiple", hundreds, "50", "whole multiple of 100"},
		{"no decimals", providers.Capabilities{}, "1.5", "more than 0 decimals"},
	}
	for _, tc := range tests {
		err := providers.CheckAmount("p", "op", tc.caps, dec(tc.amount))
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an invalid request saying %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckDecimals(t *testing.T) {
	for _, tc := range []struct {
		amount string
		places int32
		ok     bool
	}{
		{"1", 0, true}, {"1.0", 0, true}, {"1.1", 0, false}, {"1.12345678", 8, true}, {"1.123456789", 8, false},
		{"-1.25", 2, true}, {"-1.255", 2, false}, {"1000", 2, true},
	} {
		if err := providers.CheckDecimals(dec(tc.amount), tc.places); (err == nil) != tc.ok {
			t.Errorf("CheckDecimals(%s, %d) = %v, want ok %v", tc.amount, tc.places, err, tc.ok)
		}
	}
}

func TestCheckCurrencyAndRequireFields(t *testing.T) {
	if err := providers.CheckCurrency("p", "op", []string{"CNY", "USD"}, "USD"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"usd", "EUR", "", " USD"} {
		err := providers.CheckCurrency("p", "op", []string{"CNY", "USD"}, c)
		if !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), "accepted: CNY, USD") {
			t.Errorf("CheckCurrency(%q) = %v", c, err)
		}
	}
	if err := providers.RequireFields("p", "op", "a", "1", "b", "x"); err != nil {
		t.Fatal(err)
	}
	err := providers.RequireFields("p", "op", "a", "", "b", "ok", "c", "  ")
	if !errors.Is(err, providers.ErrInvalidRequest) || !strings.Contains(err.Error(), "missing required field(s): a, c") {
		t.Fatalf("RequireFields = %v", err)
	}
}

func TestNullable(t *testing.T) {
	n := providers.Nullable(dec("0"))
	if !n.Valid || !n.Decimal.IsZero() {
		t.Fatalf("Nullable(0) = %+v: a stated zero must be valid", n)
	}
}
