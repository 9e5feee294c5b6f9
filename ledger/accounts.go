package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tallyhq/tally/db/ledgerdb"
)

// Merchant is a tenant of the ledger: every account and transfer belongs to one.
type Merchant struct {
	ID        int64
	Code      string
	Name      string
	CreatedAt time.Time
}

// MerchantByCode returns the merchant with code, or ErrNotFound.
func (l *Ledger) MerchantByCode(ctx context.Context, code string) (Merchant, error) {
	m, err := ledgerdb.New(l.pool).GetMerchantByCode(ctx, code)
	if errors.Is(err, pgx.ErrNoRows) {
		return Merchant{}, fmt.Errorf("merchant %s: %w", code, ErrNotFound)
	}
	if err != nil {
		return Merchant{}, fmt.Errorf("merchant %s: %w", code, err)
	}
	return Merchant{ID: m.ID, Code: m.Code, Name: m.Name, CreatedAt: m.CreatedAt}, nil
}

// Account is an account of the chart as stored.
type Account struct {
	ID            int64
	Merchant      int64
	Code          string
	Type          AccountType
	NormalSide    Side
	Currency      string
	AllowNegative bool
	Slots         int
	CreatedAt     time.Time
}

// Accounts lists a merchant's accounts by code.
func (l *Ledger) Accounts(ctx context.Context, merchant int64) ([]Account, error) {
	rows, err := ledgerdb.New(l.pool).ListAccounts(ctx, merchant)
	if err != nil {
		return nil, fmt.Errorf("list accounts of merchant %d: %w", merchant, err)
	}
	out := make([]Account, len(rows))
	for i, r := range rows {
		out[i] = accountFromRow(r)
	}
	return out, nil
}

// EnsureAccount returns the account code of merchant, creating it from the chart
// when it does not exist yet (transfers do this themselves; this is for callers
// that want an account to exist before money moves).
func (l *Ledger) EnsureAccount(ctx context.Context, merchant int64, code string) (Account, error) {
	spec, err := ParseAccount(code)
	if err != nil {
		return Account{}, err
	}
	if _, err := l.Currency(ctx, spec.Currency); err != nil {
		return Account{}, fmt.Errorf("account %s: %w", code, err)
	}
	if _, err := l.account(ctx, merchant, spec); err != nil {
		return Account{}, err
	}
	r, err := ledgerdb.New(l.pool).GetAccount(ctx, ledgerdb.GetAccountParams{MerchantID: merchant, Code: code})
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", code, err)
	}
	return accountFromRow(r), nil
}

// account is what the posting path needs to know of an account.
type account struct {
	id    int64
	slots int32
}

// account returns the id and slot count of spec's account of merchant: from the
// cache, else from the database, creating the account on first use. Creation runs
// in its own transaction on the pool: this is the pool forms' path (the Tx forms
// resolve unknown accounts inside the caller's transaction, see newAccounts), and
// only committed accounts are cached.
func (l *Ledger) account(ctx context.Context, merchant int64, spec AccountSpec) (account, error) {
	k := merchantKey{merchant, spec.Code}
	if a, ok := l.accounts.get(k); ok {
		return a, nil
	}
	r := spec.Rule
	row, err := ledgerdb.New(l.pool).EnsureAccount(ctx, ledgerdb.EnsureAccountParams{
		MerchantID:    merchant,
		Code:          spec.Code,
		Type:          string(r.Type),
		NormalSide:    string(r.NormalSide),
		Currency:      spec.Currency,
		AllowNegative: r.AllowNegative,
		Slots:         int32(r.Slots),
	})
	if err != nil {
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23503" { // foreign_key_violation: no such merchant
			return account{}, fmt.Errorf("account %s: merchant %d (it must be committed before its first transfer): %w",
				spec.Code, merchant, ErrNotFound)
		}
		return account{}, fmt.Errorf("ensure account %s: %w", spec.Code, err)
	}
	a := account{id: row.ID, slots: row.Slots}
	l.accounts.put(k, a)
	return a, nil
}

// newAccounts are the accounts of one Tx call that the cache does not know. The
// call's _tx function (migration 00018) finds or creates them inside the caller's
// transaction, in the attempt that uses them, so a Tx form never needs a second
// connection and a refused call leaves no account behind. An entry on the k-th of
// them carries the account reference -k.
type newAccounts struct {
	index    map[merchantKey]int
	keys     []merchantKey
	typ      []string
	normal   []string
	currency []string
	allowNeg []bool
	slots    []int32
}

