package recon

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/orders"
	"github.com/tallyhq/tally/providers"
)

// Action is what an accountant decides about a discrepancy.
type Action string

// The resolutions. Each that moves money posts one adjusting transfer, keyed
// "resolution:{discrepancy id}", in the same transaction that closes the
// discrepancy.
const (
	// AcceptReceived credits the customer with what the payer really paid
	// (suspense to the customer's account).
	AcceptReceived Action = "accept_received"
	// RefundPayer credits the customer and pays the money back out through a
	// payout order (suspense to the customer, then a payout).
	RefundPayer Action = "refund_payer"
	// WriteOff books the difference to the right side: a surplus (money
	// parked in suspense that nobody claims, a provider holding more than the
	// ledger) is credited to income:gain; a shortfall (a provider holding
	// less, a reversal's or a payout's receivable) is debited to expenses:loss.
	WriteOff Action = "write_off"
	// MatchOrder attributes parked money to an order tally knows (suspense to
	// that order's customer).
	MatchOrder Action = "match_order"
	// Ignore closes the discrepancy without moving money; a reason is required.
	Ignore Action = "ignore"
)

// Resolution is an accountant's decision.
type Resolution struct {
	Action Action
	// Actor is who decided (required); Note why.
	Actor string
	Note  string
	// OrderID is the order MatchOrder attributes the money to.
	OrderID int64
	// Refund describes RefundPayer's payout: provider account and beneficiary.
	RefundAccount string
	Beneficiary   providers.Party
}

// Resolved is what Resolve did.
type Resolved struct {
	Discrepancy discrepancies.Discrepancy `json:"discrepancy"`
	TransferKey string                    `json:"transfer_key,omitempty"`
	Refund      *orders.Order             `json:"refund,omitempty"`
}

// ErrNothingToMove: the resolution needs money that the discrepancy did not
// park (use ignore, or another resolution).
var ErrNothingToMove = errors.New("no money is parked for this discrepancy")

// Resolve applies an accountant's resolution at once, without maker-checker:
// it posts the adjusting transfer where money moves and closes the discrepancy
// with who, when and why, in one transaction. Resolving a closed discrepancy is
// discrepancies.ErrClosed. The API and the CLI go through Propose instead;
// Resolve is for tally's own code and tests.
//
// refund_payer credits the customer and creates the refund payout (its order,
// hold and submit_order job) in that same transaction: the refund's provider
// account must make payouts in the currency and take the beneficiary (its
// adapter's own rules), or the resolution is refused with ErrInvalid and
// nothing moves.
func (s *Service) Resolve(ctx context.Context, merchantID, id int64, r Resolution) (Resolved, error) {
	if err := r.check(); err != nil {
		return Resolved{}, err
	}
	if err := s.precheckRefund(ctx, merchantID, id, r); err != nil {
		return Resolved{}, err
	}
	var out Resolved
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		d, err := s.lockOpen(ctx, tx, merchantID, id)
		if err != nil {
			return err
		}
		entries, req, err := s.adjustment(ctx, d, r)
		if err != nil {
			return err
		}
		out, err = s.resolveTx(ctx, tx, d, r, entries, req, nil)
		return err
	})
	if err != nil {
		return Resolved{}, fmt.Errorf("resolve discrepancy %d: %w", id, err)
	}
	return out, nil
}

// check validates a resolution's action and actor (and ignore's reason).
func (r Resolution) check() error {
	if strings.TrimSpace(r.Actor) == "" {
		return fmt.Errorf("resolution needs an actor (who decides): %w", ErrInvalid)
	}
	switch r.Action {
	case AcceptReceived, RefundPayer, WriteOff, MatchOrder:
	case Ignore:
		if strings.TrimSpace(r.Note) == "" {
			return fmt.Errorf("ignoring a discrepancy needs a reason (--note): %w", ErrInvalid)
		}
	default:
		return fmt.Errorf("resolution %q: accept_received, refund_payer, write_off, match_order or ignore: %w", r.Action, ErrInvalid)
	}
	return nil
}

