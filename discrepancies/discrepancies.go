// Package discrepancies stores every disagreement between the ledger and a
// provider — found by the order pipeline as callbacks arrive, or by a
// reconciliation run — with its amount, severity and audit trail. A problem found
// again has the same fingerprint and so is the same row; the order pipeline and
// reconciliation share this one store.
package discrepancies

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/discdb"
)

// Type is a kind of discrepancy (DESIGN.md, "Discrepancy types").
type Type string

// The discrepancy types.
const (
	AmountMismatch    Type = "amount_mismatch"    // paid differs from ordered
	StatusMismatch    Type = "status_mismatch"    // ledger and provider disagree on an order's status
	MissingCallback   Type = "missing_callback"   // provider settled, no callback came
	UnknownOrder      Type = "unknown_order"      // provider knows an order tally does not
	DuplicateConflict Type = "duplicate_conflict" // callbacks for one order that disagree
	Reversal          Type = "reversal"           // a settled order reversed
	FeeMismatch       Type = "fee_mismatch"       // fee differs from what was expected
	BalanceDrift      Type = "balance_drift"      // provider balance vs ledger beyond tolerance
	StalePending      Type = "stale_pending"      // pending past its deadline
	RejectedCallback  Type = "rejected_callback"  // bad signature
	LedgerInvariant   Type = "ledger_invariant"   // the ledger's own invariant check failed
	ReferenceConflict Type = "reference_conflict" // an event's order references name different orders
)

// Types lists every type, in the order reports show them.
var Types = []Type{AmountMismatch, StatusMismatch, MissingCallback, UnknownOrder, DuplicateConflict,
	Reversal, FeeMismatch, BalanceDrift, StalePending, RejectedCallback, LedgerInvariant, ReferenceConflict}

// Severity ranks discrepancies for an accountant's queue.
type Severity string

// Severities, lowest first.
const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// DefaultSeverity is the severity a type gets unless the finder says otherwise.
func DefaultSeverity(t Type) Severity {
	switch t {
	case LedgerInvariant:
		return Critical
	case BalanceDrift, Reversal, DuplicateConflict, StatusMismatch, ReferenceConflict:
		return High
	case StalePending, FeeMismatch:
		return Low
	default:
		return Medium
	}
}

// Status of a discrepancy.
type Status string

const (
	Open     Status = "open"
	Resolved Status = "resolved"
	Ignored  Status = "ignored"
)

// ErrNotFound: no discrepancy with that id or fingerprint.
var ErrNotFound = errors.New("discrepancy not found")

// ErrClosed: the discrepancy is already resolved or ignored.
var ErrClosed = errors.New("discrepancy already closed")

// Finding is a discrepancy as a finder reports it.
type Finding struct {
	Type              Type
	MerchantID        int64
	ProviderAccountID int64 // 0 when not about one provider account
	OrderID           int64 // 0 when not about one order
	// Fingerprint identifies the problem; build it with Fingerprint.
	Fingerprint string
	Severity    Severity // empty: DefaultSeverity
	Currency    string
	Expected    decimal.NullDecimal
	Actual      decimal.NullDecimal
	// Delta is actual minus expected where both are amounts, else the amount at stake.
	Delta   decimal.Decimal
	Summary string
	Detail  map[string]any
	// Suspense is what the pipeline parked in suspense for it.
	Suspense decimal.Decimal
	RunID    int64 // the reconciliation run that found it, 0 for the pipeline
	Actor    string
}

