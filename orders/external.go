package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/providers"
)

// Apply applies a provider's statement about an order — an order query made by
// reconciliation, or a line of an imported settlement statement — through the
// state machine, posting what it implies exactly once. source names it on the
// order's timeline ("recon", "statement").
func (s *Service) Apply(ctx context.Context, orderID int64, ev providers.Event, source string, ref map[string]any) (SyncResult, error) {
	var res SyncResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row, err := s.q.WithTx(tx).OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", orderID, err)
		}
		_, acct, err := s.merchants.AdapterByID(ctx, row.ProviderAccountID)
		if err != nil {
			return err
		}
		res.Before = Status(row.Status)
		row, res.Outcome, err = s.applyTx(ctx, tx, acct, row, ev, source, ref)
		res.After = Status(row.Status)
		res.Event = &ev
		return err
	})
	return res, err
}

// InFlight sums, per currency, what accepted callbacks not yet applied will
// move on a provider account's clearing balance: a settled deposit adds what
// the provider credited, a settled payout takes what it paid plus its fee.
// Reconciliation subtracts it before calling a balance difference drift.
func (s *Service) InFlight(ctx context.Context, providerAccountID int64) (map[string]decimal.Decimal, error) {
	return s.inFlight(ctx, s.q, providerAccountID)
}

// InFlightTx is InFlight read in tx: with the ledger's balances read in the
// same repeatable-read snapshot, a callback applied meanwhile counts exactly
// once (in flight or in the ledger, never both or neither).
func (s *Service) InFlightTx(ctx context.Context, tx pgx.Tx, providerAccountID int64) (map[string]decimal.Decimal, error) {
	return s.inFlight(ctx, s.q.WithTx(tx), providerAccountID)
}

func (s *Service) inFlight(ctx context.Context, q *ordersdb.Queries, providerAccountID int64) (map[string]decimal.Decimal, error) {
	adapter, _, err := s.merchants.AdapterByID(ctx, providerAccountID)
	if err != nil {
		return nil, err
	}
	rows, err := q.UnappliedCallbacks(ctx, providerAccountID)
	if err != nil {
		return nil, fmt.Errorf("unapplied callbacks: %w", err)
	}
	out := map[string]decimal.Decimal{}
	for _, r := range rows {
		query, _ := url.ParseQuery(r.Query)
		header := http.Header{}
		var hs map[string][]string
		if json.Unmarshal(r.Headers, &hs) == nil {
			for k, v := range hs {
				header[k] = v
			}
		}
		ev, err := adapter.ParseCallback(&providers.Callback{Method: r.Method, Path: r.Path, Query: query, Header: header, Body: r.Body, RemoteAddr: r.RemoteAddr})
		if err != nil || ev.Status != providers.StatusSucceeded || ev.Reversed {
			continue
		}
		kind := ev.Kind
		if ev.OrderNo != "" {
			o, err := q.OrderByProviderNo(ctx, ordersdb.OrderByProviderNoParams{ProviderAccountID: providerAccountID, ProviderOrderNo: ev.OrderNo})
			if err == nil {
				if Status(o.Status).Final() {
					continue // already applied by another delivery
				}
				kind = providers.OrderKind(o.Kind)
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return nil, fmt.Errorf("order of callback %d: %w", r.ID, err)
			}
		}
		gross, cur := eventAmount(*ev)
		fee := decimal.Zero
		if ev.Fee.Valid {
			fee = ev.Fee.Decimal
		}
		if kind == providers.KindPayout {
			out[cur] = out[cur].Sub(gross).Sub(fee)
		} else {
			out[cur] = out[cur].Add(gross).Sub(fee)
		}
	}
	return out, nil
}

// CompleteFee books the fee of a settled order whose provider did not state
// one at settlement (UsdtPay's callbacks, for one), once its query or its
// settlement statement does: fees from the clearing account, under the key
// order:{id}:fee. An order whose fee is already known is left alone; it reports
// whether it booked anything.
func (s *Service) CompleteFee(ctx context.Context, orderID int64, fee decimal.Decimal, currency, source string, ref map[string]any) (bool, error) {
	booked := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.OrderByIDForUpdate(ctx, orderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", orderID, err)
		}
		if row.Fee.Valid || !row.PaidAmount.Valid || row.SettledCurrency != currency || fee.IsNegative() {
			return nil
		}
		_, acct, err := s.merchants.AdapterByID(ctx, row.ProviderAccountID)
		if err != nil {
			return err
		}
		if fee.IsPositive() {
			if _, err := s.ledger.TransferTx(ctx, tx, ledger.TransferRequest{
				Merchant: row.MerchantID, Key: fmt.Sprintf("order:%d:fee", row.ID), Reference: orderRef(row.ID),
				Metadata: map[string]string{"source": source},
				Entries: []ledger.Entry{
					{Account: ledger.FeesAccount(acct.Name, currency), Side: ledger.Debit, Amount: fee},
					{Account: ledger.ProviderAccount(acct.Name, currency), Side: ledger.Credit, Amount: fee},
				}}); err != nil {
				return fmt.Errorf("book fee: %w", err)
			}
		}
		credited := row.PaidAmount.Decimal.Sub(fee)
		if row.Kind == string(providers.KindPayout) {
			credited = row.CreditedAmount.Decimal
		}
		if err := q.SetOrderFee(ctx, ordersdb.SetOrderFeeParams{ID: row.ID, Fee: providers.Nullable(fee), CreditedAmount: providers.Nullable(credited)}); err != nil {
			return fmt.Errorf("record fee: %w", err)
		}
		detail := map[string]any{"fee": fee.String(), "currency": currency, "completed_fee": true}
		for k, v := range ref {
			detail[k] = v
		}
		if _, err := s.recordEvent(ctx, q, row, source, row.Status, row.Status, detail); err != nil {
			return err
		}
		booked = true
		return nil
	})
	return booked, err
}