// precheckRefund refuses, before any transaction, a refund_payer whose payout
// its provider account would refuse.
func (s *Service) precheckRefund(ctx context.Context, merchantID, id int64, r Resolution) error {
	if r.Action != RefundPayer {
		return nil
	}
	d, err := s.disc.Get(ctx, s.pool, id)
	if err != nil {
		return fmt.Errorf("resolve discrepancy %d: %w", id, err)
	}
	if d.MerchantID != merchantID {
		return fmt.Errorf("resolve discrepancy %d: %w", id, discrepancies.ErrNotFound)
	}
	if d.Status != discrepancies.Open {
		return nil // the transaction says ErrClosed
	}
	_, req, err := s.adjustment(ctx, d, r)
	if err != nil {
		return fmt.Errorf("resolve discrepancy %d: %w", id, err)
	}
	if err := s.checkRefund(ctx, merchantID, *req); err != nil {
		return fmt.Errorf("resolve discrepancy %d: refund_payer refused before anything moved: %w", id, err)
	}
	return nil
}

// lockOpen locks the merchant's discrepancy id for the rest of tx; another
// merchant's is ErrNotFound, a closed one ErrClosed.
func (s *Service) lockOpen(ctx context.Context, tx pgx.Tx, merchantID, id int64) (discrepancies.Discrepancy, error) {
	d, err := s.disc.GetForUpdateTx(ctx, tx, id)
	if err != nil {
		return discrepancies.Discrepancy{}, err
	}
	if d.MerchantID != merchantID {
		return discrepancies.Discrepancy{}, fmt.Errorf("discrepancy %d: %w", id, discrepancies.ErrNotFound)
	}
	if d.Status != discrepancies.Open {
		return discrepancies.Discrepancy{}, fmt.Errorf("discrepancy %d is %s (%s by %s): %w", id, d.Status, d.Resolution, d.ResolvedBy, discrepancies.ErrClosed)
	}
	return d, nil
}

// resolveTx carries out a validated resolution on d, locked and open in tx:
// the adjusting transfer (keyed resolution:{id}, exactly once), the refund
// payout, and the closing of the discrepancy by r.Actor. meta is added to the
// transfer's metadata (e.g. the maker of an approved proposal).
func (s *Service) resolveTx(ctx context.Context, tx pgx.Tx, d discrepancies.Discrepancy, r Resolution, entries []ledger.Entry,
	req *orders.CreateRequest, meta map[string]string) (Resolved, error) {
	var out Resolved
	key := ""
	if len(entries) > 0 {
		key = fmt.Sprintf("resolution:%d", d.ID)
		if d.ResolvedBy != "" {
			// Closed before and reopened (a new drift after a write-off): each
			// sighting counts, so this closing's key is new.
			key = fmt.Sprintf("resolution:%d:%d", d.ID, d.SeenCount)
		}
		md := map[string]string{"resolution": string(r.Action), "actor": r.Actor}
		for k, v := range meta {
			md[k] = v
		}
		if _, err := s.ledger.TransferTx(ctx, tx, ledger.TransferRequest{Merchant: d.MerchantID, Key: key, Entries: entries,
			Reference: fmt.Sprintf("discrepancy:%d", d.ID), Metadata: md}); err != nil {
			return Resolved{}, fmt.Errorf("post the adjusting transfer: %w", err)
		}
	}
	status := discrepancies.Resolved
	if r.Action == Ignore {
		status = discrepancies.Ignored
	}
	if req != nil {
		o, _, err := s.orders.CreateTx(ctx, tx, *req)
		if errors.Is(err, orders.ErrInvalid) || errors.Is(err, orders.ErrInsufficientFunds) || errors.Is(err, orders.ErrDuplicateOrderNo) {
			return Resolved{}, fmt.Errorf("refund payout refused: %w: %w", ErrInvalid, err)
		}
		if err != nil {
			return Resolved{}, fmt.Errorf("refund payout: %w", err)
		}
		out.Refund = &o
	}
	var err error
	out.Discrepancy, err = s.disc.CloseTx(ctx, tx, d.ID, status, string(r.Action), r.Actor, r.Note, key)
	out.TransferKey = key
	return out, err
}

