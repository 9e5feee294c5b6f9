// Package orders is the deposit and payout lifecycle: orders created by merchant
// systems (create.go), submitted to providers and synced with their queries
// (submit.go), moved through a state machine by every provider event and
// posted to the ledger exactly once per event under package settle's rule
// (machine.go: Decide, a pure function of the order, the event and what it
// needs to know; apply.go and group.go write its decisions), payout holds
// expired, and each order's timeline. It decides
// every posting of DESIGN.md's data flow (steps 1 to 6) and opens the
// discrepancies the pipeline itself can see (amount mismatches, reversals,
// unknown orders, conflicting duplicates). It owns the orders and
// order_events tables.
//
// Provider callbacks reach the state machine from package callbacks, which
// stores and applies them, through a small seam (events.go, group.go);
// merchant webhooks leave through package webhooks; provider accounts and
// their adapters are package merchants'. Work that must not be lost is
// queued in the same transaction as the writes that call for it, through
// the Queue interface that package jobs implements with River.
package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/ordersdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/providers"
)

// Errors callers tell apart.
var (
	// ErrInvalid: the request is malformed or asks for something a provider or
	// the ledger refuses; nothing was stored.
	ErrInvalid = errors.New("invalid order request")
	// ErrIdempotencyConflict: the idempotency key was used with another request.
	ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")
	// ErrDuplicateOrderNo: the merchant order number is already used.
	ErrDuplicateOrderNo = errors.New("merchant order number already used")
	// ErrInsufficientFunds: a payout larger than the customer's available balance.
	ErrInsufficientFunds = errors.New("insufficient customer balance")
	// ErrNotFound: no such order (or not the caller's).
	ErrNotFound = errors.New("order not found")
	// ErrProviderAccount: the provider account is unknown, disabled or not the merchant's.
	ErrProviderAccount = errors.New("unknown or disabled provider account")
	// ErrUnapplicable: a verified provider event that can never be applied as
	// it is (a business rule, a validation, content that does not parse after
	// its signature verified): retrying it would fail the same way, so it
	// becomes a discrepancy at once.
	ErrUnapplicable = errors.New("provider event cannot be applied")
)

// Kind tells deposits from payouts.
type Kind = providers.OrderKind

// Status is an order's status. created means stored but not yet accepted by the
// provider; the others are the normalized provider statuses.
type Status string

// Order statuses.
const (
	StatusCreated    Status = "created"
	StatusPending    Status = Status(providers.StatusPending)
	StatusProcessing Status = Status(providers.StatusProcessing)
	StatusSucceeded  Status = Status(providers.StatusSucceeded)
	StatusFailed     Status = Status(providers.StatusFailed)
	StatusExpired    Status = Status(providers.StatusExpired)
	StatusReversed   Status = Status(providers.StatusReversed)
)

// Final reports whether no ordinary transition is expected any more.
func (s Status) Final() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusExpired, StatusReversed:
		return true
	}
	return false
}

