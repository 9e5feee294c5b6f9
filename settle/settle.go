// Package settle holds tally's one rule for provider money: what a verified
// provider event says moved is posted exactly as the provider stated it when
// it agrees with the order within the account's tolerance, and is otherwise
// moved to suspense (or left held) with a discrepancy that names what
// differs. Every path that moves an order — a callback, a sync_order query, a
// statement line, a reconciliation repair — asks Check before it posts, so
// that none of them substitutes the order's amount for a missing or foreign
// one, drops a fee or assumes a currency.
//
// Check is a pure function of the order's terms, the event and what the
// ledger can book; it reads no database and posts nothing. Package orders
// turns its Verdict into ledger transfers and discrepancies.
package settle

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// Terms are what tally asked a provider for in one order.
type Terms struct {
	// Kind is deposit or payout.
	Kind providers.OrderKind
	// Amount is the ordered amount in Currency.
	Amount decimal.Decimal
	// Currency is the order's currency (for a quoted deposit, the quote
	// currency: CNY for a VPay order paid in USDT).
	Currency string
	// PayCurrency is the currency the provider was asked to settle in; empty
	// means Currency.
	PayCurrency string
	// Tolerance is the provider account's amount tolerance: a stated amount
	// within it of the order's agrees.
	Tolerance decimal.Decimal
}

// settleCurrency is the currency the provider was asked to settle in.
func (t Terms) settleCurrency() string {
	if t.PayCurrency != "" {
		return t.PayCurrency
	}
	return t.Currency
}

// Books says what the ledger can book for the provider account.
type Books interface {
	// Scale is the number of decimals the ledger keeps for currency; ok is
	// false for a currency the ledger cannot book.
	Scale(currency string) (scale int32, ok bool)
	// Max is the largest amount of currency the provider account may move in
	// one order.
	Max(currency string, scale int32) decimal.Decimal
}

// Field names what differs between an event and its order.
type Field string

// The fields Check compares.
const (
	// FieldCurrency: the provider states another currency than the one it was
	// asked to settle in, or one the ledger cannot book.
	FieldCurrency Field = "currency"
	// FieldAmount: the amount paid (or paid out) differs from the order's
	// beyond the tolerance, is missing, or is not positive.
	FieldAmount Field = "amount"
	// FieldRequested: the provider's own order is for another amount than
	// tally asked for.
	FieldRequested Field = "requested"
	// FieldQuote: a cross-currency order's quote is in another currency or for
	// another amount than the order's.
	FieldQuote Field = "quote"
	// FieldFee: the fee is negative, or larger than the amount it is taken from.
	FieldFee Field = "fee"
	// FieldScale: an amount has more decimals than the ledger keeps for its
	// currency.
	FieldScale Field = "scale"
	// FieldBound: an amount is larger than the provider account may move.
	FieldBound Field = "bound"
)

// Difference is one thing an event states differently from its order.
type Difference struct {
	Field Field `json:"field"`
	// Expected is what the order implies; Stated is what the provider said
	// (its own figures, as evidence).
	Expected string `json:"expected,omitempty"`
	Stated   string `json:"stated,omitempty"`
	// Reason says it in a sentence.
	Reason string `json:"reason"`
}

// Money is what an event states moved on the merchant's balance at the
// provider.
type Money struct {
	// Currency is the stated currency (the order's settle currency when the
	// provider's document defines no currency field or the event leaves an
	// optional one out).
	Currency string
	// Gross is the amount paid (deposits) or paid out (payouts).
	Gross decimal.Decimal
	// GrossStated is false when the event states no amount at all.
	GrossStated bool
	// Fee is the provider's fee, in Currency; zero when not stated.
	Fee decimal.Decimal
	// FeeStated says whether the event states a fee (explicitly, or as gross
	// less credited).
	FeeStated bool
}

// Verdict is Check's answer.
type Verdict struct {
	// Stated is the money the event states.
	Stated Money
	// Value is Stated.Gross in the order's currency: the gross itself when the
	// provider settled in the order's currency, the quote of a cross-currency
	// order (scaled by what was paid of what was asked); zero when the event
	// is in a foreign currency or nothing states a cross-currency payment's
	// value (its money is then booked in its own currency, to suspense).
	Value decimal.Decimal
	// Rate is Value per unit of Stated.Gross for a cross-currency order.
	Rate decimal.NullDecimal
	// Differences lists what differs; none means the event agrees with the
	// order (rule outcome 1: post as stated).
	Differences []Difference
	// Bookable says whether the stated money can be posted as stated: the
	// ledger books its currency, its amounts fit the currency's scale and the
	// account's bound, and the gross is positive. Money that is not bookable
	// is left where it is (held) and only the discrepancy records it.
	Bookable bool
}

// Agrees reports whether nothing differs.
func (v Verdict) Agrees() bool { return len(v.Differences) == 0 }

// Has reports whether f differs.
func (v Verdict) Has(f Field) bool {
	for _, d := range v.Differences {
		if d.Field == f {
			return true
		}
	}
	return false
}

