package ledger

import (
	"fmt"
	"strings"
)

// AccountType is the accounting type of an account.
type AccountType string

// The five account types of double-entry bookkeeping.
const (
	Asset     AccountType = "asset"
	Liability AccountType = "liability"
	Equity    AccountType = "equity"
	Income    AccountType = "income"
	Expense   AccountType = "expense"
)

// Side is the side of an entry (debit or credit), and the normal side of an
// account: the side on which its balance grows.
type Side string

// The two sides of an entry.
const (
	Debit  Side = "debit"
	Credit Side = "credit"
)

// Opposite returns the other side.
func (s Side) Opposite() Side {
	if s == Debit {
		return Credit
	}
	return Debit
}

// HotSlots is the number of balance rows of a hot account. Each transfer updates
// one of them, so that concurrent transfers through one clearing account rarely
// wait for each other; the balance is their sum.
const HotSlots = 16

// Rule is one line of the chart of accounts: the accounts whose code matches
// Pattern, and the properties every such account has. Accounts are created on
// first use from the rule their code matches; a code no rule matches is refused.
type Rule struct {
	// Pattern is the code with its variable segments in braces; the last segment is
	// always {CUR}, the account's currency.
	Pattern string
	// Type and NormalSide are the account's accounting type and normal side.
	Type       AccountType
	NormalSide Side
	// AllowNegative says whether the account's available balance may go below zero.
	// Money the ledger owes (customer balances, suspense) may not.
	AllowNegative bool
	// Slots is the number of balance rows: HotSlots for accounts that take part in
	// most transfers (only possible when AllowNegative), else 1.
	Slots int
	// Purpose says what the account is for.
	Purpose string
}

// Chart is tally's chart of accounts. Other packages name accounts through the
// helpers below (ProviderAccount, CustomerAccount, ...) rather than by hand.
var Chart = []Rule{
	{Pattern: "assets:provider:{provider_account}:{CUR}", Type: Asset, NormalSide: Debit, AllowNegative: true, Slots: HotSlots,
		Purpose: "money held at a provider account (clearing); in every deposit and payout of that provider"},
	{Pattern: "liabilities:customer:{customer_id}:{CUR}", Type: Liability, NormalSide: Credit, AllowNegative: false, Slots: 1,
		Purpose: "what the merchant owes one of its customers; never negative"},
	{Pattern: "assets:receivable:{customer_id}:{CUR}", Type: Asset, NormalSide: Debit, AllowNegative: true, Slots: 1,
		Purpose: "what a customer owes the merchant: a reversal their balance no longer covered"},
	{Pattern: "liabilities:suspense:{CUR}", Type: Liability, NormalSide: Credit, AllowNegative: false, Slots: 1,
		Purpose: "money received that is not yet attributed (discrepancies awaiting an accountant)"},
	{Pattern: "expenses:fees:{provider_account}:{CUR}", Type: Expense, NormalSide: Debit, AllowNegative: true, Slots: HotSlots,
		Purpose: "fees a provider charges"},
	{Pattern: "expenses:loss:{CUR}", Type: Expense, NormalSide: Debit, AllowNegative: true, Slots: 1,
		Purpose: "written-off shortfalls (resolutions): money the ledger counted that nobody will get"},
	{Pattern: "income:gain:{CUR}", Type: Income, NormalSide: Credit, AllowNegative: true, Slots: 1,
		Purpose: "written-off surpluses (resolutions): money a provider holds beyond the ledger, or parked in suspense, that nobody claims"},
	{Pattern: "income:fees:{CUR}", Type: Income, NormalSide: Credit, AllowNegative: true, Slots: HotSlots,
		Purpose: "fees the merchant charges its customers"},
	{Pattern: "equity:fx:{CUR}", Type: Equity, NormalSide: Credit, AllowNegative: true, Slots: HotSlots,
		Purpose: "currency conversion: a cross-currency order balances each currency through it"},
	{Pattern: "equity:opening:{CUR}", Type: Equity, NormalSide: Credit, AllowNegative: true, Slots: 1,
		Purpose: "opening balances and funding"},
}

// ProviderAccount is the clearing account of a provider account in one currency:
// assets:provider:{name}:{cur}.
func ProviderAccount(name, cur string) string { return "assets:provider:" + name + ":" + cur }

// CustomerAccount is what the merchant owes a customer: liabilities:customer:{id}:{cur}.
func CustomerAccount(id, cur string) string { return "liabilities:customer:" + id + ":" + cur }

// ReceivableAccount is what a customer owes the merchant after a reversal their
// balance did not cover: assets:receivable:{id}:{cur}.
func ReceivableAccount(id, cur string) string { return "assets:receivable:" + id + ":" + cur }

// SuspenseAccount holds unattributed money: liabilities:suspense:{cur}.
func SuspenseAccount(cur string) string { return "liabilities:suspense:" + cur }

// FeesAccount is the fee expense of a provider account: expenses:fees:{name}:{cur}.
func FeesAccount(name, cur string) string { return "expenses:fees:" + name + ":" + cur }

// LossAccount takes written-off shortfalls (debited): expenses:loss:{cur}.
func LossAccount(cur string) string { return "expenses:loss:" + cur }

// GainAccount takes written-off surpluses (credited), so that a write-off
// never books a negative expense: income:gain:{cur}.
func GainAccount(cur string) string { return "income:gain:" + cur }

// FeeIncomeAccount takes the fees the merchant charges: income:fees:{cur}.
func FeeIncomeAccount(cur string) string { return "income:fees:" + cur }

// FXAccount is the conversion account of a currency: equity:fx:{cur}.
func FXAccount(cur string) string { return "equity:fx:" + cur }

// OpeningAccount funds opening balances: equity:opening:{cur}.
func OpeningAccount(cur string) string { return "equity:opening:" + cur }

// AccountSpec is what the chart says about one account code.
type AccountSpec struct {
	Code     string
	Currency string
	Rule     Rule
}

// ParseAccount finds the chart rule of code and checks its segments: the fixed
// segments must match the rule, variable segments must be non-empty and free of
// spaces and colons, and the last segment must have the shape of a currency code
// (ValidCurrencyCode). It returns ErrUnknownAccount or ErrUnknownCurrency. It
// needs no database, so it does not know whether the ledger can book the
// currency: the ledger checks that (Ledger.Currency) before every write.
func ParseAccount(code string) (AccountSpec, error) {
	segs := strings.Split(code, ":")
	for _, r := range Chart {
		pat := strings.Split(r.Pattern, ":")
		if len(pat) != len(segs) || !matches(pat, segs) {
			continue
		}
		cur := segs[len(segs)-1]
		if !ValidCurrencyCode(cur) {
			return AccountSpec{}, fmt.Errorf("account %q: currency %q: %w", code, cur, ErrUnknownCurrency)
		}
		return AccountSpec{Code: code, Currency: cur, Rule: r}, nil
	}
	return AccountSpec{}, fmt.Errorf("account %q matches no rule of the chart of accounts: %w", code, ErrUnknownAccount)
}

func matches(pat, segs []string) bool {
	for i, p := range pat {
		s := segs[i]
		if strings.HasPrefix(p, "{") {
			if !validSegment(s) {
				return false
			}
			continue
		}
		if p != s {
			return false
		}
	}
	return true
}

// validSegment accepts 1 to 128 printable characters other than space and colon.
func validSegment(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == ':' || r == 0x7f {
			return false
		}
	}
	return true
}