// Discrepancy is a stored discrepancy.
type Discrepancy struct {
	ID                    int64           `json:"id"`
	MerchantID            int64           `json:"merchant_id"`
	ProviderAccountID     int64           `json:"provider_account_id,omitempty"`
	OrderID               int64           `json:"order_id,omitempty"`
	Type                  Type            `json:"type"`
	Fingerprint           string          `json:"fingerprint"`
	Status                Status          `json:"status"`
	Severity              Severity        `json:"severity"`
	Currency              string          `json:"currency"`
	Expected              *string         `json:"expected,omitempty"`
	Actual                *string         `json:"actual,omitempty"`
	AmountDelta           decimal.Decimal `json:"amount_delta"`
	Summary               string          `json:"summary"`
	Detail                json.RawMessage `json:"detail"`
	SuspenseAmount        decimal.Decimal `json:"suspense_amount"`
	Repaired              bool            `json:"repaired"`
	FirstSeenAt           time.Time       `json:"first_seen_at"`
	LastSeenAt            time.Time       `json:"last_seen_at"`
	SeenCount             int32           `json:"seen_count"`
	LastRunID             int64           `json:"last_run_id,omitempty"`
	ResolvedAt            *time.Time      `json:"resolved_at,omitempty"`
	ResolvedBy            string          `json:"resolved_by,omitempty"`
	Resolution            string          `json:"resolution,omitempty"`
	ResolutionNote        string          `json:"resolution_note,omitempty"`
	ResolutionTransferKey string          `json:"resolution_transfer_key,omitempty"`
	// AssignedTo is the staff user the discrepancy is assigned to (0: nobody),
	// since AssignedAt.
	AssignedTo int64      `json:"assigned_to,omitempty"`
	AssignedAt *time.Time `json:"assigned_at,omitempty"`
}

// Age is how long the discrepancy has been known.
func (d Discrepancy) Age(now time.Time) time.Duration { return now.Sub(d.FirstSeenAt) }

// Event is one line of a discrepancy's audit trail.
type Event struct {
	ID        int64           `json:"id"`
	Action    string          `json:"action"`
	Actor     string          `json:"actor"`
	Note      string          `json:"note,omitempty"`
	Detail    json.RawMessage `json:"detail"`
	CreatedAt time.Time       `json:"created_at"`
}

// Fingerprint builds a stable fingerprint from the type and the parts that
// identify the problem (e.g. provider account and order), so that finding the
// same problem again hits the same row.
func Fingerprint(t Type, parts ...string) string {
	return string(t) + ":" + strings.Join(parts, ":")
}

// DB is what a Store reads and writes through: a *pgxpool.Pool, a
// *pgx.Conn or a pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store reads and writes discrepancies.
type Store struct {
	notifier Notifier
}

// New returns a Store.
func New() *Store { return &Store{} }

// Changes a Notifier is told of.
const (
	// ChangeOpened: a discrepancy was opened, or opened again.
	ChangeOpened = "opened"
	// ChangeResolved: a discrepancy was closed (resolved, ignored, or closed
	// by a run).
	ChangeResolved = "resolved"
)

// Notifier is told of a discrepancy opened or closed, in the transaction
// that opens or closes it, with the discrepancy as it is then: package
// webhooks writes the merchant's discrepancy.opened or discrepancy.resolved
// event there, so that the event exists exactly when the change commits. An
// error rolls the change back.
type Notifier interface {
	DiscrepancyChangedTx(ctx context.Context, tx pgx.Tx, change string, d Discrepancy) error
}

// SetNotifier sets the Store's Notifier (app.New, before anything runs).
func (s *Store) SetNotifier(n Notifier) { s.notifier = n }

// notify tells the Notifier, if any, of a change.
func (s *Store) notify(ctx context.Context, tx pgx.Tx, change string, d Discrepancy) error {
	if s.notifier == nil {
		return nil
	}
	if err := s.notifier.DiscrepancyChangedTx(ctx, tx, change, d); err != nil {
		return fmt.Errorf("discrepancy %d %s: notify: %w", d.ID, change, err)
	}
	return nil
}

