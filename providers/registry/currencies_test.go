package registry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/providers/registry"
	"github.com/tallyhq/tally/providers/usdtcnpay"
	"github.com/tallyhq/tally/providers/usdtpay"
	"github.com/tallyhq/tally/providers/vpay"
)

// cxpayCurrencies are the account currencies CXPay's document supports (its
// payout rules name Brazil, India, Indonesia and Nigeria); an account takes one
// of them through its "currency" option.
var cxpayCurrencies = []string{"BRL", "INR", "IDR", "NGN"}

// Every currency any adapter takes (Capabilities, in every configuration the
// documents allow) and every currency a payer may pay in is in the registry of a
// freshly migrated database, so an account of any provider can take orders
// without `tally currency add`.
func TestEveryProviderCurrencyIsSeeded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := ledger.New(testdb.New(t))
	need := map[string]string{} // currency -> where it comes from
	add := func(from string, codes ...string) {
		for _, c := range codes {
			if _, ok := need[c]; !ok {
				need[c] = from
			}
		}
	}
	for _, name := range registry.Names() {
		cfgs := []providers.Config{validConfig(name)}
		switch name {
		case "cxpay":
			cfgs = nil
			for _, cur := range cxpayCurrencies {
				c := validConfig(name)
				c.Options = map[string]string{"pay_code": "PIX", "currency": cur}
				cfgs = append(cfgs, c)
			}
		case "vpay":
			add("vpay user currency", vpay.UserCurrencies...)
		case "usdtpay":
			add("usdtpay", usdtpay.Currencies...)
		case "usdtcnpay":
			add("usdtcnpay", usdtcnpay.Currency)
		}
		for _, cfg := range cfgs {
			caps, err := registry.Validate(name, cfg)
			if err != nil {
				t.Fatalf("%s %v: %v", name, cfg.Options, err)
			}
			if len(caps.DepositCurrencies)+len(caps.PayoutCurrencies) == 0 {
				t.Errorf("%s: no currencies in its capabilities", name)
			}
			add(name+" deposit", caps.DepositCurrencies...)
			add(name+" payout", caps.PayoutCurrencies...)
		}
	}
	for _, cur := range []string{"BRL", "INR", "IDR", "NGN", "CNY", "USD", "EUR", "MYR", "USDT", "TRX", "BTC", "ETH", "BNB"} {
		if _, ok := need[cur]; !ok {
			t.Errorf("%s is in no adapter's currencies: has an adapter changed?", cur)
		}
	}
	for cur, from := range need {
		c, err := l.Currency(ctx, cur)
		if errors.Is(err, ledger.ErrUnknownCurrency) {
			t.Errorf("%s (%s) is not seeded: the ledger cannot book it", cur, from)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind == ledger.KindCrypto && c.Scale != 8 {
			t.Errorf("%s: scale %d, want the 8 decimals of C-Pay's document", cur, c.Scale)
		}
	}
}