// OnlyAmounts reports whether what differs is only how much was paid (the
// amount, the provider's requested amount or a quote's amount), in the
// currency the order settles in: the one kind of difference an account's
// credit_received policy may credit to the customer.
func (v Verdict) OnlyAmounts() bool {
	if v.Agrees() || !v.Bookable {
		return false
	}
	for _, d := range v.Differences {
		if d.Field != FieldAmount && d.Field != FieldRequested && d.Field != FieldQuote {
			return false
		}
	}
	return true
}

// Summary says in one line what differs.
func (v Verdict) Summary() string {
	parts := make([]string, len(v.Differences))
	for i, d := range v.Differences {
		parts[i] = d.Reason
	}
	return strings.Join(parts, "; ")
}

// Fields lists the fields that differ, for a discrepancy's detail.
func (v Verdict) Fields() []string {
	out := make([]string, len(v.Differences))
	for i, d := range v.Differences {
		out[i] = string(d.Field)
	}
	return out
}

// Check compares a verified success event with the order it is about. The
// event's money is read once (StatedMoney), then checked: the currency is the
// one the provider was asked to settle in and the ledger can book it; every
// amount fits the currency's scale and the account's bound; the gross is
// positive; the fee is not negative and (for a deposit) not larger than the
// gross; and the amount agrees with the order within the tolerance — for a
// payout, the provider may pay out less within the tolerance, never more.
func Check(t Terms, ev providers.Event, b Books) Verdict {
	m := StatedMoney(ev, t.settleCurrency())
	v := Verdict{Stated: m, Bookable: true}
	diff := func(f Field, expected, stated, format string, args ...any) {
		v.Differences = append(v.Differences, Difference{Field: f, Expected: expected, Stated: stated, Reason: fmt.Sprintf(format, args...)})
	}
	want := t.settleCurrency()
	scale, known := b.Scale(m.Currency)
	if m.Currency != want {
		diff(FieldCurrency, want, m.Currency, "the provider states %s, the order settles in %s", m.Currency, want)
	}
	if !known {
		v.Bookable = false
		if m.Currency == want {
			diff(FieldCurrency, want, m.Currency, "the ledger cannot book %s", m.Currency)
		}
	}
	if !m.GrossStated {
		v.Bookable = false
		diff(FieldAmount, t.Amount.String(), "", "the provider states no amount")
		return v
	}
	if !m.Gross.IsPositive() {
		v.Bookable = false
		diff(FieldAmount, t.Amount.String(), m.Gross.String(), "the provider states %s %s moved", m.Gross, m.Currency)
	}
	if m.FeeStated && m.Fee.IsNegative() {
		v.Bookable = false
		diff(FieldFee, "", m.Fee.String(), "the provider states a negative fee %s", m.Fee)
	}
	if known {
		for _, a := range []struct {
			name   string
			amount decimal.Decimal
			stated bool
		}{{"amount", m.Gross, true}, {"fee", m.Fee, m.FeeStated}} {
			if !a.stated {
				continue
			}
			if !a.amount.Equal(a.amount.Truncate(scale)) {
				v.Bookable = false
				diff(FieldScale, fmt.Sprintf("%d decimals", scale), a.amount.String(),
					"the %s %s has more decimals than the %d the ledger keeps for %s", a.name, a.amount, scale, m.Currency)
			}
			if max := b.Max(m.Currency, scale); max.IsPositive() && a.amount.Abs().GreaterThan(max) {
				v.Bookable = false
				diff(FieldBound, max.String(), a.amount.String(), "the %s %s %s is above the account's limit of %s", a.name, a.amount, m.Currency, max)
			}
		}
	}
	if v.Has(FieldCurrency) {
		// A foreign currency: none of the amounts compare with the order's.
		return v
	}
	if t.Kind == providers.KindPayout {
		checkPayout(t, ev, &v, diff)
		return v
	}
	checkDeposit(t, ev, b, &v, diff)
	return v
}

type differ func(f Field, expected, stated, format string, args ...any)

