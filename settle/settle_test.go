package settle

import (
	"slices"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// books is a ledger of the usual currencies with the default bound.
type books map[string]int32

func (b books) Scale(cur string) (int32, bool) { s, ok := b[cur]; return s, ok }
func (b books) Max(_ string, scale int32) decimal.Decimal {
	return decimal.New(1, 12-scale) // 10^12 minor units
}

var ledgerBooks = books{"CNY": 2, "USD": 2, "USDT": 8, "BTC": 8, "JPY": 0}

func d(s string) decimal.Decimal      { return decimal.RequireFromString(s) }
func nd(s string) decimal.NullDecimal { return providers.Nullable(d(s)) }
func fields(v Verdict) []string       { f := v.Fields(); slices.Sort(f); return slices.Compact(f) }
func deposit(amount, cur string) Terms {
	return Terms{Kind: providers.KindDeposit, Amount: d(amount), Currency: cur}
}
func payout(amount, cur string) Terms {
	return Terms{Kind: providers.KindPayout, Amount: d(amount), Currency: cur}
}
func withTol(t Terms, tol string) Terms { t.Tolerance = d(tol); return t }
func quoted(amount, cur, pay string) Terms {
	t := deposit(amount, cur)
	t.PayCurrency = pay
	return t
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name     string
		terms    Terms
		ev       providers.Event
		differs  []string // fields that differ, sorted; nil: agrees
		bookable bool
		gross    string // Stated.Gross
		fee      string // Stated.Fee ("" = not stated)
		cur      string // Stated.Currency
		value    string // Value
	}{
		{name: "deposit exact", terms: deposit("100.50", "CNY"),
			ev:       providers.Event{Currency: "CNY", Paid: nd("100.50"), Fee: nd("1.20")},
			bookable: true, gross: "100.5", fee: "1.2", cur: "CNY", value: "100.5"},
		{name: "deposit fee from credited", terms: deposit("100", "USDT"),
			ev:       providers.Event{Currency: "USDT", Paid: nd("100"), Credited: nd("99.5")},
			bookable: true, gross: "100", fee: "0.5", cur: "USDT", value: "100"},
		{name: "deposit gross from credited and fee", terms: deposit("100", "USDT"),
			ev:       providers.Event{Currency: "USDT", Credited: nd("99"), Fee: nd("1")},
			bookable: true, gross: "100", fee: "1", cur: "USDT", value: "100"},
		{name: "deposit no fee stated", terms: deposit("100", "CNY"),
			ev:       providers.Event{Currency: "CNY", Paid: nd("100")},
			bookable: true, gross: "100", cur: "CNY", value: "100"},
		{name: "deposit currency unstated is the settle currency", terms: deposit("100", "CNY"),
			ev:       providers.Event{Paid: nd("100")},
			bookable: true, gross: "100", cur: "CNY", value: "100"},
		{name: "deposit paid more", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("100.01")},
			differs: []string{"amount"}, bookable: true, gross: "100.01", cur: "CNY", value: "100.01"},
		{name: "deposit paid less", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("99.99")},
			differs: []string{"amount"}, bookable: true, gross: "99.99", cur: "CNY", value: "99.99"},
		{name: "deposit within tolerance", terms: withTol(deposit("100", "CNY"), "0.05"),
			ev:       providers.Event{Currency: "CNY", Paid: nd("99.95")},
			bookable: true, gross: "99.95", cur: "CNY", value: "99.95"},
		{name: "deposit just beyond tolerance", terms: withTol(deposit("100", "CNY"), "0.05"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("99.94")},
			differs: []string{"amount"}, bookable: true, gross: "99.94", cur: "CNY", value: "99.94"},
		{name: "deposit requested differs", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "CNY", Requested: nd("90"), Paid: nd("100")},
			differs: []string{"requested"}, bookable: true, gross: "100", cur: "CNY", value: "100"},
		{name: "deposit foreign currency", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "USDT", Paid: nd("100"), Fee: nd("1")},
			differs: []string{"currency"}, bookable: true, gross: "100", fee: "1", cur: "USDT", value: "0"},
		{name: "deposit currency the ledger cannot book", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "XAU", Paid: nd("100")},
			differs: []string{"currency"}, bookable: false, gross: "100", cur: "XAU", value: "0"},
		{name: "deposit order currency the ledger cannot book", terms: deposit("100", "XAU"),
			ev:      providers.Event{Currency: "XAU", Paid: nd("100")},
			differs: []string{"currency"}, bookable: false, gross: "100", cur: "XAU", value: "0"},
		{name: "deposit finer than the scale", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("100.001")},
			differs: []string{"amount", "scale"}, bookable: false, gross: "100.001", cur: "CNY", value: "100.001"},
		{name: "deposit at the scale limit", terms: deposit("100", "USDT"),
			ev:       providers.Event{Currency: "USDT", Paid: nd("100.00000000"), Fee: nd("0.12345678")},
			bookable: true, gross: "100", fee: "0.12345678", cur: "USDT", value: "100"},
		{name: "deposit fee finer than the scale", terms: deposit("100", "USDT"),
			ev:      providers.Event{Currency: "USDT", Paid: nd("100"), Fee: nd("0.123456789")},
			differs: []string{"scale"}, bookable: false, gross: "100", fee: "0.123456789", cur: "USDT", value: "100"},
		{name: "deposit above the bound", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("10000000000.01")},
			differs: []string{"amount", "bound"}, bookable: false, gross: "10000000000.01", cur: "CNY", value: "10000000000.01"},
		{name: "deposit at the bound", terms: deposit("10000000000", "CNY"),
			ev:       providers.Event{Currency: "CNY", Paid: nd("10000000000.00")},
			bookable: true, gross: "10000000000", cur: "CNY", value: "10000000000"},
		{name: "deposit no amount", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "CNY"},
			differs: []string{"amount"}, bookable: false, gross: "0", cur: "CNY", value: "0"},
		{name: "deposit zero", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("0")},
			differs: []string{"amount"}, bookable: false, gross: "0", cur: "CNY", value: "0"},
		{name: "deposit negative fee", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("100"), Fee: nd("-1")},
			differs: []string{"fee"}, bookable: false, gross: "100", fee: "-1", cur: "CNY", value: "100"},
		{name: "deposit fee above gross", terms: deposit("100", "CNY"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("100"), Fee: nd("100.01")},
			differs: []string{"fee"}, bookable: true, gross: "100", fee: "100.01", cur: "CNY", value: "100"},
		{name: "quoted deposit exact", terms: quoted("100", "CNY", "USDT"),
			ev:       providers.Event{Currency: "USDT", Requested: nd("14.28"), Paid: nd("14.28"), Fee: nd("0.1"), Quote: &providers.Quote{Currency: "CNY", Amount: d("100"), Rate: d("7")}},
			bookable: true, gross: "14.28", fee: "0.1", cur: "USDT", value: "100"},
		{name: "quoted deposit paid less", terms: quoted("100", "CNY", "USDT"),
			ev:      providers.Event{Currency: "USDT", Requested: nd("14"), Paid: nd("7"), Quote: &providers.Quote{Currency: "CNY", Amount: d("100"), Rate: d("7")}},
			differs: []string{"amount", "quote"}, bookable: true, gross: "7", cur: "USDT", value: "50"},
		{name: "quoted deposit quote in another currency", terms: quoted("100", "CNY", "USDT"),
			ev:      providers.Event{Currency: "USDT", Requested: nd("14"), Paid: nd("14"), Quote: &providers.Quote{Currency: "USD", Amount: d("14"), Rate: d("1")}},
			differs: []string{"quote"}, bookable: true, gross: "14", cur: "USDT", value: "100"},
		{name: "quoted deposit without a quote or request", terms: quoted("100", "CNY", "USDT"),
			ev:      providers.Event{Currency: "USDT", Paid: nd("14")},
			differs: []string{"quote"}, bookable: true, gross: "14", cur: "USDT", value: "0"},
		{name: "quoted deposit paid in the quote currency", terms: quoted("100", "CNY", "USDT"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("100")},
			differs: []string{"currency"}, bookable: true, gross: "100", cur: "CNY", value: "0"},
		{name: "payout exact", terms: payout("300", "CNY"),
			ev:       providers.Event{Currency: "CNY", Paid: nd("300"), Fee: nd("3")},
			bookable: true, gross: "300", fee: "3", cur: "CNY", value: "300"},
		{name: "payout less within tolerance", terms: withTol(payout("300", "CNY"), "0.5"),
			ev:       providers.Event{Currency: "CNY", Paid: nd("299.5")},
			bookable: true, gross: "299.5", cur: "CNY", value: "299.5"},
		{name: "payout less beyond tolerance", terms: withTol(payout("300", "CNY"), "0.5"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("299.49")},
			differs: []string{"amount"}, bookable: true, gross: "299.49", cur: "CNY", value: "299.49"},
		{name: "payout more, even within tolerance", terms: withTol(payout("300", "CNY"), "0.5"),
			ev:      providers.Event{Currency: "CNY", Paid: nd("300.01")},
			differs: []string{"amount"}, bookable: true, gross: "300.01", cur: "CNY", value: "300.01"},
		{name: "payout foreign currency", terms: payout("300", "CNY"),
			ev:      providers.Event{Currency: "USD", Paid: nd("300")},
			differs: []string{"currency"}, bookable: true, gross: "300", cur: "USD", value: "0"},
		{name: "payout fee larger than the amount is the provider's to state", terms: payout("1", "CNY"),
			ev:       providers.Event{Currency: "CNY", Paid: nd("1"), Fee: nd("2")},
			bookable: true, gross: "1", fee: "2", cur: "CNY", value: "1"},
		{name: "payout finer than the scale", terms: payout("5", "JPY"),
			ev:      providers.Event{Currency: "JPY", Paid: nd("5.5")},
			differs: []string{"amount", "scale"}, bookable: false, gross: "5.5", cur: "JPY", value: "5.5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Check(c.terms, c.ev, ledgerBooks)
			if got := fields(v); !slices.Equal(got, c.differs) && !(len(got) == 0 && len(c.differs) == 0) {
				t.Errorf("differs %v, want %v (%s)", got, c.differs, v.Summary())
			}
			if v.Agrees() != (len(c.differs) == 0) {
				t.Errorf("Agrees %v with differences %v", v.Agrees(), v.Fields())
			}
			if v.Bookable != c.bookable {
				t.Errorf("Bookable %v, want %v (%s)", v.Bookable, c.bookable, v.Summary())
			}
			if v.Stated.Currency != c.cur {
				t.Errorf("currency %s, want %s", v.Stated.Currency, c.cur)
			}
			if !v.Stated.Gross.Equal(d(c.gross)) {
				t.Errorf("gross %s, want %s", v.Stated.Gross, c.gross)
			}
			if c.fee == "" {
				if v.Stated.FeeStated {
					t.Errorf("fee %s stated, want none", v.Stated.Fee)
				}
			} else if !v.Stated.FeeStated || !v.Stated.Fee.Equal(d(c.fee)) {
				t.Errorf("fee %s (stated %v), want %s", v.Stated.Fee, v.Stated.FeeStated, c.fee)
			}
			if !v.Value.Equal(d(c.value)) {
				t.Errorf("value %s, want %s", v.Value, c.value)
			}
			for _, df := range v.Differences {
				if df.Reason == "" {
					t.Errorf("difference %s without a reason", df.Field)
				}
			}
		})
	}
}