// RecordTx opens a discrepancy, or counts another sighting of an open one, in
// the caller's transaction. It reports whether a new row was opened.
func (s *Store) RecordTx(ctx context.Context, tx pgx.Tx, f Finding) (Discrepancy, bool, error) {
	if f.Fingerprint == "" || f.Type == "" || f.MerchantID == 0 {
		return Discrepancy{}, false, fmt.Errorf("record discrepancy: type, merchant and fingerprint are required")
	}
	if f.Severity == "" {
		f.Severity = DefaultSeverity(f.Type)
	}
	detail, err := json.Marshal(orEmpty(f.Detail))
	if err != nil {
		return Discrepancy{}, false, fmt.Errorf("record discrepancy %s: detail: %w", f.Fingerprint, err)
	}
	q := discdb.New(tx)
	prior, perr := q.DiscrepancyByFingerprint(ctx, discdb.DiscrepancyByFingerprintParams{MerchantID: f.MerchantID, Fingerprint: f.Fingerprint})
	wasClosed := perr == nil && prior.Status != string(Open)
	row, err := q.UpsertDiscrepancy(ctx, discdb.UpsertDiscrepancyParams{
		MerchantID: f.MerchantID, ProviderAccountID: nonZero(f.ProviderAccountID), OrderID: nonZero(f.OrderID),
		Type: string(f.Type), Fingerprint: f.Fingerprint, Severity: string(f.Severity), Currency: f.Currency,
		Expected: f.Expected, Actual: f.Actual, AmountDelta: f.Delta, Summary: f.Summary, Detail: detail,
		SuspenseAmount: f.Suspense, LastRunID: nonZero(f.RunID),
	})
	if err != nil {
		return Discrepancy{}, false, fmt.Errorf("record discrepancy %s: %w", f.Fingerprint, err)
	}
	d := fromUpsert(row)
	action := ""
	switch {
	case row.Inserted:
		action = "opened"
	case wasClosed && d.Status == Open:
		action = "reopened"
	}
	if action != "" {
		if err := q.InsertDiscrepancyEvent(ctx, discdb.InsertDiscrepancyEventParams{
			DiscrepancyID: d.ID, Action: action, Actor: actorOr(f.Actor, "tally"), Note: f.Summary, Detail: detail,
		}); err != nil {
			return Discrepancy{}, false, fmt.Errorf("record discrepancy %s: audit: %w", f.Fingerprint, err)
		}
		if err := s.notify(ctx, tx, ChangeOpened, d); err != nil {
			return Discrepancy{}, false, err
		}
	}
	return d, row.Inserted, nil
}

// MarkRepairedTx records that the cause of a discrepancy was fixed by tally
// itself (a missing callback applied from a query); it stays open for review.
func (s *Store) MarkRepairedTx(ctx context.Context, tx pgx.Tx, id int64, actor, note string) error {
	q := discdb.New(tx)
	if _, err := q.MarkDiscrepancyRepaired(ctx, id); err != nil {
		return fmt.Errorf("mark discrepancy %d repaired: %w", id, err)
	}
	return q.InsertDiscrepancyEvent(ctx, discdb.InsertDiscrepancyEventParams{DiscrepancyID: id, Action: "repaired", Actor: actorOr(actor, "tally"), Note: note, Detail: []byte("{}")})
}

// CloseTx closes an open discrepancy with a status (resolved or ignored), a
// resolution name, a note and the ledger transfer key of any adjusting transfer.
// Closing one that is not open is ErrClosed.
func (s *Store) CloseTx(ctx context.Context, tx pgx.Tx, id int64, status Status, resolution, actor, note, transferKey string) (Discrepancy, error) {
	q := discdb.New(tx)
	row, err := q.CloseDiscrepancy(ctx, discdb.CloseDiscrepancyParams{ID: id, Status: string(status), ResolvedBy: actor,
		Resolution: resolution, ResolutionNote: note, ResolutionTransferKey: transferKey})
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := q.GetDiscrepancy(ctx, id); errors.Is(gerr, pgx.ErrNoRows) {
			return Discrepancy{}, fmt.Errorf("discrepancy %d: %w", id, ErrNotFound)
		}
		return Discrepancy{}, fmt.Errorf("discrepancy %d: %w", id, ErrClosed)
	}
	if err != nil {
		return Discrepancy{}, fmt.Errorf("close discrepancy %d: %w", id, err)
	}
	action := "resolved"
	switch {
	case resolution == "auto_closed":
		action = "auto_closed"
	case status == Ignored:
		action = "ignored"
	}
	detail, _ := json.Marshal(map[string]string{"resolution": resolution, "transfer_key": transferKey})
	if err := q.InsertDiscrepancyEvent(ctx, discdb.InsertDiscrepancyEventParams{DiscrepancyID: id, Action: action, Actor: actor, Note: note, Detail: detail}); err != nil {
		return Discrepancy{}, fmt.Errorf("close discrepancy %d: audit: %w", id, err)
	}
	d := from(row)
	if err := s.notify(ctx, tx, ChangeResolved, d); err != nil {
		return Discrepancy{}, err
	}
	return d, nil
}