// Order is an order as the merchant API shows it.
type Order struct {
	ID                int64                     `json:"id"`
	MerchantID        int64                     `json:"-"`
	ProviderAccountID int64                     `json:"-"`
	ProviderAccount   string                    `json:"provider_account"`
	Provider          string                    `json:"provider"`
	Kind              Kind                      `json:"kind"`
	Origin            string                    `json:"origin"`
	MerchantOrderNo   string                    `json:"merchant_order_no,omitempty"`
	ProviderOrderNo   string                    `json:"provider_order_no"`
	ProviderOrderID   string                    `json:"provider_order_id,omitempty"`
	CustomerID        string                    `json:"customer_id"`
	Amount            decimal.Decimal           `json:"amount"`
	Currency          string                    `json:"currency"`
	PayCurrency       string                    `json:"pay_currency"`
	Status            Status                    `json:"status"`
	StatusReason      string                    `json:"status_reason,omitempty"`
	PaidAmount        decimal.NullDecimal       `json:"paid_amount"`
	CreditedAmount    decimal.NullDecimal       `json:"credited_amount"`
	Fee               decimal.NullDecimal       `json:"fee"`
	SettledCurrency   string                    `json:"settled_currency,omitempty"`
	FXRate            decimal.NullDecimal       `json:"fx_rate"`
	TxHash            string                    `json:"tx_hash,omitempty"`
	CreditedTo        string                    `json:"credited_to,omitempty"`
	Parts             []providers.Part          `json:"parts,omitempty"`
	CashierURL        string                    `json:"cashier_url,omitempty"`
	PayForm           *providers.PayForm        `json:"pay_form,omitempty"`
	Addresses         []providers.WalletAddress `json:"addresses,omitempty"`
	SubmitState       string                    `json:"submit_state"`
	// LastError and LastErrorCode say why the last provider call for the
	// order failed, in tally's own words (providers.Describe): never the
	// provider's, which staff read on the staff-only timeline.
	LastError     string          `json:"last_error,omitempty"`
	LastErrorCode string          `json:"last_error_code,omitempty"`
	HoldKey       string          `json:"-"`
	ExpiresAt     *time.Time      `json:"expires_at,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	FinalAt       *time.Time      `json:"final_at,omitempty"`
	Request       json.RawMessage `json:"-"`
}

// Queue is how the order pipeline schedules work in the same transaction as the
// writes that call for it; package jobs implements it with River.
type Queue interface {
	SubmitOrder(ctx context.Context, tx pgx.Tx, orderID int64) error
	SyncOrder(ctx context.Context, tx pgx.Tx, orderID int64) error
	// SyncOrderForHint queues a query of the order for a provider's hint (an
	// unsigned callback): a query of its own, even while another query of
	// the order runs, whose answer may predate what the hint announces.
	SyncOrderForHint(ctx context.Context, tx pgx.Tx, orderID, inboxID int64) error
	// NotifyMerchant queues a webhook for each order event, many in one insert.
	NotifyMerchant(ctx context.Context, tx pgx.Tx, notices ...Notice) error
}

// Notice is an event the merchant is told of: an order event (OrderID 0: an
// event of package webhooks', a discrepancy's), of MerchantID.
type Notice struct {
	OrderID, EventID, MerchantID int64
}

// Options configure a Service.
type Options struct {
	// HoldTTL is how long a payout's hold lasts before it expires. Default 72h.
	HoldTTL time.Duration
	// UnresolvedGrace is how long after submit_order gave up on an ambiguous
	// create a provider's "no such order" is believed and the order failed: a
	// create that timed out may still be on its way. Default 2m.
	UnresolvedGrace time.Duration
	// AbandonedAfter is how long an ambiguous submission may stay untouched
	// before sync_order treats it as unresolved: its submit_order job died
	// with its worker during the last attempt and will not hand it over.
	// Longer than submit_order's whole retry budget. Default 30m.
	AbandonedAfter time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service runs the order lifecycle.
type Service struct {
	pool      *pgxpool.Pool
	q         *ordersdb.Queries
	ledger    *ledger.Ledger
	merchants *merchants.Service
	disc      *discrepancies.Store
	queue     Queue
	opts      Options
}

// New returns a Service; q queues the pipeline's jobs (package jobs' Queue,
// built before the Service: the workers that call the Service come later).
func New(pool *pgxpool.Pool, l *ledger.Ledger, m *merchants.Service, d *discrepancies.Store, q Queue, opts Options) *Service {
	if opts.HoldTTL == 0 {
		opts.HoldTTL = 72 * time.Hour
	}
	if opts.UnresolvedGrace == 0 {
		opts.UnresolvedGrace = 2 * time.Minute
	}
	if opts.AbandonedAfter == 0 {
		opts.AbandonedAfter = 30 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{pool: pool, q: ordersdb.New(pool), ledger: l, merchants: m, disc: d, queue: q, opts: opts}
}

// Ledger is the ledger the service posts to.
func (s *Service) Ledger() *ledger.Ledger { return s.ledger }

// NotifyURL is merchants.Service.NotifyURL, the callback URL tally gives a
// provider account's orders (for package recon, which reaches provider
// accounts through the orders service).
func (s *Service) NotifyURL(acct merchants.ProviderAccount) string {
	return s.merchants.NotifyURL(acct)
}

// Adapter is merchants.Service.Adapter (for package recon): the (cached)
// adapter and account for the merchant's provider account name; another
// merchant's account of that name is ErrProviderAccount, as is none.
func (s *Service) Adapter(ctx context.Context, merchantID int64, name string) (providers.Adapter, merchants.ProviderAccount, error) {
	a, acct, err := s.merchants.Adapter(ctx, merchantID, name)
	if errors.Is(err, merchants.ErrNotFound) {
		return nil, merchants.ProviderAccount{}, fmt.Errorf("provider account %q: %w", name, ErrProviderAccount)
	}
	return a, acct, err
}

// AdapterByID is merchants.Service.AdapterByID (for package recon): Adapter
// by provider account id.
func (s *Service) AdapterByID(ctx context.Context, id int64) (providers.Adapter, merchants.ProviderAccount, error) {
	return s.merchants.AdapterByID(ctx, id)
}

// Get returns an order of a merchant.
func (s *Service) Get(ctx context.Context, merchantID, id int64) (Order, error) {
	row, err := s.q.OrderByID(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && merchantID != 0 && row.MerchantID != merchantID) {
		return Order{}, fmt.Errorf("order %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Order{}, fmt.Errorf("get order %d: %w", id, err)
	}
	return s.fromRow(ctx, row)
}

// ListFilter selects orders of one merchant; zero fields match everything.
type ListFilter struct {
	MerchantID      int64
	Status          Status
	Kind            Kind
	ProviderAccount string
	MerchantOrderNo string
	From, To        time.Time
	BeforeID        int64 // paging: ids below this one
	Limit           int32 // default 50, at most 500
}

// List returns a merchant's orders, newest first.
func (s *Service) List(ctx context.Context, f ListFilter) ([]Order, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 500 {
		f.Limit = 500
	}
	p := ordersdb.ListOrdersParams{MerchantID: f.MerchantID, RowLimit: f.Limit}
	if f.Status != "" {
		v := string(f.Status)
		p.Status = &v
	}
	if f.Kind != "" {
		v := string(f.Kind)
		p.Kind = &v
	}
	if f.ProviderAccount != "" {
		acct, err := s.merchants.ProviderAccount(ctx, f.MerchantID, f.ProviderAccount)
		if err != nil {
			return nil, fmt.Errorf("provider account %q: %w", f.ProviderAccount, ErrProviderAccount)
		}
		p.ProviderAccountID = &acct.ID
	}
	if f.MerchantOrderNo != "" {
		p.MerchantOrderNo = &f.MerchantOrderNo
	}
	if !f.From.IsZero() {
		p.CreatedFrom = &f.From
	}
	if !f.To.IsZero() {
		p.CreatedTo = &f.To
	}
	if f.BeforeID > 0 {
		p.BeforeID = &f.BeforeID
	}
	rows, err := s.q.ListOrders(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	out := make([]Order, 0, len(rows))
	for _, r := range rows {
		o, err := s.fromRow(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// TimelineEntry is one line of an order's timeline.
type TimelineEntry struct {
	ID         int64           `json:"id"`
	OrderID    int64           `json:"-"`
	MerchantID int64           `json:"-"`
	Source     string          `json:"source"`
	FromStatus string          `json:"from_status"`
	ToStatus   string          `json:"to_status"`
	Detail     json.RawMessage `json:"detail"`
	At         time.Time       `json:"at"`
	// StaffOnly marks an entry carrying a provider's own words (its error
	// answer, a remark in a query answer), redacted of credentials: shown to
	// staff, never to the merchant (Timeline leaves it out).
	StaffOnly bool `json:"staff_only,omitempty"`
}

// Timeline returns an order's events as its merchant sees them, oldest
// first: without the staff-only entries.
func (s *Service) Timeline(ctx context.Context, orderID int64) ([]TimelineEntry, error) {
	return s.timeline(ctx, orderID, false)
}

// StaffTimeline is Timeline with the staff-only entries: for operators and
// accountants, never for the merchant API.
func (s *Service) StaffTimeline(ctx context.Context, orderID int64) ([]TimelineEntry, error) {
	return s.timeline(ctx, orderID, true)
}

func (s *Service) timeline(ctx context.Context, orderID int64, staff bool) ([]TimelineEntry, error) {
	rows, err := s.q.ListOrderEvents(ctx, ordersdb.ListOrderEventsParams{OrderID: orderID, IncludeStaff: staff})
	if err != nil {
		return nil, fmt.Errorf("timeline of order %d: %w", orderID, err)
	}
	out := make([]TimelineEntry, len(rows))
	for i, r := range rows {
		out[i] = entryFromRow(r)
	}
	return out, nil
}

// Event returns one event of an order's timeline (a merchant webhook's
// subject: package webhooks), with its order's merchant.
func (s *Service) Event(ctx context.Context, id int64) (TimelineEntry, error) {
	r, err := s.q.OrderEventByID(ctx, id)
	if err != nil {
		return TimelineEntry{}, fmt.Errorf("load order event %d: %w", id, err)
	}
	return entryFromRow(r), nil
}

func entryFromRow(r ordersdb.OrderEvent) TimelineEntry {
	return TimelineEntry{ID: r.ID, OrderID: r.OrderID, MerchantID: r.MerchantID, Source: r.Source, FromStatus: r.FromStatus,
		ToStatus: r.ToStatus, Detail: r.Detail, At: r.CreatedAt, StaffOnly: r.StaffOnly}
}

// fromRow converts a stored order, naming its provider account: the one
// merchants.Service.AdapterByID keeps (every webhook and API answer needs it), else as stored (an
// account that no longer builds an adapter, such as a disabled one).
func (s *Service) fromRow(ctx context.Context, r ordersdb.Order) (Order, error) {
	o := orderFromRow(r)
	_, acct, err := s.merchants.AdapterByID(ctx, r.ProviderAccountID)
	if err != nil {
		if acct, err = s.merchants.ProviderAccountByID(ctx, r.ProviderAccountID); err != nil {
			return Order{}, err
		}
	}
	o.ProviderAccount, o.Provider = acct.Name, acct.Provider
	return o, nil
}

func orderFromRow(r ordersdb.Order) Order {
	o := Order{
		ID: r.ID, MerchantID: r.MerchantID, ProviderAccountID: r.ProviderAccountID, Kind: Kind(r.Kind), Origin: r.Origin,
		ProviderOrderNo: r.ProviderOrderNo, ProviderOrderID: r.ProviderOrderID, CustomerID: r.CustomerID,
		Amount: r.Amount, Currency: r.Currency, PayCurrency: r.PayCurrency, Status: Status(r.Status), StatusReason: r.StatusReason,
		PaidAmount: r.PaidAmount, CreditedAmount: r.CreditedAmount, Fee: r.Fee, SettledCurrency: r.SettledCurrency,
		FXRate: r.FxRate, TxHash: r.TxHash, CreditedTo: r.CreditedTo, CashierURL: r.CashierUrl, SubmitState: r.SubmitState,
		LastError: r.LastError, LastErrorCode: r.LastErrorCode, HoldKey: r.HoldKey, ExpiresAt: r.ExpiresAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		FinalAt: r.FinalAt, Request: r.Request,
	}
	if r.MerchantOrderNo != nil {
		o.MerchantOrderNo = *r.MerchantOrderNo
	}
	if len(r.PayForm) > 0 {
		var pf providers.PayForm
		if json.Unmarshal(r.PayForm, &pf) == nil {
			o.PayForm = &pf
		}
	}
	if len(r.Addresses) > 0 {
		_ = json.Unmarshal(r.Addresses, &o.Addresses)
	}
	if len(r.Parts) > 0 {
		_ = json.Unmarshal(r.Parts, &o.Parts)
	}
	return o
}

// ByProviderNo returns the order a provider account knows by order number.
func (s *Service) ByProviderNo(ctx context.Context, providerAccountID int64, no string) (Order, error) {
	row, err := s.q.OrderByProviderNo(ctx, ordersdb.OrderByProviderNoParams{ProviderAccountID: providerAccountID, ProviderOrderNo: no})
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, fmt.Errorf("order %s: %w", no, ErrNotFound)
	}
	if err != nil {
		return Order{}, fmt.Errorf("order %s: %w", no, err)
	}
	return s.fromRow(ctx, row)
}

// EventsAndOrders returns order events by id, and the orders they are of as
// they are now, in two queries: what a webhook dispatcher needs for a batch
// of order events (package webhooks). Ids not found are left out.
func (s *Service) EventsAndOrders(ctx context.Context, eventIDs []int64) (map[int64]TimelineEntry, map[int64]Order, error) {
	rows, err := s.q.OrderEventsByIDs(ctx, eventIDs)
	if err != nil {
		return nil, nil, fmt.Errorf("load %d order events: %w", len(eventIDs), err)
	}
	evs := make(map[int64]TimelineEntry, len(rows))
	var orderIDs []int64
	seen := map[int64]bool{}
	for _, r := range rows {
		evs[r.ID] = entryFromRow(r)
		if !seen[r.OrderID] {
			seen[r.OrderID] = true
			orderIDs = append(orderIDs, r.OrderID)
		}
	}
	ors, err := s.q.OrdersByIDs(ctx, orderIDs)
	if err != nil {
		return nil, nil, fmt.Errorf("load %d orders: %w", len(orderIDs), err)
	}
	out := make(map[int64]Order, len(ors))
	for _, r := range ors {
		o, err := s.fromRow(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		out[o.ID] = o
	}
	return evs, out, nil
}
