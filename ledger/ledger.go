// Package ledger is tally's double-entry ledger, the source of truth for money.
//
// A transfer is two or more entries (debit or credit, positive amount) that
// balance per currency. It is posted at once, or held: a hold (pending transfer)
// reduces the available balance without moving the posted one, and is later
// posted (fully or partially, the rest released), voided, or expired, exactly
// once. Entries are never changed: resolving a hold writes a new transfer whose
// "release" entries take the held amounts back out of the pending columns and
// whose "posted" entries move the posted amount. So every balance column is always
// the sum of its entries, which Check proves.
//
// Accounts are named by code and created on first use from the chart of accounts
// (see Chart), which decides their type, normal side, whether they may go negative
// and whether they are hot. A hot account (a provider's clearing account, in every
// deposit) has HotSlots balance rows; each transfer updates one of them.
//
// Every write is one statement, one database round trip: a plpgsql function
// (migrations 00002_ledger.sql and 00018_ledger_tx.sql) inserts the transfer
// (idempotently, by key), locks the balance rows it touches in (account, slot)
// order, updates them and inserts the entries; CHECK constraints on the balance
// rows refuse an overdraft. A hot account's slot is chosen per database
// transaction (a hash of its id), so all transfers of one transaction move the
// same row of it. Each write has two forms:
//
//   - the pool form (Transfer, PostPending, ...) runs in its own transaction and
//     retries deadlocks and serialization failures with a bounded, jittered
//     backoff (WithMaxAttempts);
//   - the Tx form (TransferTx, PostPendingTx, ...) runs inside the caller's
//     transaction; see below.
//
// # Caller transactions
//
// A Tx form is still one statement: a _tx function (migration 00018) that runs
// each attempt in a subtransaction (a plpgsql exception block, which is a
// savepoint taken and released inside the server, so it costs no round trip).
// A refusal rolls the subtransaction back and comes back as a typed error: the
// caller's transaction stays usable and nothing of the call remains. A deadlock
// whose victim is the call (SQLSTATE 40P01), or a serialization failure (40001)
// under READ COMMITTED, also rolls the attempt back, which releases every lock
// the attempt took, and the function tries again after a jittered backoff (2 ms
// doubling, at most 200 ms), at most WithTxAttempts times (default 4), each
// retry logged. Under REPEATABLE READ or SERIALIZABLE a serialization failure is
// not retried: the snapshot is the caller's transaction's, and a retry would
// fail the same way. Lock timeouts (55P03, from the caller's lock_timeout) and
// cancellations are not retried either: they are the caller's bounds.
//
// What the ledger retries is everything it can release. It cannot release what
// the caller's transaction locked before the call: the caller's own rows, and
// the balance rows of its earlier ledger calls. Two transactions that each make
// two ledger calls on two accounts in opposite order deadlock on locks their
// first calls took; retrying the second call cannot break that cycle, and only
// rolling one transaction back can. Such a call returns ErrConflict after its
// attempts (the transaction is usable but must be rolled back and run again,
// which a River job's retry does). The design keeps this case rare: within one
// call rows are locked in one global order; every call of a transaction moves
// the same slot of a hot account, so the usual shape (a settlement and then its
// fee through the same provider clearing and fee accounts) never waits in its
// second call for a hot row; and a transfer that needs several accounts should
// be one call (one transfer with all its entries) rather than several.
//
// The retry costs nothing on the success path: measured on the single-transfer
// Tx path (one caller transaction, 32 calls per commit, 4,000 calls each,
// interleaved), the retrying _tx function takes 484 µs at the median against
// 477 µs for the non-retrying _caught function of 00002, within noise; the
// alternative, a savepoint from Go (pgx tx.Begin around the call), adds two
// round trips (SAVEPOINT, RELEASE) and took 736-759 µs.
//
// Accounts are created on first use. The pool forms create an account the
// ledger's cache does not know in its own short transaction on the pool before
// the transfer. The Tx forms never use a second connection: they pass such
// accounts by code to the _tx function, which finds or creates them (INSERT ...
// ON CONFLICT DO NOTHING, then select) inside the same attempt as the transfer,
// so a refused call (a payout refused for insufficient funds) leaves no new
// account behind, a rolled-back caller transaction takes its accounts with it,
// and a Tx form works on a pool whose only connection is the caller's. Only
// accounts whose rows are committed are cached (the function says which rows
// were written by the caller's own, still open, transaction), so a cached id is
// never one a rollback can take away. Two transactions creating one account wait
// for each other like any insert of one key.
//
// History: an entry's time (AccountEntry.CreatedAt, what BalanceAt filters on)
// is its transfer's, and a transfer's time is the start of the database
// transaction that wrote it, not its commit; see BalanceAt.
//
// Currencies are data: the currencies table (migrations 00002 and 00021, and
// the ISO 4217 seed of db.MigrateUp) says which currencies the ledger can book
// and with how many decimal places. The ledger caches them (Currency,
// Currencies, AddCurrency); a code the cache lacks is looked up in the database
// again before it is refused, so a currency another process added is bookable
// at once. Every transfer is checked against them before it is written.
//
// Amounts are decimal.Decimal in Go and numeric in SQL, never floating point.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ledgerdb"
)