// stake is the amount a resolution's transfer moves (its debits), what a
// threshold is compared with.
func stake(entries []ledger.Entry) decimal.Decimal {
	sum := decimal.Zero
	for _, e := range entries {
		if e.Side == ledger.Debit {
			sum = sum.Add(e.Amount)
		}
	}
	return sum
}

// checkRefund refuses, before the resolution commits, a refund payout that
// its provider account would refuse: unknown, disabled or another merchant's
// account, no payouts, or an amount, currency or beneficiary its adapter's
// rules reject.
func (s *Service) checkRefund(ctx context.Context, merchantID int64, req orders.CreateRequest) error {
	adapter, acct, err := s.orders.Adapter(ctx, merchantID, req.ProviderAccount)
	if err != nil || acct.MerchantID != merchantID || !acct.Enabled {
		return fmt.Errorf("refund account %q is unknown, disabled or not the merchant's: %w", req.ProviderAccount, ErrInvalid)
	}
	if !adapter.Capabilities().Payout {
		return fmt.Errorf("refund account %s (%s) makes no payouts: %w", acct.Name, acct.Provider, ErrInvalid)
	}
	if err := adapter.ValidatePayout(providers.PayoutRequest{OrderNo: fmt.Sprintf("T%020d", 0), Amount: req.Amount, Currency: req.Currency,
		CustomerID: req.CustomerID, NotifyURL: s.orders.NotifyURL(acct), Beneficiary: req.Party}); err != nil {
		return fmt.Errorf("refund of %s %s through %s: %w: %w", req.Amount, req.Currency, acct.Name, ErrInvalid, err)
	}
	return nil
}