// ref returns the reference of spec's account of merchant, adding it when new.
func (n *newAccounts) ref(merchant int64, spec AccountSpec) int64 {
	k := merchantKey{merchant, spec.Code}
	if i, ok := n.index[k]; ok {
		return -int64(i)
	}
	if n.index == nil {
		n.index = map[merchantKey]int{}
	}
	r := spec.Rule
	n.keys = append(n.keys, k)
	n.typ = append(n.typ, string(r.Type))
	n.normal = append(n.normal, string(r.NormalSide))
	n.currency = append(n.currency, spec.Currency)
	n.allowNeg = append(n.allowNeg, r.AllowNegative)
	n.slots = append(n.slots, int32(r.Slots))
	n.index[k] = len(n.keys)
	return -int64(len(n.keys))
}

func (n *newAccounts) merchants() []int64 {
	out := make([]int64, len(n.keys))
	for i, k := range n.keys {
		out[i] = k.merchant
	}
	return out
}

func (n *newAccounts) codes() []string {
	out := make([]string, len(n.keys))
	for i, k := range n.keys {
		out[i] = k.code
	}
	return out
}

// learn caches the accounts a _tx function resolved whose rows are committed
// (committed[i]); an account created by the caller's still open transaction is
// not cached, because that transaction may yet roll back.
func (l *Ledger) learn(n *newAccounts, ids []int64, slots []int32, committed []bool) {
	for i, k := range n.keys {
		if i < len(ids) && i < len(slots) && i < len(committed) && committed[i] && ids[i] > 0 {
			l.accounts.put(k, account{id: ids[i], slots: slots[i]})
		}
	}
}

// codesByID names the accounts a _tx function resolved, for error messages.
func (n *newAccounts) codesByID(ids []int64) map[int64]string {
	out := map[int64]string{}
	for i, k := range n.keys {
		if i < len(ids) && ids[i] > 0 {
			out[ids[i]] = k.code
		}
	}
	return out
}

// existingAccount is account without creation: ErrNotFound when it does not exist.
func (l *Ledger) existingAccount(ctx context.Context, merchant int64, spec AccountSpec) (account, error) {
	k := merchantKey{merchant, spec.Code}
	if a, ok := l.accounts.get(k); ok {
		return a, nil
	}
	r, err := ledgerdb.New(l.pool).GetAccount(ctx, ledgerdb.GetAccountParams{MerchantID: merchant, Code: spec.Code})
	if errors.Is(err, pgx.ErrNoRows) {
		return account{}, fmt.Errorf("account %s: %w", spec.Code, ErrNotFound)
	}
	if err != nil {
		return account{}, fmt.Errorf("account %s: %w", spec.Code, err)
	}
	a := account{id: r.ID, slots: int32(r.Slots)}
	l.accounts.put(k, a)
	return a, nil
}

// merchantKey names an account (or an idempotency key) of a merchant.
type merchantKey struct {
	merchant int64
	code     string
}

// accountCache maps account codes to ids. Accounts never change or disappear, so
// entries never go stale; the map is bounded by starting over when full.
type accountCache struct {
	mu    sync.RWMutex
	max   int
	ids   map[merchantKey]account
	codes map[int64]string
}

func newAccountCache(max int) *accountCache {
	return &accountCache{max: max, ids: map[merchantKey]account{}, codes: map[int64]string{}}
}

func (c *accountCache) get(k merchantKey) (account, bool) {
	c.mu.RLock()
	a, ok := c.ids[k]
	c.mu.RUnlock()
	return a, ok
}

func (c *accountCache) codeOf(id int64) (string, bool) {
	c.mu.RLock()
	code, ok := c.codes[id]
	c.mu.RUnlock()
	return code, ok
}

func (c *accountCache) put(k merchantKey, a account) {
	c.mu.Lock()
	if len(c.ids) >= c.max {
		c.ids = map[merchantKey]account{}
		c.codes = map[int64]string{}
	}
	c.ids[k] = a
	c.codes[a.id] = k.code
	c.mu.Unlock()
}

func accountFromRow(r ledgerdb.Account) Account {
	return Account{
		ID:            r.ID,
		Merchant:      r.MerchantID,
		Code:          r.Code,
		Type:          AccountType(r.Type),
		NormalSide:    Side(r.NormalSide),
		Currency:      r.Currency,
		AllowNegative: r.AllowNegative,
		Slots:         int(r.Slots),
		CreatedAt:     r.CreatedAt,
	}
}