// Ledger posts transfers and reads balances for every merchant of one database.
// It is safe for concurrent use; create one per process and share it, because it
// caches account ids.
type Ledger struct {
	pool        *pgxpool.Pool
	accounts    *accountCache
	currencies  *currencyCache
	maxAttempts int
	txAttempts  int
	log         *slog.Logger
	now         func() time.Time
}

// Option configures a Ledger.
type Option func(*Ledger)

// WithMaxAttempts sets how often the pool form tries a write that failed with a
// deadlock or serialization failure (default 8).
func WithMaxAttempts(n int) Option {
	return func(l *Ledger) {
		if n > 0 {
			l.maxAttempts = n
		}
	}
}

// WithTxAttempts sets how often a Tx form tries its work, inside the caller's
// transaction, after a deadlock or serialization failure (default 4). Each
// attempt that was a deadlock's victim has waited deadlock_timeout (1 s by
// default) before the server detected it, so this bounds how long a Tx form can
// hold the caller's locks while it retries.
func WithTxAttempts(n int) Option {
	return func(l *Ledger) {
		if n > 0 {
			l.txAttempts = n
		}
	}
}

// WithLogger sets the logger for retries and expiry (default slog.Default()).
func WithLogger(log *slog.Logger) Option { return func(l *Ledger) { l.log = log } }

// WithAccountCacheSize bounds the number of account ids kept in memory (default
// 1,000,000). When full the cache starts over, which costs one lookup per account.
func WithAccountCacheSize(n int) Option { return func(l *Ledger) { l.accounts.max = n } }

