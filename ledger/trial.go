package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ledgerdb"
)

// The reads of this file serve accountants (the console's Ledger page and its
// exports): balances of every account as of a time, page by page; the trial
// balance of a period; the journal of a period. Only posted entries are books:
// a hold (pending, release) moves nothing until it is posted.

// BalancePage is one page of a merchant's account balances, by account code.
type BalancePage struct {
	Balances []Balance
	// Next is the cursor of the following page (pass it as after), or "" when
	// this is the last page.
	Next string
}

// BalancesPage returns up to limit (1 to 1000; default 100) balances of a
// merchant's accounts whose code begins with prefix ("" for all), after the
// keyset cursor after ("" for the first page), by code. With a zero at they
// are the current balances; else the balances at time at, from the entries
// created at or before it (see BalanceAt: one index-only scan per account).
func (l *Ledger) BalancesPage(ctx context.Context, merchant int64, at time.Time, prefix, after string, limit int) (BalancePage, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := ledgerdb.New(l.pool)
	var out []Balance
	if at.IsZero() {
		rows, err := q.BalancesPage(ctx, ledgerdb.BalancesPageParams{MerchantID: merchant, After: after, Prefix: prefix, PageSize: int32(limit + 1)})
		if err != nil {
			return BalancePage{}, fmt.Errorf("balances of merchant %d: %w", merchant, err)
		}
		for _, r := range rows {
			out = append(out, newBalance(r.Code, r.Currency, r.Type, r.NormalSide, r.DebitsPosted, r.CreditsPosted, r.DebitsPending, r.CreditsPending))
		}
	} else {
		rows, err := q.BalancesAtPage(ctx, ledgerdb.BalancesAtPageParams{MerchantID: merchant, At: at, After: after, Prefix: prefix, PageSize: int32(limit + 1)})
		if err != nil {
			return BalancePage{}, fmt.Errorf("balances of merchant %d at %s: %w", merchant, at.Format(time.RFC3339), err)
		}
		for _, r := range rows {
			out = append(out, newBalance(r.Code, r.Currency, r.Type, r.NormalSide, r.DebitsPosted, r.CreditsPosted, r.DebitsPending, r.CreditsPending))
		}
	}
	var page BalancePage
	if len(out) > limit {
		out = out[:limit]
		page.Next = out[limit-1].Account
	}
	page.Balances = out
	return page, nil
}

// TrialRow is one account's line of a trial balance. A balance is shown on
// the side it stands on: an opening or closing balance is in the Debit or the
// Credit field, the other is zero.
type TrialRow struct {
	Account    string
	Currency   string
	Type       AccountType
	NormalSide Side
	// OpeningDebit or OpeningCredit is the posted balance at the period's start.
	OpeningDebit  decimal.Decimal
	OpeningCredit decimal.Decimal
	// Debits and Credits are the posted entries of the period.
	Debits  decimal.Decimal
	Credits decimal.Decimal
	// ClosingDebit or ClosingCredit is the posted balance at the period's end.
	ClosingDebit  decimal.Decimal
	ClosingCredit decimal.Decimal
}

// TrialTotal sums a trial balance's lines of one currency. In a sound ledger
// each pair is equal: every transfer balances per currency.
type TrialTotal struct {
	Currency      string
	Accounts      int
	OpeningDebit  decimal.Decimal
	OpeningCredit decimal.Decimal
	Debits        decimal.Decimal
	Credits       decimal.Decimal
	ClosingDebit  decimal.Decimal
	ClosingCredit decimal.Decimal
}

// Balanced says whether debits equal credits in each column pair.
func (t TrialTotal) Balanced() bool {
	return t.OpeningDebit.Equal(t.OpeningCredit) && t.Debits.Equal(t.Credits) && t.ClosingDebit.Equal(t.ClosingCredit)
}

// TrialBalance is a merchant's trial balance of the period [From, To): one row
// per account that had a balance or moved in it, by currency then code, and
// the totals per currency.
type TrialBalance struct {
	Merchant int64
	From, To time.Time
	Rows     []TrialRow
	Totals   []TrialTotal
}

// Balanced says whether every currency's totals balance.
func (tb TrialBalance) Balanced() bool {
	for _, t := range tb.Totals {
		if !t.Balanced() {
			return false
		}
	}
	return true
}