// GetForUpdateTx returns a discrepancy locked for the rest of tx.
func (s *Store) GetForUpdateTx(ctx context.Context, tx pgx.Tx, id int64) (Discrepancy, error) {
	row, err := discdb.New(tx).GetDiscrepancyForUpdate(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Discrepancy{}, fmt.Errorf("discrepancy %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Discrepancy{}, fmt.Errorf("get discrepancy %d: %w", id, err)
	}
	return from(row), nil
}

// Get returns a discrepancy.
func (s *Store) Get(ctx context.Context, db DB, id int64) (Discrepancy, error) {
	row, err := discdb.New(db).GetDiscrepancy(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Discrepancy{}, fmt.Errorf("discrepancy %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Discrepancy{}, fmt.Errorf("get discrepancy %d: %w", id, err)
	}
	return from(row), nil
}

// ByFingerprint returns the merchant's discrepancy with a fingerprint
// (fingerprints name accounts by name, and names are unique per merchant).
func (s *Store) ByFingerprint(ctx context.Context, db DB, merchantID int64, fp string) (Discrepancy, error) {
	row, err := discdb.New(db).DiscrepancyByFingerprint(ctx, discdb.DiscrepancyByFingerprintParams{MerchantID: merchantID, Fingerprint: fp})
	if errors.Is(err, pgx.ErrNoRows) {
		return Discrepancy{}, fmt.Errorf("discrepancy %s: %w", fp, ErrNotFound)
	}
	if err != nil {
		return Discrepancy{}, fmt.Errorf("get discrepancy %s: %w", fp, err)
	}
	return from(row), nil
}

// Filter selects discrepancies; zero fields match everything.
type Filter struct {
	MerchantID        int64
	Status            Status
	Type              Type
	ProviderAccountID int64
	OrderID           int64
	BeforeID          int64 // paging: ids below this one
	Limit             int32 // default 100
}

// List returns discrepancies matching f, newest first.
func (s *Store) List(ctx context.Context, db DB, f Filter) ([]Discrepancy, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	rows, err := discdb.New(db).ListDiscrepancies(ctx, discdb.ListDiscrepanciesParams{
		MerchantID: nonZero(f.MerchantID), Status: nonEmpty(string(f.Status)), Type: nonEmpty(string(f.Type)),
		ProviderAccountID: nonZero(f.ProviderAccountID), OrderID: nonZero(f.OrderID), BeforeID: nonZero(f.BeforeID),
		RowLimit: f.Limit,
	})
	if err != nil {
		return nil, fmt.Errorf("list discrepancies: %w", err)
	}
	out := make([]Discrepancy, len(rows))
	for i, r := range rows {
		out[i] = from(r)
	}
	return out, nil
}

// Events returns a discrepancy's audit trail, oldest first.
func (s *Store) Events(ctx context.Context, db DB, id int64) ([]Event, error) {
	rows, err := discdb.New(db).ListDiscrepancyEvents(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("discrepancy %d events: %w", id, err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{ID: r.ID, Action: r.Action, Actor: r.Actor, Note: r.Note, Detail: r.Detail, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// OpenCounts returns the number of open discrepancies per type.
func (s *Store) OpenCounts(ctx context.Context, db DB, merchantID int64) (map[Type]int64, error) {
	rows, err := discdb.New(db).CountOpenDiscrepancies(ctx, nonZero(merchantID))
	if err != nil {
		return nil, fmt.Errorf("count open discrepancies: %w", err)
	}
	out := map[Type]int64{}
	for _, r := range rows {
		out[Type(r.Type)] = r.N
	}
	return out, nil
}

func from(r discdb.Discrepancy) Discrepancy {
	return Discrepancy{
		ID: r.ID, MerchantID: r.MerchantID, ProviderAccountID: deref(r.ProviderAccountID), OrderID: deref(r.OrderID),
		Type: Type(r.Type), Fingerprint: r.Fingerprint, Status: Status(r.Status), Severity: Severity(r.Severity),
		Currency: r.Currency, Expected: nullString(r.Expected), Actual: nullString(r.Actual), AmountDelta: r.AmountDelta,
		Summary: r.Summary, Detail: r.Detail, SuspenseAmount: r.SuspenseAmount, Repaired: r.Repaired,
		FirstSeenAt: r.FirstSeenAt, LastSeenAt: r.LastSeenAt, SeenCount: r.SeenCount, LastRunID: deref(r.LastRunID),
		ResolvedAt: r.ResolvedAt, ResolvedBy: r.ResolvedBy, Resolution: r.Resolution, ResolutionNote: r.ResolutionNote,
		ResolutionTransferKey: r.ResolutionTransferKey, AssignedTo: deref(r.AssignedTo), AssignedAt: r.AssignedAt,
	}
}

func fromUpsert(r discdb.UpsertDiscrepancyRow) Discrepancy {
	return from(discdb.Discrepancy{
		ID: r.ID, MerchantID: r.MerchantID, ProviderAccountID: r.ProviderAccountID, OrderID: r.OrderID, Type: r.Type,
		Fingerprint: r.Fingerprint, Status: r.Status, Severity: r.Severity, Currency: r.Currency, Expected: r.Expected,
		Actual: r.Actual, AmountDelta: r.AmountDelta, Summary: r.Summary, Detail: r.Detail, SuspenseAmount: r.SuspenseAmount,
		Repaired: r.Repaired, FirstSeenAt: r.FirstSeenAt, LastSeenAt: r.LastSeenAt, SeenCount: r.SeenCount,
		LastRunID: r.LastRunID, ResolvedAt: r.ResolvedAt, ResolvedBy: r.ResolvedBy, Resolution: r.Resolution,
		ResolutionNote: r.ResolutionNote, ResolutionTransferKey: r.ResolutionTransferKey,
		AssignedTo: r.AssignedTo, AssignedAt: r.AssignedAt, SeverityRank: r.SeverityRank,
	})
}

func nullString(d decimal.NullDecimal) *string {
	if !d.Valid {
		return nil
	}
	s := d.Decimal.String()
	return &s
}

func nonZero(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func actorOr(a, def string) string {
	if a == "" {
		return def
	}
	return a
}

// ClearSuspenseTx records that the money parked for an order left suspense (a
// reversal took it back), so that no resolution moves it again.
func (s *Store) ClearSuspenseTx(ctx context.Context, tx pgx.Tx, orderID int64) error {
	if err := discdb.New(tx).ClearOrderSuspense(ctx, &orderID); err != nil {
		return fmt.Errorf("clear suspense of order %d: %w", orderID, err)
	}
	return nil
}

// TouchOrder marks an order's open discrepancies as seen by a run that could
// not check the order (its provider query failed).
func (s *Store) TouchOrder(ctx context.Context, db DB, orderID, runID int64) error {
	if err := discdb.New(db).TouchOrderDiscrepancies(ctx, discdb.TouchOrderDiscrepanciesParams{OrderID: &orderID, RunID: &runID}); err != nil {
		return fmt.Errorf("touch discrepancies of order %d: %w", orderID, err)
	}
	return nil
}