// New returns a ledger on pool, whose database is migrated (db.MigrateUp).
func New(pool *pgxpool.Pool, opts ...Option) *Ledger {
	l := &Ledger{
		pool:        pool,
		accounts:    newAccountCache(1_000_000),
		currencies:  &currencyCache{},
		maxAttempts: 8,
		txAttempts:  4,
		log:         slog.Default(),
		now:         time.Now,
	}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Pool returns the pool the ledger writes through.
func (l *Ledger) Pool() *pgxpool.Pool { return l.pool }

// Entry is one line of a transfer request.
type Entry struct {
	// Account is the account code, e.g. ledger.CustomerAccount("83430099", "USDT").
	Account string
	Side    Side
	// Amount is positive, with at most the currency's scale of decimal places.
	Amount decimal.Decimal
	// Currency, when set, must equal the account's currency (the last segment of
	// its code); it is a cross-check, and may be left empty.
	Currency string
}

// TransferRequest asks for a new transfer, posted at once or held (Pending).
type TransferRequest struct {
	// Merchant owns the transfer and every account in it.
	Merchant int64
	// Key makes the request idempotent per merchant: the same key with the same
	// content returns the first transfer; with other content ErrIdempotencyConflict.
	// Keys beginning with "ledger:" are reserved.
	Key     string
	Entries []Entry
	// Pending makes the transfer a hold: its amounts count against the available
	// balance but not the posted one until PostPending.
	Pending bool
	// ExpiresAt is a hold's deadline (zero: none). After it the hold can no longer
	// be posted or voided; ExpirePending releases it.
	ExpiresAt time.Time
	// Reference says what the transfer is for (an order, a callback, a resolution).
	Reference string
	// Metadata is stored with the transfer (an FX rate, a provider's order id).
	Metadata map[string]string
}

// TransferState is the state of a transfer.
type TransferState string

// Transfer states. A posted transfer is final; a pending one is a hold that ends
// committed, voided or expired.
const (
	StatePosted    TransferState = "posted"
	StatePending   TransferState = "pending"
	StateCommitted TransferState = "committed"
	StateVoided    TransferState = "voided"
	StateExpired   TransferState = "expired"
)

// Transfer is a transfer the ledger stored.
type Transfer struct {
	ID       int64
	Merchant int64
	Key      string
	// State is the state when the call returned (a replayed hold may since have
	// been committed).
	State TransferState
	// PendingID is, for a transfer that resolved a hold, the hold's id.
	PendingID int64
	ExpiresAt time.Time
	Reference string
	Metadata  map[string]string
	CreatedAt time.Time
	// Replayed is true when the key had already been used with the same content:
	// nothing was written, and this is the first transfer.
	Replayed bool
}

// Transfer stores one transfer in its own transaction, retrying deadlocks and
// serialization failures. See TransferRequest.
func (l *Ledger) Transfer(ctx context.Context, req TransferRequest) (Transfer, error) {
	return l.transfer(ctx, nil, req)
}

// TransferTx is Transfer inside the caller's transaction tx. A refusal leaves tx
// usable; a deadlock or serialization failure of the call itself is retried
// inside tx, and one the ledger cannot resolve is ErrConflict (see "Caller
// transactions" in the package documentation).
func (l *Ledger) TransferTx(ctx context.Context, tx pgx.Tx, req TransferRequest) (Transfer, error) {
	if tx == nil {
		return Transfer{}, fmt.Errorf("transfer %s: nil transaction: %w", req.Key, ErrInvalid)
	}
	return l.transfer(ctx, tx, req)
}

// TransferBatch stores many transfers in one statement, one round trip, all or
// nothing; it is the fast path for bulk posting (imports, settlements, tests).
// Each transfer keeps its own idempotency: a replayed key returns its first
// transfer and writes nothing. Balance limits are checked after each transfer,
// in batch order, as if the transfers were posted one by one: a transfer that
// would take an account that may not go negative below zero refuses the whole
// batch (ErrInsufficientFunds), even when a later transfer of the batch would
// cover it (migration 00019; about 8 ms per 1,000 transfers). Resolutions of
// holds are not batched.
func (l *Ledger) TransferBatch(ctx context.Context, reqs []TransferRequest) ([]Transfer, error) {
	return l.transferBatch(ctx, nil, reqs)
}

// TransferBatchTx is TransferBatch inside the caller's transaction tx, retried
// like TransferTx. A refusal leaves tx usable.
func (l *Ledger) TransferBatchTx(ctx context.Context, tx pgx.Tx, reqs []TransferRequest) ([]Transfer, error) {
	if tx == nil {
		return nil, fmt.Errorf("transfer batch: nil transaction: %w", ErrInvalid)
	}
	return l.transferBatch(ctx, tx, reqs)
}

// Resolution asks to post or void a hold.
type Resolution struct {
	Merchant int64
	// Key makes the resolution idempotent, like TransferRequest.Key.
	Key string
	// Hold names the hold by id, or HoldKey by its idempotency key (one of them).
	Hold    int64
	HoldKey string
	// Amount (post only) posts this amount on every leg of the hold and releases
	// the rest: a partial post of the usual two-leg hold. Zero posts the hold in
	// full. Holds whose legs differ in amount take Entries instead.
	Amount decimal.Decimal
	// Entries (post only) are the posted entries explicitly; each must be on an
	// account and side of the hold and at most what it holds there, and they must
	// balance. The rest of the hold is released.
	Entries   []Entry
	Reference string
	Metadata  map[string]string
}

// PostPending commits a hold: it releases the held amounts and posts the hold in
// full, or partially (Resolution.Amount or Entries). A hold is resolved once: a
// second post, a post after a void and anything after expiry are refused with
// ErrHoldNotPending or ErrHoldExpired. Of racing resolutions of one hold exactly
// one wins.
func (l *Ledger) PostPending(ctx context.Context, r Resolution) (Transfer, error) {
	return l.resolve(ctx, nil, actionPost, r, time.Time{})
}

// PostPendingTx is PostPending inside the caller's transaction tx, retried like
// TransferTx. A refusal leaves tx usable. The hold stays locked until tx ends.
func (l *Ledger) PostPendingTx(ctx context.Context, tx pgx.Tx, r Resolution) (Transfer, error) {
	if tx == nil {
		return Transfer{}, fmt.Errorf("post pending: nil transaction: %w", ErrInvalid)
	}
	return l.resolve(ctx, tx, actionPost, r, time.Time{})
}

// VoidPending releases a hold without posting anything.
func (l *Ledger) VoidPending(ctx context.Context, r Resolution) (Transfer, error) {
	return l.resolve(ctx, nil, actionVoid, r, time.Time{})
}

// VoidPendingTx is VoidPending inside the caller's transaction tx, retried like
// TransferTx. A refusal leaves tx usable.
func (l *Ledger) VoidPendingTx(ctx context.Context, tx pgx.Tx, r Resolution) (Transfer, error) {
	if tx == nil {
		return Transfer{}, fmt.Errorf("void pending: nil transaction: %w", ErrInvalid)
	}
	return l.resolve(ctx, tx, actionVoid, r, time.Time{})
}

// ExpirePending expires every hold whose deadline is at or before now, releasing
// what it holds, and returns how many it expired. Each hold expires in its own
// transaction, under the key "ledger:expire:{hold id}", so that concurrent runs
// (two scheduler nodes) expire each hold once. A hold posted or voided while this
// runs is skipped.
func (l *Ledger) ExpirePending(ctx context.Context, now time.Time) (int, error) {
	const page = 500
	q := ledgerdb.New(l.pool)
	expired := 0
	for {
		due, err := q.ListDueHolds(ctx, ledgerdb.ListDueHoldsParams{Now: now, MaxHolds: page})
		if err != nil {
			return expired, fmt.Errorf("expire pending: list due holds: %w", err)
		}
		progressed := false
		for _, h := range due {
			r := Resolution{Merchant: h.MerchantID, Key: fmt.Sprintf("%sexpire:%d", reservedPrefix, h.ID), Hold: h.ID}
			t, err := l.resolve(ctx, nil, actionExpire, r, now)
			switch {
			case err == nil:
				progressed = true
				if !t.Replayed {
					expired++
				}
			case errors.Is(err, ErrHoldNotPending), errors.Is(err, errNotDue):
				progressed = true
			default:
				return expired, fmt.Errorf("expire pending: %w", err)
			}
		}
		if len(due) < page || !progressed {
			if expired > 0 {
				l.log.InfoContext(ctx, "ledger: expired holds", "count", expired)
			}
			return expired, nil
		}
	}
}

// reservedPrefix starts the keys the ledger makes itself.
const reservedPrefix = "ledger:"

const (
	actionPost   = "post"
	actionVoid   = "void"
	actionExpire = "expire"
)

// transfer validates req, resolves its accounts and stores it with one call of
// ledger_transfer: in tx (ledger_transfer_tx, retried inside tx) or on the pool
// (retried here).
func (l *Ledger) transfer(ctx context.Context, tx pgx.Tx, req TransferRequest) (_ Transfer, err error) {
	ctx, span := postSpan(ctx, "ledger.transfer", req.Merchant, 1, tx != nil)
	defer endPostSpan(span, &err)
	label := "transfer " + req.Key
	p, err := prepareTransfer(req, l.lookupIn(ctx, l.dbtx(tx)))
	if err != nil {
		return Transfer{}, fmt.Errorf("%s: %w", label, err)
	}
	params := ledgerdb.TransferParams{
		MerchantID: req.Merchant,
		Key:        req.Key,
		Hash:       p.hash,
		Pending:    req.Pending,
		Reference:  req.Reference,
		Metadata:   p.metadata,
	}
	if !p.expiresAt.IsZero() {
		params.ExpiresAt = &p.expiresAt
	}
	var ea entryArrays
	var fresh *newAccounts
	if tx != nil {
		fresh = &newAccounts{}
	}
	if err := l.appendEntries(ctx, &ea, req.Merchant, p.entries, fresh); err != nil {
		return Transfer{}, fmt.Errorf("%s: %w", label, err)
	}
	params.EAccount, params.ENslots, params.ESide, params.EAmount, params.ECurrency =
		ea.account, ea.nslots, ea.side, ea.amount, ea.currency

	var row ledgerdb.TransferRow
	var names map[int64]string
	if tx != nil {
		var c ledgerdb.TransferTxRow
		c, err = ledgerdb.New(tx).TransferTx(ctx, ledgerdb.TransferTxParams{
			MerchantID: params.MerchantID, Key: params.Key, Hash: params.Hash, Pending: params.Pending,
			ExpiresAt: params.ExpiresAt, Reference: params.Reference, Metadata: params.Metadata,
			EAccount: params.EAccount, ENslots: params.ENslots, ESide: params.ESide, EAmount: params.EAmount,
			ECurrency: params.ECurrency,
			NCode:     fresh.codes(), NType: fresh.typ, NNormalSide: fresh.normal, NCurrency: fresh.currency,
			NAllowNegative: fresh.allowNeg, NSlots: fresh.slots,
			Attempts: int32(l.txAttempts),
		})
		if err == nil {
			err = l.txOutcome(ctx, label, c.Attempts, c.Retried, c.ErrCode, c.ErrMessage, c.ErrDetail, c.ErrConstraint)
			l.learn(fresh, c.NID, c.NNslots, c.NCommitted)
			names = fresh.codesByID(c.NID)
		}
		row = ledgerdb.TransferRow{ID: c.ID, State: c.State, CreatedAt: c.CreatedAt, Replayed: c.Replayed}
	} else {
		err = l.retry(ctx, label, func() error {
			var e error
			row, e = ledgerdb.New(l.pool).Transfer(ctx, params)
			return e
		})
	}
	if err != nil {
		return Transfer{}, fmt.Errorf("%s: %w", label, l.describe(mapError(err), names))
	}
	return transferFromRequest(req, p, row.ID, TransferState(row.State), row.CreatedAt, row.Replayed), nil
}

// entryArrays are entries as the posting functions take them: one array per
// column.
type entryArrays struct {
	transfer []int32
	account  []int64
	nslots   []int32
	side     []string
	amount   []decimal.Decimal
	currency []string
}

// appendEntries resolves the accounts of entries and appends the entries to ea.
// With fresh nil (the pool forms) an account the cache does not know is found or
// created on the pool; otherwise (the Tx forms) it is added to fresh, for the
// posting function to find or create inside the caller's transaction.
func (l *Ledger) appendEntries(ctx context.Context, ea *entryArrays, merchant int64, entries []preparedEntry, fresh *newAccounts) error {
	for _, e := range entries {
		var acct account
		if fresh != nil {
			var ok bool
			if acct, ok = l.accounts.get(merchantKey{merchant, e.spec.Code}); !ok {
				acct = account{id: fresh.ref(merchant, e.spec)}
			}
		} else {
			var err error
			if acct, err = l.account(ctx, merchant, e.spec); err != nil {
				return err
			}
		}
		ea.account = append(ea.account, acct.id)
		ea.nslots = append(ea.nslots, acct.slots)
		ea.side = append(ea.side, string(e.Side))
		ea.amount = append(ea.amount, e.Amount)
		ea.currency = append(ea.currency, e.spec.Currency)
	}
	return nil
}

// transferBatch validates reqs, resolves their accounts and posts them with one
// call of ledger_post_transfers: in tx (ledger_post_transfers_tx, retried inside
// tx) or on the pool (retried here).
func (l *Ledger) transferBatch(ctx context.Context, tx pgx.Tx, reqs []TransferRequest) (_ []Transfer, err error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	ctx, span := postSpan(ctx, "ledger.transfer_batch", reqs[0].Merchant, len(reqs), tx != nil)
	defer endPostSpan(span, &err)
	label := "transfer batch"
	if len(reqs) == 1 {
		label = "transfer " + reqs[0].Key
	}
	prepared := make([]preparedTransfer, len(reqs))
	cur := l.lookupIn(ctx, l.dbtx(tx))
	for i := range reqs {
		p, err := prepareTransfer(reqs[i], cur)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		prepared[i] = p
	}
	// The same key twice in one batch: the same content is one transfer, other
	// content a conflict.
	first := make(map[merchantKey]int, len(reqs))
	dupOf := make([]int, len(reqs))
	var unique []int
	for i, p := range prepared {
		k := merchantKey{reqs[i].Merchant, reqs[i].Key}
		if j, ok := first[k]; ok {
			if string(prepared[j].hash) != string(p.hash) {
				return nil, fmt.Errorf("%s: key %s twice with different content: %w", label, reqs[i].Key, ErrIdempotencyConflict)
			}
			dupOf[i] = j
			continue
		}
		first[k] = i
		dupOf[i] = -1
		unique = append(unique, i)
	}

	var params ledgerdb.PostTransfersParams
	var ea entryArrays
	var fresh *newAccounts
	if tx != nil {
		fresh = &newAccounts{}
	}
	for n, i := range unique {
		p, req := prepared[i], reqs[i]
		expires := ""
		if !req.ExpiresAt.IsZero() {
			expires = p.expiresAt.Format(time.RFC3339Nano)
		}
		params.TMerchant = append(params.TMerchant, req.Merchant)
		params.TKey = append(params.TKey, req.Key)
		params.THash = append(params.THash, p.hash)
		params.TPending = append(params.TPending, req.Pending)
		params.TExpires = append(params.TExpires, expires)
		params.TReference = append(params.TReference, req.Reference)
		params.TMetadata = append(params.TMetadata, p.metadata)
		if err := l.appendEntries(ctx, &ea, req.Merchant, p.entries, fresh); err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		for len(ea.transfer) < len(ea.account) {
			ea.transfer = append(ea.transfer, int32(n+1))
		}
	}
	params.ETransfer, params.EAccount, params.ENslots, params.ESide, params.EAmount, params.ECurrency =
		ea.transfer, ea.account, ea.nslots, ea.side, ea.amount, ea.currency

	var rows []ledgerdb.PostTransfersRow
	var names map[int64]string
	if tx != nil {
		var caught []ledgerdb.PostTransfersTxRow
		caught, err = ledgerdb.New(tx).PostTransfersTx(ctx, ledgerdb.PostTransfersTxParams{
			TMerchant: params.TMerchant, TKey: params.TKey, THash: params.THash, TPending: params.TPending,
			TExpires: params.TExpires, TReference: params.TReference, TMetadata: params.TMetadata,
			ETransfer: params.ETransfer, EAccount: params.EAccount, ENslots: params.ENslots, ESide: params.ESide,
			EAmount: params.EAmount, ECurrency: params.ECurrency,
			NMerchant: fresh.merchants(), NCode: fresh.codes(), NType: fresh.typ, NNormalSide: fresh.normal,
			NCurrency: fresh.currency, NAllowNegative: fresh.allowNeg, NSlots: fresh.slots,
			Attempts: int32(l.txAttempts),
		})
		if err == nil && len(caught) > 0 {
			r := caught[0]
			err = l.txOutcome(ctx, label, r.Attempts, r.Retried, r.ErrCode, r.ErrMessage, r.ErrDetail, r.ErrConstraint)
			l.learn(fresh, r.NID, r.NNslots, r.NCommitted)
			names = fresh.codesByID(r.NID)
		}
		for _, r := range caught {
			rows = append(rows, ledgerdb.PostTransfersRow{Idx: r.Idx, ID: r.ID, State: r.State, CreatedAt: r.CreatedAt, Replayed: r.Replayed})
		}
	} else {
		err = l.retry(ctx, label, func() error {
			var e error
			rows, e = ledgerdb.New(l.pool).PostTransfers(ctx, params)
			return e
		})
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, l.describe(mapError(err), names))
	}
	if len(rows) != len(unique) {
		return nil, fmt.Errorf("%s: database returned %d results for %d transfers", label, len(rows), len(unique))
	}
	out := make([]Transfer, len(reqs))
	for _, r := range rows {
		i := unique[r.Idx-1]
		out[i] = transferFromRequest(reqs[i], prepared[i], r.ID, TransferState(r.State), r.CreatedAt, r.Replayed)
	}
	for i, j := range dupOf {
		if j >= 0 {
			out[i] = out[j]
			out[i].Replayed = true
		}
	}
	return out, nil
}

