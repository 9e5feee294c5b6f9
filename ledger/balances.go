package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ledgerdb"
)

// Balance is an account's balance: the sums of its entries by column, and the
// figures derived from them on the account's normal side.
type Balance struct {
	Account    string
	Currency   string
	Type       AccountType
	NormalSide Side
	// The four running sums. The pending ones are what open holds hold.
	DebitsPosted   decimal.Decimal
	CreditsPosted  decimal.Decimal
	DebitsPending  decimal.Decimal
	CreditsPending decimal.Decimal
	// Posted is the posted balance on the normal side (credits minus debits for a
	// credit-normal account).
	Posted decimal.Decimal
	// Pending is what open holds would add on the normal side if posted in full
	// (negative when they take money out).
	Pending decimal.Decimal
	// Available is Posted less the holds against the normal side; incoming holds do
	// not count until posted. An account that may not go negative never has a
	// negative Available.
	Available decimal.Decimal
}

// Balance returns the current balance of account of merchant, or ErrNotFound when
// the account has never been used.
func (l *Ledger) Balance(ctx context.Context, merchant int64, account string) (Balance, error) {
	r, err := ledgerdb.New(l.pool).GetBalance(ctx, ledgerdb.GetBalanceParams{MerchantID: merchant, Code: account})
	if errors.Is(err, pgx.ErrNoRows) {
		return Balance{}, fmt.Errorf("balance of %s: %w", account, ErrNotFound)
	}
	if err != nil {
		return Balance{}, fmt.Errorf("balance of %s: %w", account, err)
	}
	return newBalance(r.Code, r.Currency, r.Type, r.NormalSide, r.DebitsPosted, r.CreditsPosted, r.DebitsPending, r.CreditsPending), nil
}

// Balances returns the current balance of every account of merchant, by code.
func (l *Ledger) Balances(ctx context.Context, merchant int64) ([]Balance, error) {
	return balances(ctx, ledgerdb.New(l.pool), merchant)
}

// BalancesTx is Balances read in the caller's transaction (a snapshot shared
// with other reads: reconciliation's balance comparison).
func (l *Ledger) BalancesTx(ctx context.Context, tx pgx.Tx, merchant int64) ([]Balance, error) {
	return balances(ctx, ledgerdb.New(tx), merchant)
}

func balances(ctx context.Context, q *ledgerdb.Queries, merchant int64) ([]Balance, error) {
	rows, err := q.ListBalances(ctx, merchant)
	if err != nil {
		return nil, fmt.Errorf("balances of merchant %d: %w", merchant, err)
	}
	out := make([]Balance, len(rows))
	for i, r := range rows {
		out[i] = newBalance(r.Code, r.Currency, r.Type, r.NormalSide, r.DebitsPosted, r.CreditsPosted, r.DebitsPending, r.CreditsPending)
	}
	return out, nil
}

// BalanceAt returns the balance of account as it was at time at: the sum of its
// entries created at or before at. An entry's time is its transfer's, and a
// transfer's time is the start of the database transaction that wrote it
// (now()): for a Tx form, the caller's transaction, which may commit later. So
// the balance at a time less than the longest transaction ago can still change
// as transactions that began before it commit; further back it is final. One
// index-only scan of (account, time) (migration 00020); its cost grows with the
// account's entries up to at.
func (l *Ledger) BalanceAt(ctx context.Context, merchant int64, account string, at time.Time) (Balance, error) {
	q := ledgerdb.New(l.pool)
	a, err := q.GetAccount(ctx, ledgerdb.GetAccountParams{MerchantID: merchant, Code: account})
	if errors.Is(err, pgx.ErrNoRows) {
		return Balance{}, fmt.Errorf("balance of %s at %s: %w", account, at.Format(time.RFC3339Nano), ErrNotFound)
	}
	if err != nil {
		return Balance{}, fmt.Errorf("balance of %s at %s: %w", account, at.Format(time.RFC3339Nano), err)
	}
	r, err := q.BalanceAt(ctx, ledgerdb.BalanceAtParams{AccountID: a.ID, At: at})
	if err != nil {
		return Balance{}, fmt.Errorf("balance of %s at %s: %w", account, at.Format(time.RFC3339Nano), err)
	}
	return newBalance(a.Code, a.Currency, a.Type, a.NormalSide, r.DebitsPosted, r.CreditsPosted, r.DebitsPending, r.CreditsPending), nil
}

// Phase is what an entry moves: the posted columns, a hold's pending amount, or
// the release of a hold's pending amount.
type Phase string

// Entry phases.
const (
	PhasePosted  Phase = "posted"
	PhasePending Phase = "pending"
	PhaseRelease Phase = "release"
)

// AccountEntry is a stored entry as an account's history shows it.
type AccountEntry struct {
	ID          int64
	TransferID  int64
	TransferKey string
	Reference   string
	Account     string
	Side        Side
	Phase       Phase
	Amount      decimal.Decimal
	Currency    string
	CreatedAt   time.Time
}

