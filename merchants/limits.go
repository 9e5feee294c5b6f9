package merchants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/ledger"
)

// ErrUnknownCurrency is wrapped by CurrencyScale for a currency tally does not
// keep books in.
var ErrUnknownCurrency = errors.New("unknown currency")

// DefaultMaxMinorUnits bounds an amount in any currency a provider account
// sets no limit for: 10^12 minor units, 10,000,000,000.00 in a two-decimal
// currency, 10,000.00000000 BTC. Far above any real order, far below what a
// mistyped or hostile amount ("1e30", a million digits) would be.
var DefaultMaxMinorUnits = decimal.New(1, 12)

// maxLimitMinorUnits bounds a configured limit: 10^18 minor units, about the
// largest count of minor units a 64-bit integer holds, which is what many
// provider and client systems store.
var maxLimitMinorUnits = decimal.New(1, 18)

// MaxToleranceDecimals is the most decimals a tolerance may carry: a
// tolerance applies to every currency of its account, so it is bounded by the
// largest scale of tally's currencies (BTC, ETH: 8).
const MaxToleranceDecimals = 8

// CurrencyScale returns how many decimals an amount in currency code may
// carry, from the ledger's currency registry, or an error wrapping
// ErrUnknownCurrency. It is the one place where amount checks (the merchant
// API, orders, limits of provider accounts) read the currency table.
func (s *Service) CurrencyScale(ctx context.Context, code string) (int32, error) {
	if s.opts.Ledger == nil {
		return 0, fmt.Errorf("currency %q: no currency registry (Options.Ledger): %w", code, ErrUnknownCurrency)
	}
	c, err := s.opts.Ledger.Currency(ctx, code)
	if errors.Is(err, ledger.ErrUnknownCurrency) {
		return 0, fmt.Errorf("currency %q: %w", code, ErrUnknownCurrency)
	}
	if err != nil {
		return 0, fmt.Errorf("currency %q: %w", code, err)
	}
	return c.Scale, nil
}

// DefaultMaxAmount is the bound of an amount with scale decimals when its
// provider account sets none: DefaultMaxMinorUnits minor units.
func DefaultMaxAmount(scale int32) decimal.Decimal {
	return DefaultMaxMinorUnits.Shift(-scale)
}

// MaxAmount is the largest amount in currency (of scale decimals) that the
// account takes: its configured limit (MaxAmounts), else DefaultMaxAmount.
// Orders above it are refused, and a provider amount above it must not reach
// the ledger: whoever parses a provider's amount checks it against this.
func (a ProviderAccount) MaxAmount(currency string, scale int32) decimal.Decimal {
	if m, ok := a.MaxAmounts[strings.ToUpper(currency)]; ok && m.IsPositive() {
		return m
	}
	return DefaultMaxAmount(scale)
}

// checkMaxAmounts says what is wrong with configured limits: each must be for
// a known currency, positive, with at most its scale of decimals, and at most
// 10^18 minor units.
func (s *Service) checkMaxAmounts(ctx context.Context, limits map[string]decimal.Decimal) []string {
	var problems []string
	for _, cur := range sortedKeys(limits) {
		v := limits[cur]
		scale, err := s.CurrencyScale(ctx, cur)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("max amount for %q: not a currency tally keeps books in", cur))
		case !v.IsPositive():
			problems = append(problems, fmt.Sprintf("max amount %s %s: must be positive", v, cur))
		case !v.Equal(v.Truncate(scale)):
			problems = append(problems, fmt.Sprintf("max amount %s %s: more than %d decimals", v, cur, scale))
		case v.GreaterThan(maxLimitMinorUnits.Shift(-scale)):
			problems = append(problems, fmt.Sprintf("max amount %s %s: above %s (10^18 minor units)", v, cur, maxLimitMinorUnits.Shift(-scale)))
		}
	}
	return problems
}

// encodeMaxAmounts writes limits as stored: currency -> decimal string.
func encodeMaxAmounts(limits map[string]decimal.Decimal) []byte {
	out := make(map[string]string, len(limits))
	for cur, v := range limits {
		out[cur] = v.String()
	}
	b, _ := json.Marshal(out)
	return b
}

// decodeMaxAmounts reads stored limits.
func decodeMaxAmounts(b []byte) (map[string]decimal.Decimal, error) {
	out := map[string]decimal.Decimal{}
	if len(b) == 0 {
		return out, nil
	}
	var raw map[string]string
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	for cur, s := range raw {
		v, err := decimal.NewFromString(s)
		if err != nil {
			return nil, fmt.Errorf("max amount %q for %s: %w", s, cur, err)
		}
		out[cur] = v
	}
	return out, nil
}

// normalizeMaxAmounts upper-cases currency codes; two spellings of one code
// are a problem.
func normalizeMaxAmounts(limits map[string]decimal.Decimal) (map[string]decimal.Decimal, []string) {
	out := make(map[string]decimal.Decimal, len(limits))
	var problems []string
	for _, cur := range sortedKeys(limits) {
		up := strings.ToUpper(strings.TrimSpace(cur))
		if _, dup := out[up]; dup {
			problems = append(problems, fmt.Sprintf("max amount for %s given twice", up))
			continue
		}
		out[up] = limits[cur]
	}
	return out, problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