// resolve posts, voids or expires a hold with one call of ledger_resolve.
func (l *Ledger) resolve(ctx context.Context, tx pgx.Tx, action string, r Resolution, now time.Time) (_ Transfer, err error) {
	ctx, span := postSpan(ctx, "ledger."+action, r.Merchant, 1, tx != nil)
	defer endPostSpan(span, &err)
	label := action + " hold " + r.HoldKey
	if r.Hold != 0 {
		label = fmt.Sprintf("%s hold %d", action, r.Hold)
	}
	if r.Key != "" {
		label += " (" + r.Key + ")"
	}
	p, err := prepareResolution(action, r, l.lookupIn(ctx, l.dbtx(tx)))
	if err != nil {
		return Transfer{}, fmt.Errorf("%s: %w", label, err)
	}
	if now.IsZero() {
		now = l.now()
	}
	params := ledgerdb.ResolveHoldParams{
		MerchantID: r.Merchant,
		Key:        r.Key,
		Hash:       p.hash,
		Action:     action,
		Now:        now,
		Reference:  r.Reference,
		Metadata:   p.metadata,
	}
	if r.Hold != 0 {
		params.HoldID.Int64, params.HoldID.Valid = r.Hold, true
	} else {
		params.HoldKey.String, params.HoldKey.Valid = r.HoldKey, true
	}
	if !r.Amount.IsZero() {
		params.Amount = decimal.NullDecimal{Decimal: r.Amount, Valid: true}
	}
	var fresh *newAccounts
	if tx != nil {
		fresh = &newAccounts{}
	}
	for _, e := range p.entries {
		if fresh != nil {
			// Looked up inside tx by the _tx function when not cached.
			acct, ok := l.accounts.get(merchantKey{r.Merchant, e.spec.Code})
			if !ok {
				acct.id = fresh.ref(r.Merchant, e.spec)
			}
			params.EAccount = append(params.EAccount, acct.id)
			params.ESide = append(params.ESide, string(e.Side))
			params.EAmount = append(params.EAmount, e.Amount)
			continue
		}
		acct, err := l.existingAccount(ctx, r.Merchant, e.spec)
		if errors.Is(err, ErrNotFound) {
			return Transfer{}, fmt.Errorf("%s: account %s is not in the hold: %w", label, e.Account, ErrPostExceedsHold)
		}
		if err != nil {
			return Transfer{}, fmt.Errorf("%s: %w", label, err)
		}
		params.EAccount = append(params.EAccount, acct.id)
		params.ESide = append(params.ESide, string(e.Side))
		params.EAmount = append(params.EAmount, e.Amount)
	}

	var row ledgerdb.ResolveHoldRow
	if tx != nil {
		var c ledgerdb.ResolveHoldTxRow
		c, err = ledgerdb.New(tx).ResolveHoldTx(ctx, ledgerdb.ResolveHoldTxParams{
			MerchantID: params.MerchantID, Key: params.Key, Hash: params.Hash, HoldID: params.HoldID,
			HoldKey: params.HoldKey, Action: params.Action, Now: params.Now, Amount: params.Amount,
			EAccount: params.EAccount, ESide: params.ESide, EAmount: params.EAmount,
			Reference: params.Reference, Metadata: params.Metadata, NCode: fresh.codes(),
			Attempts: int32(l.txAttempts),
		})
		if err == nil {
			err = l.txOutcome(ctx, label, c.Attempts, c.Retried, c.ErrCode, c.ErrMessage, c.ErrDetail, c.ErrConstraint)
		}
		row = ledgerdb.ResolveHoldRow{ID: c.ID, State: c.State, CreatedAt: c.CreatedAt, Replayed: c.Replayed, HoldID: c.HoldID}
	} else {
		err = l.retry(ctx, label, func() error {
			var e error
			row, e = ledgerdb.New(l.pool).ResolveHold(ctx, params)
			return e
		})
	}
	if err != nil {
		return Transfer{}, fmt.Errorf("%s: %w", label, l.describe(mapError(err), nil))
	}
	return Transfer{
		ID:        row.ID,
		Merchant:  r.Merchant,
		Key:       r.Key,
		State:     TransferState(row.State),
		PendingID: row.HoldID,
		Reference: r.Reference,
		Metadata:  r.Metadata,
		CreatedAt: row.CreatedAt,
		Replayed:  row.Replayed,
	}, nil
}