func TestOnlyAmounts(t *testing.T) {
	cases := []struct {
		terms Terms
		ev    providers.Event
		want  bool
	}{
		{deposit("100", "CNY"), providers.Event{Currency: "CNY", Paid: nd("100")}, false},
		{deposit("100", "CNY"), providers.Event{Currency: "CNY", Paid: nd("90")}, true},
		{deposit("100", "CNY"), providers.Event{Currency: "USD", Paid: nd("90")}, false},
		{deposit("100", "CNY"), providers.Event{Currency: "CNY", Paid: nd("90.001")}, false},
		{deposit("100", "CNY"), providers.Event{Currency: "CNY", Paid: nd("90"), Fee: nd("91")}, false},
	}
	for i, c := range cases {
		if got := Check(c.terms, c.ev, ledgerBooks).OnlyAmounts(); got != c.want {
			t.Errorf("case %d: OnlyAmounts %v, want %v", i, got, c.want)
		}
	}
}

func TestQuoteRate(t *testing.T) {
	v := Check(quoted("100", "CNY", "USDT"), providers.Event{Currency: "USDT", Requested: nd("14"), Paid: nd("14"),
		Quote: &providers.Quote{Currency: "CNY", Amount: d("100"), Rate: d("7.1428")}}, ledgerBooks)
	if !v.Rate.Valid || !v.Rate.Decimal.Equal(d("7.142857142857")) {
		t.Errorf("rate %v, want 100/14 to 12 places", v.Rate)
	}
}

