package console

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
)

// queueQuery is the open items' filter, sort and page as the page parses
// them from the URL; storeQueue hands it to discrepancies.Query.
type queueQuery struct {
	MerchantIDs       []int64 // nil: every merchant
	Status            discrepancies.Status
	Types             []discrepancies.Type
	Severities        []discrepancies.Severity
	ProviderAccountID int64
	OrderID           int64
	// AssignedTo: 0 any, -1 unassigned, >0 that user.
	AssignedTo                int64
	OpenedBefore, OpenedAfter time.Time
	// MinAmount and MaxAmount bound abs(amount_delta).
	MinAmount, MaxAmount decimal.NullDecimal
	// Sort: newest (default), oldest, amount_desc, amount_asc, severity.
	Sort   string
	Cursor string
	Limit  int32
}

// queueItem is one row of the queue: a discrepancy and its assignment.
type queueItem struct {
	discrepancies.Discrepancy
	AssignedTo int64
	AssignedAt *time.Time
}

// queuePage is a page of the queue and the cursor of the next ("" at the end).
type queuePage struct {
	Items []queueItem
	Next  string
}

// discrepancyQueue is what the open items page reads from package
// discrepancies (consumer-defined: the page's tests and benchmark hold it to
// the page's needs, not to the store's whole API).
type discrepancyQueue interface {
	Query(ctx context.Context, q queueQuery) (queuePage, error)
}

// queueSorts are the sorts the queue offers, with their labels.
var queueSorts = []struct{ Value, Label string }{
	{"newest", "Newest first"}, {"oldest", "Oldest first"}, {"amount_desc", "Largest amount"},
	{"amount_asc", "Smallest amount"}, {"severity", "Severity"},
}

func validSort(s string) bool {
	for _, q := range queueSorts {
		if q.Value == s {
			return true
		}
	}
	return false
}

// errBadQuery: a filter, sort or cursor the store refuses.
var errBadQuery = discrepancies.ErrBadQuery

// storeQueue is the queue over package discrepancies' store.
type storeQueue struct {
	store *discrepancies.Store
	pool  *pgxpool.Pool
}

func (c *Console) newQueue() discrepancyQueue {
	return storeQueue{store: c.deps.Discrepancies, pool: c.deps.Pool}
}

func (q storeQueue) Query(ctx context.Context, in queueQuery) (queuePage, error) {
	p, err := q.store.Query(ctx, q.pool, discrepancies.Query{
		MerchantIDs: in.MerchantIDs, Status: in.Status, Types: in.Types, Severities: in.Severities,
		ProviderAccountID: in.ProviderAccountID, OrderID: in.OrderID, AssignedTo: in.AssignedTo,
		OpenedBefore: in.OpenedBefore, OpenedAfter: in.OpenedAfter, MinAmount: in.MinAmount, MaxAmount: in.MaxAmount,
		Sort: discrepancies.Sort(in.Sort), Cursor: in.Cursor, Limit: in.Limit,
	})
	if err != nil {
		return queuePage{}, fmt.Errorf("open items: %w", err)
	}
	out := queuePage{Items: make([]queueItem, len(p.Items)), Next: p.Next}
	for i, d := range p.Items {
		out.Items[i] = queueItem{Discrepancy: d, AssignedTo: d.AssignedTo, AssignedAt: d.AssignedAt}
	}
	return out, nil
}
