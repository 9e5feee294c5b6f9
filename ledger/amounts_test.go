package ledger_test

import (
	"encoding/json"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/ledger"
)

// TestFormatAmount: amounts are written at their currency's scale, and
// digits beyond it are never rounded away.
func TestFormatAmount(t *testing.T) {
	for _, c := range []struct {
		amount, currency, want string
	}{
		{"100.5", "USD", "100.50"},
		{"100.50", "USD", "100.50"},
		{"100", "USD", "100.00"},
		{"0", "USD", "0.00"},
		{"-3.1", "USD", "-3.10"},
		{"0.125", "USD", "0.125"}, // more digits than the scale: kept
		{"100", "JPY", "100"},
		{"100.000", "JPY", "100"},
		{"100.5", "JPY", "100.5"}, // kept, not rounded to 101
		{"1.5", "USDT", "1.50000000"},
		{"0.000000015", "USDT", "0.000000015"},
		{"2", "BTC", "2.00000000"},
		{"12.3", "BHD", "12.300"},
		{"7.25", "NOPE", "7.25"}, // a currency the process does not know: its own digits
	} {
		d := decimal.RequireFromString(c.amount)
		if got := ledger.FormatIn(d, c.currency); got != c.want {
			t.Errorf("FormatIn(%s, %s) = %q, want %q", c.amount, c.currency, got, c.want)
		}
		b, err := json.Marshal(ledger.Money{Amount: d, Currency: c.currency})
		if err != nil || string(b) != `"`+c.want+`"` {
			t.Errorf("Money{%s %s} JSON = %s (%v), want %q", c.amount, c.currency, b, err, c.want)
		}
		if back := decimal.RequireFromString(c.want); !back.Equal(d) {
			t.Errorf("%s %s written as %s changes its value", c.amount, c.currency, c.want)
		}
	}
}