// FuzzCheck asserts the rule's invariant over any stated figures: a verdict
// that agrees is bookable and states the gross it compared; a bookable one
// fits the scale and the bound; a difference always says why.
func FuzzCheck(f *testing.F) {
	f.Add("100", "CNY", "100", "1", "CNY", false)
	f.Add("100", "CNY", "100.001", "", "CNY", false)
	f.Add("100", "USDT", "99.12345678", "0.1", "USDT", true)
	f.Add("100", "CNY", "1e3", "0", "USD", true)
	f.Fuzz(func(t *testing.T, amount, cur, paid, fee, evCur string, isPayout bool) {
		a, err := decimal.NewFromString(amount)
		if err != nil || !a.IsPositive() {
			return
		}
		terms := Terms{Kind: providers.KindDeposit, Amount: a, Currency: cur}
		if isPayout {
			terms.Kind = providers.KindPayout
		}
		ev := providers.Event{Currency: evCur}
		if p, err := decimal.NewFromString(paid); err == nil {
			ev.Paid = providers.Nullable(p)
		}
		if fe, err := decimal.NewFromString(fee); err == nil {
			ev.Fee = providers.Nullable(fe)
		}
		v := Check(terms, ev, ledgerBooks)
		for _, df := range v.Differences {
			if df.Reason == "" {
				t.Fatalf("difference %s without a reason", df.Field)
			}
		}
		if v.Agrees() && !v.Bookable {
			t.Fatalf("agrees but not bookable: %+v", v)
		}
		if v.Agrees() && (!ev.Paid.Valid || !v.Stated.Gross.Equal(ev.Paid.Decimal)) {
			t.Fatalf("agrees on a gross %s the event did not state (%v)", v.Stated.Gross, ev.Paid)
		}
		if v.Bookable {
			scale, ok := ledgerBooks.Scale(v.Stated.Currency)
			if !ok || !v.Stated.Gross.IsPositive() || !v.Stated.Gross.Equal(v.Stated.Gross.Truncate(scale)) ||
				v.Stated.Gross.GreaterThan(ledgerBooks.Max(v.Stated.Currency, scale)) {
				t.Fatalf("bookable %s %s does not fit the ledger", v.Stated.Gross, v.Stated.Currency)
			}
			if v.Stated.FeeStated && (v.Stated.Fee.IsNegative() || !v.Stated.Fee.Equal(v.Stated.Fee.Truncate(scale))) {
				t.Fatalf("bookable fee %s does not fit the ledger", v.Stated.Fee)
			}
		}
		if v.Stated.Currency != evCur && evCur != "" {
			t.Fatalf("stated currency %s, event %s", v.Stated.Currency, evCur)
		}
		if evCur != "" && evCur != cur && !v.Has(FieldCurrency) {
			t.Fatalf("foreign currency %s on a %s order not flagged", evCur, cur)
		}
	})
}
