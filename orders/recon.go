package orders

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tallyhq/tally/db/ordersdb"
)

// The reads reconciliation (package recon) makes of the orders tables: it pages
// through a provider account's orders and matches them with a provider's
// statement through these methods, never through SQL of its own.

// Ref is an order as matching needs it, without the rest of its row: enough to
// page through every settled order of a window cheaply and to tell which
// orders a list of discrepancies is about.
type Ref struct {
	ID              int64
	ProviderOrderNo string
	ProviderOrderID string
	Status          Status
	CreatedAt       time.Time
}

// CreatedIn returns a page of a provider account's orders created in [from,
// to), by id: the first limit orders after afterID.
func (s *Service) CreatedIn(ctx context.Context, providerAccountID int64, from, to time.Time, afterID int64, limit int32) ([]Order, error) {
	rows, err := s.q.ReconOrdersCreatedIn(ctx, ordersdb.ReconOrdersCreatedInParams{ProviderAccountID: providerAccountID,
		WindowStart: from, WindowEnd: to, AfterID: afterID, RowLimit: limit})
	if err != nil {
		return nil, fmt.Errorf("orders of account %d created in [%s, %s): %w", providerAccountID,
			from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	return s.fromRows(ctx, rows)
}

// OverdueQuery selects a provider account's open orders (created, pending,
// processing) whose deadline fell in [DeadlineFrom, DeadlineBefore): their
// expires_at, or their creation plus DefaultLifetime when they have none.
// Orders created in [SkipFrom, SkipBefore) are left out (a run looks at those
// anyway), and paging is by id: the first Limit orders after AfterID.
type OverdueQuery struct {
	ProviderAccountID            int64
	DeadlineFrom, DeadlineBefore time.Time
	DefaultLifetime              time.Duration
	SkipFrom, SkipBefore         time.Time
	AfterID                      int64
	Limit                        int32
}

// Overdue returns a page of the open orders q selects.
func (s *Service) Overdue(ctx context.Context, q OverdueQuery) ([]Order, error) {
	from, before := q.DeadlineFrom, q.DeadlineBefore
	rows, err := s.q.ReconOverdueOrders(ctx, ordersdb.ReconOverdueOrdersParams{ProviderAccountID: q.ProviderAccountID,
		DeadlineFrom: &from, DeadlineBefore: &before,
		CreatedFrom: from.Add(-q.DefaultLifetime), CreatedBefore: before.Add(-q.DefaultLifetime),
		SkipFrom: q.SkipFrom, SkipBefore: q.SkipBefore, AfterID: q.AfterID, RowLimit: q.Limit})
	if err != nil {
		return nil, fmt.Errorf("overdue orders of account %d: %w", q.ProviderAccountID, err)
	}
	return s.fromRows(ctx, rows)
}

// SettledRefs returns a page of a provider account's orders settled
// (succeeded or reversed) in [from, to), by provider order number in the
// database's order: the first limit orders whose number sorts after afterNo
// ("" from the first).
func (s *Service) SettledRefs(ctx context.Context, providerAccountID int64, from, to time.Time, afterNo string, limit int32) ([]Ref, error) {
	rows, err := s.q.ReconSettledRefs(ctx, ordersdb.ReconSettledRefsParams{ProviderAccountID: providerAccountID,
		SettledFrom: &from, SettledBefore: &to, AfterNo: afterNo, RowLimit: limit})
	if err != nil {
		return nil, fmt.Errorf("orders of account %d settled in [%s, %s): %w", providerAccountID,
			from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	out := make([]Ref, len(rows))
	for i, r := range rows {
		out[i] = Ref{ID: r.ID, ProviderOrderNo: r.ProviderOrderNo, ProviderOrderID: r.ProviderOrderID, Status: Status(r.Status), CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// ByProviderRefs returns, by id, a provider account's orders whose provider
// order number is one of orderNos or whose provider id is one of
// providerOrderIDs (the empty id matches nothing): the orders a page of a
// provider's statement names, read in one or two round trips.
func (s *Service) ByProviderRefs(ctx context.Context, providerAccountID int64, orderNos, providerOrderIDs []string) ([]Order, error) {
	var rows []ordersdb.Order
	if len(orderNos) > 0 {
		r, err := s.q.ReconOrdersByProviderNos(ctx, ordersdb.ReconOrdersByProviderNosParams{ProviderAccountID: providerAccountID, ProviderOrderNos: orderNos})
		if err != nil {
			return nil, fmt.Errorf("orders of account %d by number: %w", providerAccountID, err)
		}
		rows = r
	}
	if len(providerOrderIDs) > 0 {
		r, err := s.q.ReconOrdersByProviderIDs(ctx, ordersdb.ReconOrdersByProviderIDsParams{ProviderAccountID: providerAccountID, ProviderOrderIds: providerOrderIDs})
		if err != nil {
			return nil, fmt.Errorf("orders of account %d by provider id: %w", providerAccountID, err)
		}
		seen := make(map[int64]bool, len(rows))
		for _, o := range rows {
			seen[o.ID] = true
		}
		for _, o := range r {
			if !seen[o.ID] {
				seen[o.ID] = true
				rows = append(rows, o)
			}
		}
	}
	slices.SortFunc(rows, func(a, b ordersdb.Order) int { return cmp.Compare(a.ID, b.ID) })
	return s.fromRows(ctx, rows)
}

// ByIDs returns the orders of the given ids, by id (any merchant's: for
// reconciliation, which knows the account).
func (s *Service) ByIDs(ctx context.Context, ids []int64) ([]Order, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.q.ReconOrdersByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("orders by id: %w", err)
	}
	return s.fromRows(ctx, rows)
}

// Refs returns the refs of the orders of the given ids, by id; an id no order
// has is left out.
func (s *Service) Refs(ctx context.Context, ids []int64) ([]Ref, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.q.ReconOrderRefs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("order refs: %w", err)
	}
	out := make([]Ref, len(rows))
	for i, r := range rows {
		out[i] = Ref{ID: r.ID, ProviderOrderNo: r.ProviderOrderNo, ProviderOrderID: r.ProviderOrderID, Status: Status(r.Status), CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// fromRows converts a page of stored orders, naming each provider account
// once per page (as fromRow does).
func (s *Service) fromRows(ctx context.Context, rows []ordersdb.Order) ([]Order, error) {
	type label struct{ account, provider string }
	labels := map[int64]label{}
	out := make([]Order, len(rows))
	for i, r := range rows {
		l, ok := labels[r.ProviderAccountID]
		if !ok {
			o, err := s.fromRow(ctx, r)
			if err != nil {
				return nil, err
			}
			l = label{o.ProviderAccount, o.Provider}
			labels[r.ProviderAccountID] = l
		}
		out[i] = orderFromRow(r)
		out[i].ProviderAccount, out[i].Provider = l.account, l.provider
	}
	return out, nil
}
