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
		_, acct, err := s.AdapterByID(ctx, row.ProviderAccountID)
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
	adapter, _, err := s.AdapterByID(ctx, providerAccountID)
	if err != nil {
		return nil, err
	}
	rows, err := s.q.UnappliedCallbacks(ctx, providerAccountID)
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
			o, err := s.q.OrderByProviderNo(ctx, ordersdb.OrderByProviderNoParams{ProviderAccountID: providerAccountID, ProviderOrderNo: ev.OrderNo})
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
