package orders

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tallyhq/tally/db/ordersdb"
)

// SearchFilter selects orders for staff (the console), across the merchants
// a user sees; zero fields match everything.
type SearchFilter struct {
	// MerchantIDs are the merchants searched: nil is every merchant, an empty
	// (non-nil) slice none.
	MerchantIDs []int64
	// OrderNo matches the merchant's order number or the provider order number.
	OrderNo string
	// ProviderOrderID is the provider's own id of the order.
	ProviderOrderID   string
	CustomerID        string
	Status            Status
	Kind              Kind
	ProviderAccountID int64
	// From and To bound the creation time: [From, To).
	From, To time.Time
	// Cursor is SearchPage.Next of the previous page ("" for the first).
	Cursor string
	// Limit is the page size: default 50, at most 500.
	Limit int32
}

// SearchPage is one page of a search, newest first.
type SearchPage struct {
	Orders []Order
	// Next is the cursor of the following page, or "" when this is the last.
	Next string
}

// Search finds orders, newest first, keyset paged on (created time, id).
// ErrInvalid for a cursor Search did not make.
func (s *Service) Search(ctx context.Context, f SearchFilter) (SearchPage, error) {
	if f.MerchantIDs != nil && len(f.MerchantIDs) == 0 {
		return SearchPage{}, nil
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	p := ordersdb.SearchOrdersParams{MerchantIds: f.MerchantIDs, RowLimit: f.Limit + 1}
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	p.OrderNo, p.ProviderOrderID, p.CustomerID = opt(f.OrderNo), opt(f.ProviderOrderID), opt(f.CustomerID)
	p.Status, p.Kind = opt(string(f.Status)), opt(string(f.Kind))
	if f.ProviderAccountID != 0 {
		p.ProviderAccountID = &f.ProviderAccountID
	}
	if !f.From.IsZero() {
		p.CreatedFrom = &f.From
	}
	if !f.To.IsZero() {
		p.CreatedTo = &f.To
	}
	if f.Cursor != "" {
		at, id, err := parseSearchCursor(f.Cursor)
		if err != nil {
			return SearchPage{}, err
		}
		p.BeforeAt, p.BeforeID = &at, &id
	}
	rows, err := s.q.SearchOrders(ctx, p)
	if err != nil {
		return SearchPage{}, fmt.Errorf("search orders: %w", err)
	}
	var page SearchPage
	if len(rows) > int(f.Limit) {
		rows = rows[:f.Limit]
		last := rows[len(rows)-1]
		page.Next = strconv.FormatInt(last.CreatedAt.UnixMicro(), 10) + "_" + strconv.FormatInt(last.ID, 10)
	}
	for _, r := range rows {
		o, err := s.fromRow(ctx, r)
		if err != nil {
			return SearchPage{}, err
		}
		page.Orders = append(page.Orders, o)
	}
	return page, nil
}

// parseSearchCursor reads "<created, µs since the epoch>_<id>".
func parseSearchCursor(c string) (time.Time, int64, error) {
	a, b, ok := strings.Cut(c, "_")
	us, err1 := strconv.ParseInt(a, 10, 64)
	id, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, fmt.Errorf("search cursor %q: %w", c, ErrInvalid)
	}
	return time.UnixMicro(us), id, nil
}