// dbtx is what a call reads through: the caller's transaction tx for a Tx form
// (no second connection), else the pool.
func (l *Ledger) dbtx(tx pgx.Tx) ledgerdb.DBTX {
	if tx != nil {
		return tx
	}
	return l.pool
}

// retry runs fn until it succeeds, fails with an error other than a deadlock or
// serialization failure, or has run maxAttempts times, sleeping a jittered
// exponential backoff (2 ms doubling, at most 200 ms) in between.
func (l *Ledger) retry(ctx context.Context, label string, fn func() error) error {
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !retryable(err) {
			return err
		}
		if attempt >= l.maxAttempts {
			return fmt.Errorf("%w (%d attempts): %w", ErrConflict, attempt, err)
		}
		l.log.DebugContext(ctx, "ledger: retrying", "op", label, "attempt", attempt, "err", err)
		sleep := backoff/2 + rand.N(backoff)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// txOutcome turns what a _tx function returned (migration 00018) into the call's
// error, nil on success, and logs a retry made inside the caller's transaction.
func (l *Ledger) txOutcome(ctx context.Context, label string, attempts int32, retried, code, message, detail, constraint string) error {
	if retried != "" {
		l.log.InfoContext(ctx, "ledger: retried inside the caller's transaction",
			"op", label, "attempts", attempts, "retried", retried, "ok", code == "")
	}
	if code == "" {
		return nil
	}
	err := fromDB(code, message, detail, constraint)
	if retryableCode(code) {
		return fmt.Errorf("%w (%d attempts): %w", ErrConflict, attempts, err)
	}
	return err
}

// describe names the account of an ErrInsufficientFunds when names (the accounts
// a _tx function resolved) or the cache know it.
func (l *Ledger) describe(err error, names map[int64]string) error {
	var fe *fundsError
	if !errors.As(err, &fe) {
		return err
	}
	code, ok := names[fe.accountID]
	if !ok {
		code, ok = l.accounts.codeOf(fe.accountID)
	}
	if ok {
		return fmt.Errorf("account %s: %w", code, ErrInsufficientFunds)
	}
	return err
}

func transferFromRequest(req TransferRequest, p preparedTransfer, id int64, state TransferState, created time.Time, replayed bool) Transfer {
	t := Transfer{
		ID:        id,
		Merchant:  req.Merchant,
		Key:       req.Key,
		State:     state,
		Reference: req.Reference,
		Metadata:  req.Metadata,
		CreatedAt: created,
		Replayed:  replayed,
	}
	if !req.ExpiresAt.IsZero() {
		t.ExpiresAt = p.expiresAt
	}
	return t
}