// EntryPage is one page of an account's entries, oldest first.
type EntryPage struct {
	Entries []AccountEntry
	// Next is the cursor of the following page (pass it as after), or 0 when this
	// is the last page.
	Next int64
}

// Entries returns up to limit (1 to 1000; default 100) entries of account after the
// keyset cursor after (0 for the first page), oldest first.
func (l *Ledger) Entries(ctx context.Context, merchant int64, account string, after int64, limit int) (EntryPage, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := ledgerdb.New(l.pool)
	a, err := q.GetAccount(ctx, ledgerdb.GetAccountParams{MerchantID: merchant, Code: account})
	if errors.Is(err, pgx.ErrNoRows) {
		return EntryPage{}, fmt.Errorf("entries of %s: %w", account, ErrNotFound)
	}
	if err != nil {
		return EntryPage{}, fmt.Errorf("entries of %s: %w", account, err)
	}
	// One row more than asked tells whether there is a next page.
	rows, err := q.ListAccountEntries(ctx, ledgerdb.ListAccountEntriesParams{AccountID: a.ID, After: after, PageSize: int32(limit + 1)})
	if err != nil {
		return EntryPage{}, fmt.Errorf("entries of %s: %w", account, err)
	}
	var page EntryPage
	for i, r := range rows {
		if i == limit {
			page.Next = page.Entries[limit-1].ID
			break
		}
		page.Entries = append(page.Entries, AccountEntry{
			ID: r.ID, TransferID: r.TransferID, TransferKey: r.IdempotencyKey, Reference: r.Reference,
			Account: account, Side: Side(r.Side), Phase: Phase(r.Phase), Amount: r.Amount,
			Currency: r.Currency, CreatedAt: r.CreatedAt,
		})
	}
	return page, nil
}

// TransferDetail is a stored transfer with its entries.
type TransferDetail struct {
	Transfer
	Entries []AccountEntry
}

// GetTransfer returns transfer id of merchant with its entries, or ErrNotFound.
func (l *Ledger) GetTransfer(ctx context.Context, merchant, id int64) (TransferDetail, error) {
	t, err := ledgerdb.New(l.pool).GetTransfer(ctx, ledgerdb.GetTransferParams{MerchantID: merchant, ID: id})
	return l.transferDetail(ctx, t, err, fmt.Sprint(id))
}

// GetTransferByKey returns the transfer of merchant with idempotency key key.
func (l *Ledger) GetTransferByKey(ctx context.Context, merchant int64, key string) (TransferDetail, error) {
	t, err := ledgerdb.New(l.pool).GetTransferByKey(ctx, ledgerdb.GetTransferByKeyParams{MerchantID: merchant, IdempotencyKey: key})
	return l.transferDetail(ctx, t, err, key)
}

func (l *Ledger) transferDetail(ctx context.Context, t ledgerdb.Transfer, err error, name string) (TransferDetail, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return TransferDetail{}, fmt.Errorf("transfer %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return TransferDetail{}, fmt.Errorf("transfer %s: %w", name, err)
	}
	d := TransferDetail{Transfer: Transfer{
		ID: t.ID, Merchant: t.MerchantID, Key: t.IdempotencyKey, State: TransferState(t.State),
		PendingID: t.PendingID.Int64, Reference: t.Reference, CreatedAt: t.CreatedAt,
	}}
	if t.ExpiresAt != nil {
		d.ExpiresAt = *t.ExpiresAt
	}
	if len(t.Metadata) > 0 && string(t.Metadata) != "{}" {
		if err := json.Unmarshal(t.Metadata, &d.Metadata); err != nil {
			return TransferDetail{}, fmt.Errorf("transfer %s: metadata: %w", name, err)
		}
	}
	rows, err := ledgerdb.New(l.pool).ListTransferEntries(ctx, t.ID)
	if err != nil {
		return TransferDetail{}, fmt.Errorf("transfer %s: entries: %w", name, err)
	}
	for _, r := range rows {
		d.Entries = append(d.Entries, AccountEntry{
			ID: r.ID, TransferID: t.ID, TransferKey: t.IdempotencyKey, Reference: t.Reference,
			Account: r.AccountCode, Side: Side(r.Side), Phase: Phase(r.Phase), Amount: r.Amount,
			Currency: r.Currency, CreatedAt: r.CreatedAt,
		})
	}
	return d, nil
}

func newBalance(code, currency, typ, normal string, dp, cp, dq, cq decimal.Decimal) Balance {
	b := Balance{
		Account: code, Currency: currency, Type: AccountType(typ), NormalSide: Side(normal),
		DebitsPosted: dp, CreditsPosted: cp, DebitsPending: dq, CreditsPending: cq,
	}
	if b.NormalSide == Credit {
		b.Posted = cp.Sub(dp)
		b.Pending = cq.Sub(dq)
		b.Available = b.Posted.Sub(dq)
	} else {
		b.Posted = dp.Sub(cp)
		b.Pending = dq.Sub(cq)
		b.Available = b.Posted.Sub(cq)
	}
	return b
}