// TrialBalance returns the trial balance of merchant for the period [from,
// to), from its posted entries (an entry's time is its transfer's). It is one
// statement, so one snapshot: the opening balance is the current one less the
// entries since from, so its cost is the entries since the period began, not
// the whole history. A period whose end is less than the longest transaction
// ago can still change (see BalanceAt). ErrInvalid when from is not before to.
func (l *Ledger) TrialBalance(ctx context.Context, merchant int64, from, to time.Time) (TrialBalance, error) {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return TrialBalance{}, fmt.Errorf("trial balance: period %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), ErrInvalid)
	}
	rows, err := ledgerdb.New(l.pool).TrialBalance(ctx, ledgerdb.TrialBalanceParams{MerchantID: merchant, PeriodFrom: from, PeriodTo: to})
	if err != nil {
		return TrialBalance{}, fmt.Errorf("trial balance of merchant %d: %w", merchant, err)
	}
	tb := TrialBalance{Merchant: merchant, From: from, To: to}
	var cur *TrialTotal
	for _, r := range rows {
		// opening = now - since from; closing = now - since to (net debit).
		openNet := r.DebitsPosted.Sub(r.DebitsSinceFrom).Sub(r.CreditsPosted.Sub(r.CreditsSinceFrom))
		debits := r.DebitsSinceFrom.Sub(r.DebitsSinceTo)
		credits := r.CreditsSinceFrom.Sub(r.CreditsSinceTo)
		if openNet.IsZero() && debits.IsZero() && credits.IsZero() {
			continue
		}
		closeNet := openNet.Add(debits).Sub(credits)
		row := TrialRow{Account: r.Code, Currency: r.Currency, Type: AccountType(r.Type), NormalSide: Side(r.NormalSide),
			Debits: debits, Credits: credits}
		row.OpeningDebit, row.OpeningCredit = sides(openNet)
		row.ClosingDebit, row.ClosingCredit = sides(closeNet)
		tb.Rows = append(tb.Rows, row)
		if cur == nil || cur.Currency != r.Currency {
			tb.Totals = append(tb.Totals, TrialTotal{Currency: r.Currency})
			cur = &tb.Totals[len(tb.Totals)-1]
		}
		cur.Accounts++
		cur.OpeningDebit = cur.OpeningDebit.Add(row.OpeningDebit)
		cur.OpeningCredit = cur.OpeningCredit.Add(row.OpeningCredit)
		cur.Debits = cur.Debits.Add(row.Debits)
		cur.Credits = cur.Credits.Add(row.Credits)
		cur.ClosingDebit = cur.ClosingDebit.Add(row.ClosingDebit)
		cur.ClosingCredit = cur.ClosingCredit.Add(row.ClosingCredit)
	}
	return tb, nil
}

// sides splits a net debit balance into its debit and credit columns.
func sides(net decimal.Decimal) (debit, credit decimal.Decimal) {
	if net.IsNegative() {
		return decimal.Zero, net.Neg()
	}
	return net, decimal.Zero
}

// JournalLine is one posted entry of the journal export.
type JournalLine struct {
	EntryID     int64
	TransferID  int64
	TransferKey string
	Reference   string
	Account     string
	Side        Side
	Amount      decimal.Decimal
	Currency    string
	At          time.Time
}

// Debit is the amount when the entry is a debit, else zero.
func (j JournalLine) Debit() decimal.Decimal {
	if j.Side == Debit {
		return j.Amount
	}
	return decimal.Zero
}

// Credit is the amount when the entry is a credit, else zero.
func (j JournalLine) Credit() decimal.Decimal {
	if j.Side == Credit {
		return j.Amount
	}
	return decimal.Zero
}

// journalPageSize is the rows the journal reads per round trip.
const journalPageSize = 2000

// Journal calls fn with every posted entry of merchant created in [from,
// to), in entry id order (a transfer's entries together), reading them page
// by page (keyset on the id) in one read-only repeatable-read transaction, so
// the export is one consistent snapshot however long it is and memory stays
// flat. An error from fn stops it and is returned. ErrInvalid when from is
// not before to.
func (l *Ledger) Journal(ctx context.Context, merchant int64, from, to time.Time, fn func(JournalLine) error) error {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return fmt.Errorf("journal: period %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), ErrInvalid)
	}
	tx, err := l.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("journal of merchant %d: begin: %w", merchant, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	q := ledgerdb.New(tx)
	b, err := q.JournalBounds(ctx, ledgerdb.JournalBoundsParams{MerchantID: merchant, PeriodFrom: from, PeriodTo: to})
	if err != nil {
		return fmt.Errorf("journal of merchant %d: bounds: %w", merchant, err)
	}
	if b.LastID == 0 {
		return nil
	}
	after := b.FirstID - 1
	for {
		rows, err := q.JournalPage(ctx, ledgerdb.JournalPageParams{After: after, LastID: b.LastID, MerchantID: merchant,
			PeriodFrom: from, PeriodTo: to, PageSize: journalPageSize})
		if err != nil {
			return fmt.Errorf("journal of merchant %d after entry %d: %w", merchant, after, err)
		}
		for _, r := range rows {
			line := JournalLine{EntryID: r.ID, TransferID: r.TransferID, TransferKey: r.IdempotencyKey, Reference: r.Reference,
				Account: r.AccountCode, Side: Side(r.Side), Amount: r.Amount, Currency: r.Currency, At: r.CreatedAt}
			if err := fn(line); err != nil {
				return err
			}
		}
		if len(rows) < journalPageSize {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}