// adjustment is the transfer a resolution posts (none for ignore), and the
// refund payout to create with it.
func (s *Service) adjustment(ctx context.Context, d discrepancies.Discrepancy, r Resolution) ([]ledger.Entry, *orders.CreateRequest, error) {
	parked := d.SuspenseAmount
	cur := d.Currency
	// Money in suspense belongs to payer-modified amounts and unknown orders; a
	// reversal's parked amount is what the customer owes (a receivable).
	inSuspense := d.Type == discrepancies.AmountMismatch || d.Type == discrepancies.UnknownOrder
	if r.Action == Ignore {
		return nil, nil, nil
	}
	if d.Type == discrepancies.AmountMismatch && d.OrderID != 0 && parked.IsPositive() {
		// A payout the provider paid beyond its hold parked the excess as owed
		// by the customer (a receivable), not in suspense.
		o, err := s.orders.Get(ctx, d.MerchantID, d.OrderID)
		if err != nil {
			return nil, nil, err
		}
		if o.Kind == providers.KindPayout {
			rec := ledger.ReceivableAccount(o.CustomerID, cur)
			switch r.Action {
			case WriteOff:
				return []ledger.Entry{{Account: ledger.LossAccount(cur), Side: ledger.Debit, Amount: parked}, {Account: rec, Side: ledger.Credit, Amount: parked}}, nil, nil
			case AcceptReceived:
				// The customer keeps what the provider paid out: charged to
				// their balance (refused when it does not cover it).
				return []ledger.Entry{{Account: ledger.CustomerAccount(o.CustomerID, cur), Side: ledger.Debit, Amount: parked}, {Account: rec, Side: ledger.Credit, Amount: parked}}, nil, nil
			}
			return nil, nil, fmt.Errorf("%s on a payout paid beyond its hold: accept_received, write_off or ignore: %w", r.Action, ErrInvalid)
		}
	}
	if !inSuspense && r.Action != WriteOff {
		return nil, nil, fmt.Errorf("%s on a %s: %w", r.Action, d.Type, ErrNothingToMove)
	}
	switch r.Action {
	case AcceptReceived, RefundPayer:
		if !parked.IsPositive() || d.OrderID == 0 {
			return nil, nil, fmt.Errorf("%s on a %s: %w", r.Action, d.Type, ErrNothingToMove)
		}
		o, err := s.orders.Get(ctx, d.MerchantID, d.OrderID)
		if err != nil {
			return nil, nil, err
		}
		if o.Origin == "provider" {
			return nil, nil, fmt.Errorf("the order of this %s is unknown to the merchant: use match_order: %w", d.Type, ErrInvalid)
		}
		entries := suspenseTo(ledger.CustomerAccount(o.CustomerID, cur), cur, parked)
		if r.Action == AcceptReceived {
			return entries, nil, nil
		}
		acct := r.RefundAccount
		if acct == "" {
			acct = o.ProviderAccount
		}
		return entries, &orders.CreateRequest{MerchantID: d.MerchantID, Kind: providers.KindPayout, ProviderAccount: acct,
			CustomerID: o.CustomerID, Amount: parked, Currency: cur, Party: r.Beneficiary,
			IdempotencyKey: fmt.Sprintf("refund:discrepancy:%d", d.ID)}, nil
	case MatchOrder:
		if !parked.IsPositive() {
			return nil, nil, fmt.Errorf("match_order on a %s: %w", d.Type, ErrNothingToMove)
		}
		if r.OrderID == 0 {
			return nil, nil, errNoOrderToMatch
		}
		o, err := s.orders.Get(ctx, d.MerchantID, r.OrderID)
		if err != nil {
			return nil, nil, err
		}
		if o.Currency != cur {
			return nil, nil, fmt.Errorf("order %d is in %s, the parked money in %s: %w", o.ID, o.Currency, cur, ErrInvalid)
		}
		return suspenseTo(ledger.CustomerAccount(o.CustomerID, cur), cur, parked), nil, nil
	case WriteOff:
		loss := ledger.LossAccount(cur)
		switch {
		case d.Type == discrepancies.Reversal && d.OrderID != 0:
			if !parked.IsPositive() {
				return nil, nil, fmt.Errorf("the customer owes nothing for this reversal: %w", ErrNothingToMove)
			}
			o, err := s.orders.Get(ctx, d.MerchantID, d.OrderID)
			if err != nil {
				return nil, nil, err
			}
			rec := ledger.ReceivableAccount(o.CustomerID, cur)
			return []ledger.Entry{{Account: loss, Side: ledger.Debit, Amount: parked}, {Account: rec, Side: ledger.Credit, Amount: parked}}, nil, nil
		case parked.IsPositive() && inSuspense:
			// Money parked that nobody claims is a surplus: a gain, never a
			// negative expense.
			return []ledger.Entry{{Account: ledger.SuspenseAccount(cur), Side: ledger.Debit, Amount: parked},
				{Account: ledger.GainAccount(cur), Side: ledger.Credit, Amount: parked}}, nil, nil
		case d.Type == discrepancies.BalanceDrift && !d.AmountDelta.IsZero():
			acct, err := s.merchants.ProviderAccountByID(ctx, d.ProviderAccountID)
			if err != nil {
				return nil, nil, err
			}
			clearing := ledger.ProviderAccount(acct.Name, cur)
			amt := d.AmountDelta.Abs()
			if d.AmountDelta.IsNegative() { // the provider holds less than the ledger says
				return []ledger.Entry{{Account: loss, Side: ledger.Debit, Amount: amt}, {Account: clearing, Side: ledger.Credit, Amount: amt}}, nil, nil
			}
			// The provider holds more than the ledger says: a gain.
			return []ledger.Entry{{Account: clearing, Side: ledger.Debit, Amount: amt}, {Account: ledger.GainAccount(cur), Side: ledger.Credit, Amount: amt}}, nil, nil
		}
		return nil, nil, fmt.Errorf("write_off on a %s: %w", d.Type, ErrNothingToMove)
	}
	return nil, nil, fmt.Errorf("resolution %q: %w", r.Action, ErrInvalid)
}

func suspenseTo(account, cur string, amount decimal.Decimal) []ledger.Entry {
	return []ledger.Entry{
		{Account: ledger.SuspenseAccount(cur), Side: ledger.Debit, Amount: amount},
		{Account: account, Side: ledger.Credit, Amount: amount},
	}
}
