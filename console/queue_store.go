package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/discrepancies"
)

// queueQuery is the open items' filter, sort and page. It mirrors
// discrepancies.Query field for field (being added to package discrepancies
// in parallel): once that is on main, queueQuery, queuePage and queueItem
// become aliases of discrepancies.Query, discrepancies.Page and
// discrepancies.Discrepancy, and interimQueue gives way to the store.
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

// discrepancyQueue is what the open items page needs from package
// discrepancies (consumer-defined, so the page is built before the store's
// Query and Assign are on main).
type discrepancyQueue interface {
	Query(ctx context.Context, q queueQuery) (queuePage, error)
	// Assign gives a discrepancy to a user (0 unassigns), recorded under actor.
	Assign(ctx context.Context, id, userID int64, actor string) error
}

// errAssignUnavailable: this build's discrepancies store cannot assign yet.
var errAssignUnavailable = errors.New("assignment is not available in this build")

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

// interimQueue reads the queue with SQL of its own over the pool, until
// discrepancies.Query is merged: the same filters (assignment aside: the
// column arrives with it), the same sorts, keyset pagination (never OFFSET).
type interimQueue struct{ pool *pgxpool.Pool }

func (c *Console) newQueue() discrepancyQueue { return &interimQueue{pool: c.deps.Pool} }

// sortKey is the SQL of a sort: the key expression, whether it descends, and
// how a cursor's key is parsed back.
func sortKey(s string) (expr string, desc bool) {
	switch s {
	case "oldest":
		return "first_seen_at", false
	case "amount_desc":
		return "abs(amount_delta)", true
	case "amount_asc":
		return "abs(amount_delta)", false
	case "severity":
		return "(CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END)", true
	}
	return "first_seen_at", true
}

func (q *interimQueue) Query(ctx context.Context, in queueQuery) (queuePage, error) {
	if in.Sort == "" {
		in.Sort = "newest"
	}
	if !validSort(in.Sort) {
		return queuePage{}, fmt.Errorf("sort %q: %w", in.Sort, errBadQuery)
	}
	if in.Limit <= 0 || in.Limit > 500 {
		in.Limit = 50
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if in.MerchantIDs != nil {
		where = append(where, "merchant_id = ANY("+arg(in.MerchantIDs)+")")
	}
	if in.Status != "" {
		where = append(where, "status = "+arg(string(in.Status)))
	}
	if len(in.Types) > 0 {
		ts := make([]string, len(in.Types))
		for i, t := range in.Types {
			ts[i] = string(t)
		}
		where = append(where, "type = ANY("+arg(ts)+")")
	}
	if len(in.Severities) > 0 {
		ss := make([]string, len(in.Severities))
		for i, s := range in.Severities {
			ss[i] = string(s)
		}
		where = append(where, "severity = ANY("+arg(ss)+")")
	}
	if in.ProviderAccountID != 0 {
		where = append(where, "provider_account_id = "+arg(in.ProviderAccountID))
	}
	if in.OrderID != 0 {
		where = append(where, "order_id = "+arg(in.OrderID))
	}
	if !in.OpenedBefore.IsZero() {
		where = append(where, "first_seen_at < "+arg(in.OpenedBefore))
	}
	if !in.OpenedAfter.IsZero() {
		where = append(where, "first_seen_at >= "+arg(in.OpenedAfter))
	}
	if in.MinAmount.Valid {
		where = append(where, "abs(amount_delta) >= "+arg(in.MinAmount.Decimal))
	}
	if in.MaxAmount.Valid {
		where = append(where, "abs(amount_delta) <= "+arg(in.MaxAmount.Decimal))
	}
	key, desc := sortKey(in.Sort)
	cmp, dir := ">", "ASC"
	if desc {
		cmp, dir = "<", "DESC"
	}
	if in.Cursor != "" {
		k, id, err := decodeQueueCursor(in.Cursor)
		if err != nil {
			return queuePage{}, err
		}
		var kv any = k
		switch {
		case strings.HasPrefix(key, "first_seen_at"):
			t, err := time.Parse(time.RFC3339Nano, k)
			if err != nil {
				return queuePage{}, fmt.Errorf("cursor: %w", errBadQuery)
			}
			kv = t
		case strings.HasPrefix(key, "abs"):
			d, err := decimal.NewFromString(k)
			if err != nil {
				return queuePage{}, fmt.Errorf("cursor: %w", errBadQuery)
			}
			kv = d
		default:
			n, err := strconv.Atoi(k)
			if err != nil {
				return queuePage{}, fmt.Errorf("cursor: %w", errBadQuery)
			}
			kv = n
		}
		where = append(where, "("+key+", id) "+cmp+" ("+arg(kv)+", "+arg(id)+")")
	}
	sql := `SELECT id, merchant_id, coalesce(provider_account_id, 0), coalesce(order_id, 0), type, fingerprint, status, severity,
		currency, expected, actual, amount_delta, summary, suspense_amount, repaired, first_seen_at, last_seen_at, seen_count,
		coalesce(last_run_id, 0), resolved_at, resolved_by, resolution, (` + key + `)::text AS sort_key
		FROM discrepancies`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY " + key + " " + dir + ", id " + dir + " LIMIT " + arg(in.Limit+1)
	rows, err := q.pool.Query(ctx, sql, args...)
	if err != nil {
		return queuePage{}, fmt.Errorf("query discrepancies: %w", err)
	}
	defer rows.Close()
	var page queuePage
	var keys []string
	for rows.Next() {
		var d discrepancies.Discrepancy
		var exp, act decimal.NullDecimal
		var k string
		if err := rows.Scan(&d.ID, &d.MerchantID, &d.ProviderAccountID, &d.OrderID, &d.Type, &d.Fingerprint, &d.Status, &d.Severity,
			&d.Currency, &exp, &act, &d.AmountDelta, &d.Summary, &d.SuspenseAmount, &d.Repaired, &d.FirstSeenAt, &d.LastSeenAt,
			&d.SeenCount, &d.LastRunID, &d.ResolvedAt, &d.ResolvedBy, &d.Resolution, &k); err != nil {
			return queuePage{}, fmt.Errorf("query discrepancies: %w", err)
		}
		d.Expected, d.Actual = decString(exp), decString(act)
		page.Items = append(page.Items, queueItem{Discrepancy: d})
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return queuePage{}, fmt.Errorf("query discrepancies: %w", err)
	}
	if len(page.Items) > int(in.Limit) {
		page.Items = page.Items[:in.Limit]
		last := page.Items[len(page.Items)-1]
		k := keys[in.Limit-1]
		if strings.HasPrefix(key, "first_seen_at") {
			k = last.FirstSeenAt.UTC().Format(time.RFC3339Nano)
		}
		page.Next = encodeQueueCursor(k, last.ID)
	}
	return page, nil
}

func (q *interimQueue) Assign(context.Context, int64, int64, string) error {
	return errAssignUnavailable
}

// errBadQuery: a filter, sort or cursor the queue cannot use.
var errBadQuery = errors.New("bad queue query")

func encodeQueueCursor(key string, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key + "|" + strconv.FormatInt(id, 10)))
}

func decodeQueueCursor(s string) (string, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", 0, fmt.Errorf("cursor: %w", errBadQuery)
	}
	k, idText, ok := strings.Cut(string(b), "|")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil {
		return "", 0, fmt.Errorf("cursor: %w", errBadQuery)
	}
	return k, id, nil
}

func decString(d decimal.NullDecimal) *string {
	if !d.Valid {
		return nil
	}
	s := d.Decimal.String()
	return &s
}
