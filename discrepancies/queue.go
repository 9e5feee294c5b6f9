package discrepancies

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/discdb"
)

// Sort orders the discrepancy queue.
type Sort string

// The queue's sorts; each walks its own index (migration 00028).
const (
	SortNewest     Sort = "newest"      // first seen most recently first (the default)
	SortOldest     Sort = "oldest"      // first seen longest ago first
	SortAmountDesc Sort = "amount_desc" // largest abs(amount_delta) first
	SortAmountAsc  Sort = "amount_asc"  // smallest abs(amount_delta) first
	SortSeverity   Sort = "severity"    // critical first, newest first within a severity
)

// Sorts lists the queue's sorts, the default first.
var Sorts = []Sort{SortNewest, SortOldest, SortAmountDesc, SortAmountAsc, SortSeverity}

// ErrBadQuery: a queue query with an unknown sort, status, type or severity, a
// cursor this package did not make for that sort, or an empty amount range.
var ErrBadQuery = errors.New("invalid discrepancy query")

// Unassigned as Query.AssignedTo selects the discrepancies nobody is assigned to.
const Unassigned int64 = -1

// Query selects and orders the discrepancy queue (the console's open items);
// zero fields match everything.
type Query struct {
	MerchantIDs       []int64 // nil: every merchant (an empty non-nil slice matches none)
	Status            Status
	Types             []Type
	Severities        []Severity
	ProviderAccountID int64
	OrderID           int64
	// AssignedTo: 0 anyone or nobody, Unassigned (-1) nobody, > 0 that staff user.
	AssignedTo int64
	// OpenedBefore and OpenedAfter bound the first sighting: [OpenedAfter, OpenedBefore).
	OpenedBefore, OpenedAfter time.Time
	// MinAmount and MaxAmount bound abs(amount_delta), inclusive.
	MinAmount, MaxAmount decimal.NullDecimal
	Sort                 Sort
	// Cursor is a page's Next: the page after it, in the same sort and filters.
	Cursor string
	Limit  int32 // default 50, at most 500
}

// Page is one page of the queue; Next is the cursor of the following page
// ("" on the last one).
type Page struct {
	Items []Discrepancy `json:"items"`
	Next  string        `json:"next,omitempty"`
}