// checkDeposit compares a deposit's stated amounts with its order.
func checkDeposit(t Terms, ev providers.Event, b Books, v *Verdict, diff differ) {
	m := v.Stated
	if m.FeeStated && m.Fee.GreaterThan(m.Gross) {
		diff(FieldFee, "at most "+m.Gross.String(), m.Fee.String(), "the provider states a fee of %s on %s %s received", m.Fee, m.Gross, m.Currency)
	}
	tol := t.Tolerance
	if m.Currency == t.Currency {
		v.Value = m.Gross
		if d := m.Gross.Sub(t.Amount); d.Abs().GreaterThan(tol) {
			diff(FieldAmount, t.Amount.String(), m.Gross.String(), "order asked %s %s, the payer paid %s %s", t.Amount, t.Currency, m.Gross, m.Currency)
		}
		if ev.Requested.Valid && (ev.Currency == "" || ev.Currency == t.Currency) && ev.Requested.Decimal.Sub(t.Amount).Abs().GreaterThan(tol) {
			diff(FieldRequested, t.Amount.String(), ev.Requested.Decimal.String(), "tally asked for %s %s, the provider's order is for %s", t.Amount, t.Currency, ev.Requested.Decimal)
		}
		return
	}
	// A cross-currency order: quoted in t.Currency, paid in m.Currency.
	v.Value = QuotedValue(t, ev, m.Gross, b)
	if ev.Requested.Valid && ev.Requested.Decimal.IsPositive() && m.Gross.Sub(ev.Requested.Decimal).Abs().GreaterThan(tol) {
		diff(FieldAmount, ev.Requested.Decimal.String(), m.Gross.String(), "the provider asked the payer for %s %s, the payer paid %s", ev.Requested.Decimal, m.Currency, m.Gross)
	}
	if q := ev.Quote; q != nil && q.Currency != t.Currency {
		diff(FieldQuote, t.Currency, q.Currency, "the provider quotes the order in %s, tally in %s", q.Currency, t.Currency)
	}
	if v.Value.IsPositive() && v.Value.Sub(t.Amount).Abs().GreaterThan(tol) {
		diff(FieldQuote, t.Amount.String(), v.Value.String(), "order asked %s %s, the payment is worth %s %s", t.Amount, t.Currency, v.Value, t.Currency)
	}
	if v.Value.IsPositive() && m.Gross.IsPositive() {
		v.Rate = providers.Nullable(v.Value.Div(m.Gross).Round(12))
	}
	if !v.Value.IsPositive() {
		// Nothing says what the payment is worth in the order's currency: the
		// money is still booked as stated, in its own currency, to suspense.
		diff(FieldQuote, t.Amount.String(), "", "the provider states no value in %s for the %s %s paid", t.Currency, m.Gross, m.Currency)
	}
}

// checkPayout compares a payout's stated amounts with its order: the provider
// may pay out less than asked within the tolerance, never more.
func checkPayout(t Terms, _ providers.Event, v *Verdict, diff differ) {
	m := v.Stated
	v.Value = m.Gross
	switch {
	case m.Gross.GreaterThan(t.Amount):
		diff(FieldAmount, t.Amount.String(), m.Gross.String(), "payout asked %s %s, the provider paid out %s", t.Amount, t.Currency, m.Gross)
	case t.Amount.Sub(m.Gross).GreaterThan(t.Tolerance):
		diff(FieldAmount, t.Amount.String(), m.Gross.String(), "payout asked %s %s, the provider paid out %s", t.Amount, t.Currency, m.Gross)
	}
}

// StatedMoney reads what an event states moved: its currency (settleCurrency
// when it states none), the gross (Paid, else Credited plus Fee) and the fee
// (Fee, else Paid less Credited). Nothing is taken from the order.
func StatedMoney(ev providers.Event, settleCurrency string) Money {
	m := Money{Currency: ev.Currency}
	if m.Currency == "" {
		m.Currency = settleCurrency
	}
	switch {
	case ev.Paid.Valid:
		m.Gross, m.GrossStated = ev.Paid.Decimal, true
	case ev.Credited.Valid && ev.Fee.Valid:
		m.Gross, m.GrossStated = ev.Credited.Decimal.Add(ev.Fee.Decimal), true
	}
	switch {
	case ev.Fee.Valid:
		m.Fee, m.FeeStated = ev.Fee.Decimal, true
	case ev.Credited.Valid && m.GrossStated:
		m.Fee, m.FeeStated = m.Gross.Sub(ev.Credited.Decimal), true
	}
	return m
}

// AmountIn is what an event says was paid in currency cur, if it says: the
// gross when cur is the event's currency (or the event states none), the
// quote's amount when the quote is in cur.
func AmountIn(ev providers.Event, cur string) (decimal.Decimal, bool) {
	if ev.Currency == cur || ev.Currency == "" {
		if m := StatedMoney(ev, cur); m.GrossStated {
			return m.Gross, true
		}
	}
	if ev.Quote != nil && ev.Quote.Currency == cur && ev.Quote.Amount.IsPositive() {
		return ev.Quote.Amount, true
	}
	return decimal.Decimal{}, false
}

// QuotedValue is the order-currency value of a cross-currency payment of
// paid: the provider's quote in the order's currency, scaled when the payer
// paid a different amount than asked; without a quote (a statement line),
// what was ordered scaled the same way; zero when neither can be known. It
// is rounded to the order currency's scale.
func QuotedValue(t Terms, ev providers.Event, paid decimal.Decimal, b Books) decimal.Decimal {
	var v decimal.Decimal
	asked := ev.Requested.Valid && ev.Requested.Decimal.IsPositive()
	switch q := ev.Quote; {
	case q != nil && q.Currency == t.Currency && q.Amount.IsPositive():
		v = q.Amount
		if asked && !ev.Requested.Decimal.Equal(paid) {
			v = q.Amount.Mul(paid).Div(ev.Requested.Decimal)
		}
	case asked:
		v = t.Amount.Mul(paid).Div(ev.Requested.Decimal)
	default:
		return decimal.Zero
	}
	if s, ok := b.Scale(t.Currency); ok {
		v = v.Round(s)
	}
	return v
}
