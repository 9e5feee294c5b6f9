package ledger_test

import (
	"errors"
	"testing"

	"github.com/tallyhq/tally/ledger"
)

func TestParseAccount(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code     string
		want     error
		typ      ledger.AccountType
		normal   ledger.Side
		negative bool
		slots    int
		currency string
	}{
		{code: ledger.ProviderAccount("cpay-main", "USDT"), typ: ledger.Asset, normal: ledger.Debit, negative: true, slots: ledger.HotSlots, currency: "USDT"},
		{code: ledger.CustomerAccount("83430099", "CNY"), typ: ledger.Liability, normal: ledger.Credit, slots: 1, currency: "CNY"},
		{code: ledger.SuspenseAccount("BTC"), typ: ledger.Liability, normal: ledger.Credit, slots: 1, currency: "BTC"},
		{code: ledger.FeesAccount("vpay-1", "ETH"), typ: ledger.Expense, normal: ledger.Debit, negative: true, slots: ledger.HotSlots, currency: "ETH"},
		{code: ledger.LossAccount("BRL"), typ: ledger.Expense, normal: ledger.Debit, negative: true, slots: 1, currency: "BRL"},
		{code: ledger.GainAccount("BRL"), typ: ledger.Income, normal: ledger.Credit, negative: true, slots: 1, currency: "BRL"},
		{code: ledger.FeeIncomeAccount("MYR"), typ: ledger.Income, normal: ledger.Credit, negative: true, slots: ledger.HotSlots, currency: "MYR"},
		{code: ledger.FXAccount("TRX"), typ: ledger.Equity, normal: ledger.Credit, negative: true, slots: ledger.HotSlots, currency: "TRX"},
		{code: ledger.OpeningAccount("EUR"), typ: ledger.Equity, normal: ledger.Credit, negative: true, slots: 1, currency: "EUR"},
		{code: ledger.ReceivableAccount("c9", "USD"), typ: ledger.Asset, normal: ledger.Debit, negative: true, slots: 1, currency: "USD"},
		{code: "assets:bank:x:USDT", want: ledger.ErrUnknownAccount},
		{code: "assets:provider:USDT", want: ledger.ErrUnknownAccount},
		{code: "assets:provider::USDT", want: ledger.ErrUnknownAccount},
		{code: "assets:provider:a b:USDT", want: ledger.ErrUnknownAccount},
		{code: "liabilities:customer:1:2:USDT", want: ledger.ErrUnknownAccount},
		{code: "liabilities:suspense:usdt", want: ledger.ErrUnknownCurrency},
		{code: "liabilities:customer:1:US", want: ledger.ErrUnknownCurrency},
		{code: "liabilities:customer:1:USDT-TRC20", want: ledger.ErrUnknownCurrency},
		// The shape of a code is enough here; whether the ledger can book DOGE is
		// its registry's question (TestCurrencyRegistry).
		{code: "liabilities:customer:1:DOGE", typ: ledger.Liability, normal: ledger.Credit, slots: 1, currency: "DOGE"},
		{code: "", want: ledger.ErrUnknownAccount},
	}
	for _, c := range cases {
		spec, err := ledger.ParseAccount(c.code)
		if c.want != nil {
			if !errors.Is(err, c.want) {
				t.Errorf("%q: err = %v, want %v", c.code, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.code, err)
			continue
		}
		r := spec.Rule
		if r.Type != c.typ || r.NormalSide != c.normal || r.AllowNegative != c.negative || r.Slots != c.slots || spec.Currency != c.currency {
			t.Errorf("%q: %+v %s", c.code, r, spec.Currency)
		}
	}
}

// The chart never slots an account that may not go negative: a per-row CHECK
// cannot see the sum over slots (the database refuses it too).
func TestChartSlotsOnlyNegativeAccounts(t *testing.T) {
	t.Parallel()
	for _, r := range ledger.Chart {
		if r.Slots > 1 && !r.AllowNegative {
			t.Errorf("%s: %d slots on an account that may not go negative", r.Pattern, r.Slots)
		}
		if r.Slots < 1 {
			t.Errorf("%s: %d slots", r.Pattern, r.Slots)
		}
	}
}