// cursor is the keyset position after a page's last row.
type cursor struct {
	Sort   Sort             `json:"s"`
	Time   *time.Time       `json:"t,omitempty"`
	Amount *decimal.Decimal `json:"a,omitempty"`
	Rank   *int16           `json:"r,omitempty"`
	ID     int64            `json:"i"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, sort Sort) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Sort != sort || c.ID <= 0 {
		return cursor{}, fmt.Errorf("cursor %q is not one of this sort's pages: %w", s, ErrBadQuery)
	}
	switch {
	case (sort == SortNewest || sort == SortOldest) && c.Time == nil,
		(sort == SortAmountAsc || sort == SortAmountDesc) && c.Amount == nil,
		sort == SortSeverity && c.Rank == nil:
		return cursor{}, fmt.Errorf("cursor %q is not one of this sort's pages: %w", s, ErrBadQuery)
	}
	return c, nil
}

// Query returns one page of the discrepancies q selects, in q's sort, keyset
// paged (never OFFSET): each sort walks an index from the cursor, so a page
// costs the same whatever its depth.
func (s *Store) Query(ctx context.Context, db DB, q Query) (Page, error) {
	if q.Sort == "" {
		q.Sort = SortNewest
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Limit > 500 {
		q.Limit = 500
	}
	if err := q.check(); err != nil {
		return Page{}, err
	}
	var c cursor
	if q.Cursor != "" {
		var err error
		if c, err = decodeCursor(q.Cursor, q.Sort); err != nil {
			return Page{}, err
		}
	}
	p := discdb.QueueNewestParams{
		MerchantIds: q.MerchantIDs, Status: nonEmpty(string(q.Status)), Types: texts(q.Types), Severities: texts(q.Severities),
		ProviderAccountID: nonZero(q.ProviderAccountID), OrderID: nonZero(q.OrderID), AssignedTo: nonZero(q.AssignedTo),
		OpenedBefore: nonZeroTime(q.OpenedBefore), OpenedAfter: nonZeroTime(q.OpenedAfter), MinAmount: q.MinAmount, MaxAmount: q.MaxAmount,
		CursorTime: c.Time, RowLimit: q.Limit + 1,
	}
	if q.MerchantIDs != nil && len(q.MerchantIDs) == 0 {
		return Page{Items: []Discrepancy{}}, nil
	}
	if c.ID != 0 {
		p.CursorID = &c.ID
	}
	var amount decimal.NullDecimal
	if c.Amount != nil {
		amount = decimal.NewNullDecimal(*c.Amount)
	}
	dq := discdb.New(db)
	var rows []discdb.Discrepancy
	var err error
	switch q.Sort {
	case SortNewest:
		rows, err = dq.QueueNewest(ctx, p)
	case SortOldest:
		rows, err = dq.QueueOldest(ctx, discdb.QueueOldestParams(p))
	case SortAmountDesc:
		rows, err = dq.QueueAmountDesc(ctx, discdb.QueueAmountDescParams{MerchantIds: p.MerchantIds, Status: p.Status, Types: p.Types,
			Severities: p.Severities, ProviderAccountID: p.ProviderAccountID, OrderID: p.OrderID, AssignedTo: p.AssignedTo,
			OpenedBefore: p.OpenedBefore, OpenedAfter: p.OpenedAfter, MinAmount: p.MinAmount, MaxAmount: p.MaxAmount,
			CursorAmount: amount, CursorID: p.CursorID, RowLimit: p.RowLimit})
	case SortAmountAsc:
		rows, err = dq.QueueAmountAsc(ctx, discdb.QueueAmountAscParams{MerchantIds: p.MerchantIds, Status: p.Status, Types: p.Types,
			Severities: p.Severities, ProviderAccountID: p.ProviderAccountID, OrderID: p.OrderID, AssignedTo: p.AssignedTo,
			OpenedBefore: p.OpenedBefore, OpenedAfter: p.OpenedAfter, MinAmount: p.MinAmount, MaxAmount: p.MaxAmount,
			CursorAmount: amount, CursorID: p.CursorID, RowLimit: p.RowLimit})
	case SortSeverity:
		rows, err = dq.QueueSeverity(ctx, discdb.QueueSeverityParams{MerchantIds: p.MerchantIds, Status: p.Status, Types: p.Types,
			Severities: p.Severities, ProviderAccountID: p.ProviderAccountID, OrderID: p.OrderID, AssignedTo: p.AssignedTo,
			OpenedBefore: p.OpenedBefore, OpenedAfter: p.OpenedAfter, MinAmount: p.MinAmount, MaxAmount: p.MaxAmount,
			CursorRank: c.Rank, CursorID: p.CursorID, RowLimit: p.RowLimit})
	}
	if err != nil {
		return Page{}, fmt.Errorf("query discrepancies: %w", err)
	}
	page := Page{Items: make([]Discrepancy, 0, min(len(rows), int(q.Limit)))}
	for i, r := range rows {
		if i == int(q.Limit) {
			last := rows[i-1]
			next := cursor{Sort: q.Sort, ID: last.ID}
			switch q.Sort {
			case SortNewest, SortOldest:
				next.Time = &last.FirstSeenAt
			case SortAmountAsc, SortAmountDesc:
				a := last.AmountDelta.Abs()
				next.Amount = &a
			case SortSeverity:
				next.Rank = last.SeverityRank
			}
			page.Next = next.encode()
			break
		}
		page.Items = append(page.Items, from(r))
	}
	return page, nil
}

func (q Query) check() error {
	known := false
	for _, s := range Sorts {
		known = known || s == q.Sort
	}
	if !known {
		return fmt.Errorf("sort %q: one of %v: %w", q.Sort, Sorts, ErrBadQuery)
	}
	switch q.Status {
	case "", Open, Resolved, Ignored:
	default:
		return fmt.Errorf("status %q: open, resolved or ignored: %w", q.Status, ErrBadQuery)
	}
	for _, t := range q.Types {
		if !ValidType(t) {
			return fmt.Errorf("type %q: %w", t, ErrBadQuery)
		}
	}
	for _, v := range q.Severities {
		switch v {
		case Low, Medium, High, Critical:
		default:
			return fmt.Errorf("severity %q: low, medium, high or critical: %w", v, ErrBadQuery)
		}
	}
	if q.AssignedTo < Unassigned {
		return fmt.Errorf("assigned_to %d: %w", q.AssignedTo, ErrBadQuery)
	}
	if q.MinAmount.Valid && q.MaxAmount.Valid && q.MinAmount.Decimal.GreaterThan(q.MaxAmount.Decimal) {
		return fmt.Errorf("amount range %s..%s is empty: %w", q.MinAmount.Decimal, q.MaxAmount.Decimal, ErrBadQuery)
	}
	return nil
}

// ValidType reports whether t is one of Types.
func ValidType(t Type) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Beginner starts transactions (a *pgxpool.Pool).
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Assign assigns an open discrepancy to a staff user (userID 0 unassigns) and
// records who did it (actor) in its audit trail.
func (s *Store) Assign(ctx context.Context, db Beginner, id, userID int64, actor string) (Discrepancy, error) {
	var d Discrepancy
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		d, err = s.AssignTx(ctx, tx, id, userID, actor)
		return err
	})
	return d, err
}

// AssignTx is Assign in the caller's transaction. Assigning a closed
// discrepancy is ErrClosed.
func (s *Store) AssignTx(ctx context.Context, tx pgx.Tx, id, userID int64, actor string) (Discrepancy, error) {
	if userID < 0 || actor == "" {
		return Discrepancy{}, fmt.Errorf("assign discrepancy %d: a user id >= 0 and an actor are required: %w", id, ErrBadQuery)
	}
	q := discdb.New(tx)
	row, err := q.AssignDiscrepancy(ctx, discdb.AssignDiscrepancyParams{ID: id, AssignedTo: nonZero(userID)})
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := q.GetDiscrepancy(ctx, id); errors.Is(gerr, pgx.ErrNoRows) {
			return Discrepancy{}, fmt.Errorf("discrepancy %d: %w", id, ErrNotFound)
		}
		return Discrepancy{}, fmt.Errorf("assign discrepancy %d: %w", id, ErrClosed)
	}
	if err != nil {
		return Discrepancy{}, fmt.Errorf("assign discrepancy %d: %w", id, err)
	}
	note := "unassigned"
	if userID != 0 {
		note = fmt.Sprintf("assigned to user:%d", userID)
	}
	if err := s.AddEventTx(ctx, tx, id, "assigned", actor, note, map[string]any{"assigned_to": userID}); err != nil {
		return Discrepancy{}, err
	}
	return from(row), nil
}

// AddEventTx appends a line to a discrepancy's audit trail in the caller's
// transaction: recon records its proposals, approvals and rejections this way.
func (s *Store) AddEventTx(ctx context.Context, tx pgx.Tx, id int64, action, actor, note string, detail map[string]any) error {
	b, err := json.Marshal(orEmpty(detail))
	if err != nil {
		return fmt.Errorf("discrepancy %d event %s: detail: %w", id, action, err)
	}
	if err := discdb.New(tx).InsertDiscrepancyEvent(ctx, discdb.InsertDiscrepancyEventParams{DiscrepancyID: id, Action: action,
		Actor: actorOr(actor, "tally"), Note: note, Detail: b}); err != nil {
		return fmt.Errorf("discrepancy %d event %s: %w", id, action, err)
	}
	return nil
}

// Age buckets of OpenSummary.
const (
	AgeUnderDay   = "lt_1d"
	AgeDayToWeek  = "1d_7d"
	AgeWeekTo30d  = "7d_30d"
	AgeOver30Days = "gt_30d"
)

// AgeBuckets lists the age buckets, youngest first.
var AgeBuckets = []string{AgeUnderDay, AgeDayToWeek, AgeWeekTo30d, AgeOver30Days}

// Summary counts open discrepancies for the console overview.
type Summary struct {
	Total      int64              `json:"total"`
	ByType     map[Type]int64     `json:"by_type"`
	BySeverity map[Severity]int64 `json:"by_severity"`
	// ByAge is keyed by AgeBuckets (since first seen).
	ByAge map[string]int64 `json:"by_age"`
}

// OpenSummary counts the open discrepancies of some merchants (nil: all) by
// type, severity and age bucket.
func (s *Store) OpenSummary(ctx context.Context, db DB, merchantIDs []int64) (Summary, error) {
	out := Summary{ByType: map[Type]int64{}, BySeverity: map[Severity]int64{}, ByAge: map[string]int64{}}
	if merchantIDs != nil && len(merchantIDs) == 0 {
		return out, nil
	}
	rows, err := discdb.New(db).OpenSummary(ctx, merchantIDs)
	if err != nil {
		return Summary{}, fmt.Errorf("summarise open discrepancies: %w", err)
	}
	for _, r := range rows {
		out.Total += r.N
		out.ByType[Type(r.Type)] += r.N
		out.BySeverity[Severity(r.Severity)] += r.N
		out.ByAge[r.Age] += r.N
	}
	return out, nil
}

func texts[T ~string](vs []T) []string {
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func nonZeroTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
