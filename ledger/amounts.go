package ledger

import (
	"sync"

	"github.com/shopspring/decimal"
)

// scales is every currency scale this process knows, for writing amounts in
// JSON at their currency's scale (FormatIn) where no context or database is
// at hand (an order's MarshalJSON, a webhook body). It starts with what the
// migrate step seeds (CurrencySeed, and migration 00021's crypto assets at 8
// decimals) and learns every currency a Ledger of the process reads
// (currencyCache.put), so that one added by `tally currency add` is known
// once the process has used or listed it. A currency's scale never changes
// (AddCurrency refuses it), so nothing it holds goes stale.
var scales sync.Map // currency code -> int32

func init() {
	for _, c := range CurrencySeed() {
		scales.Store(c.Code, int32(c.Scale))
	}
	for _, code := range []string{"USDT", "TRX", "BTC", "ETH", "BNB"} {
		scales.Store(code, int32(8))
	}
}

// rememberScale records a currency read from the database in scales.
func rememberScale(c Currency) { scales.Store(c.Code, c.Scale) }

// ScaleOf is the scale of currency code as this process knows it (see
// scales): false for a currency it has not seen.
func ScaleOf(code string) (int32, bool) {
	v, ok := scales.Load(code)
	if !ok {
		return 0, false
	}
	return v.(int32), true
}

// FormatAmount writes d as the merchant API shows amounts: plain decimal
// digits with exactly scale decimals ("100.50" at scale 2, "100" at scale 0),
// unless d has more significant decimals than scale, which are all kept
// (never rounded away: "0.125" stays "0.125" at scale 2). A negative scale
// counts as 0.
func FormatAmount(d decimal.Decimal, scale int32) string {
	scale = max(scale, 0)
	if d.Equal(d.Truncate(scale)) {
		return d.StringFixed(scale)
	}
	return d.String()
}

// FormatIn is FormatAmount at the scale of currency (ScaleOf); an amount in
// a currency the process does not know is written with the digits it has.
func FormatIn(d decimal.Decimal, currency string) string {
	if scale, ok := ScaleOf(currency); ok {
		return FormatAmount(d, scale)
	}
	return d.String()
}

// Money is a decimal amount whose JSON is a string at its currency's scale
// (FormatIn): for the answers of the merchant API and the webhook bodies,
// whose amounts read "100.50", never "100.5". It reads back any decimal
// string.
type Money struct {
	Amount   decimal.Decimal
	Currency string
}

// MarshalJSON writes the amount as a JSON string at its currency's scale.
func (m Money) MarshalJSON() ([]byte, error) {
	return []byte(`"` + FormatIn(m.Amount, m.Currency) + `"`), nil
}
