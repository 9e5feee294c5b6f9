// Package sim is the engine every provider simulator is built on: merchants with
// balances and fees, an order book, a scripted payer, fault injection, and
// callbacks sent to the notify URL until the documented acknowledgement comes
// back, on the provider's documented schedule run through a time scale.
//
// A provider package supplies the wire protocol — its paths, field names,
// signatures and envelopes — as HTTP handlers that call the Engine, and a
// Protocol that renders its callbacks. The Engine supplies the rest, including
// the control API (ControlHandler) through which tests, the demo and people
// script the payer and the faults. Everything is in memory.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// Errors the provider handlers turn into their provider's own error answers.
var (
	ErrUnknownMerchant     = errors.New("unknown merchant")
	ErrDuplicateOrder      = errors.New("duplicate merchant order number")
	ErrOrderNotFound       = errors.New("order not found")
	ErrInsufficientBalance = errors.New("insufficient balance")
	ErrBadTransition       = errors.New("order cannot make that transition")
)

// Protocol is what a provider package gives the engine to send its callbacks.
type Protocol interface {
	// Callback renders the notification for the order's current state, or nil
	// when the provider sends none for that state. With forged set it renders a
	// tampered copy (altered amount) whose signature does not verify.
	Callback(m *Merchant, o *Order, forged bool) (*Outbound, error)
	// Schedule is the documented wait before each retry after the first attempt
	// (UsdtPay: ten tries one minute apart => nine times one minute).
	Schedule() []time.Duration
	// Ack is the body the merchant must answer, with HTTP 200, for a
	// delivery to count. The body must be exactly this string: no
	// surrounding whitespace, no other case.
	Ack() string
}

// Outbound is one rendered callback request.
type Outbound struct {
	Method      string
	URL         string
	ContentType string
	Header      http.Header
	Body        []byte
}

// Options configure an Engine.
type Options struct {
	// Provider is the provider's name ("cpay").
	Provider string
	// Protocol renders callbacks; required.
	Protocol Protocol
	// Scale divides every documented delay (callback retries, scripted waits):
	// 1 is real time, 600 runs a one-minute retry in 100 ms. Default 1.
	Scale float64
	// AmountDecimals is the precision fees are rounded down to. Default 2.
	AmountDecimals int32
	// HTTPClient sends callbacks; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// Seed makes the autopilot's choices repeatable; 0 picks one at random.
	Seed uint64
	// Logger receives delivery logs; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Engine is one simulated provider's state and behaviour. It is safe for
// concurrent use.
type Engine struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	rng         *rand.Rand
	merchants   map[string]*Merchant
	orders      map[string]*Order // by provider order id
	byNo        map[string]*Order // by merchant id + order no
	scripts     map[string]Script // by merchant order no, for orders not created yet
	faults      []*EndpointFault
	auto        Auto
	deliveries  []Delivery
	injected    []Injection
	lastID      int64
	reorderHeld map[string][]*pendingCallback
}

// New starts an engine. Close stops its callback deliveries.
func New(opts Options) *Engine {
	if opts.Protocol == nil {
		panic("sim.New: Options.Protocol is required")
	}
	if opts.Scale <= 0 {
		opts.Scale = 1
	}
	if opts.AmountDecimals == 0 {
		opts.AmountDecimals = 2
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		opts:        opts,
		ctx:         ctx,
		cancel:      cancel,
		rng:         rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		merchants:   map[string]*Merchant{},
		orders:      map[string]*Order{},
		byNo:        map[string]*Order{},
		scripts:     map[string]Script{},
		reorderHeld: map[string][]*pendingCallback{},
		lastID:      opts.Now().UnixMilli() * 1000,
	}
}

// Close stops pending deliveries and scripted transitions and waits for them.
func (e *Engine) Close() {
	e.cancel()
	e.wg.Wait()
}

// Provider is the simulated provider's name.
func (e *Engine) Provider() string { return e.opts.Provider }

// Ack is the acknowledgement this engine's deliveries wait for (Protocol.Ack).
func (e *Engine) Ack() string { return e.opts.Protocol.Ack() }

// Scaled converts a documented delay to the engine's time scale.
func (e *Engine) Scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / e.opts.Scale)
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.opts.Now() }

// Merchant is a merchant account at the simulated provider.
type Merchant struct {
	// ID is the provider's merchant id (C-Pay merchantId, CXPay merchant, UsdtPay
	// crmNo, VPay key, USDTCNPAY accessKey).
	ID string `json:"id"`
	// Secret is the signing or authentication secret.
	Secret string `json:"secret"`
	// Options are provider-specific settings (CXPay pay codes, VPay quote rates
	// as "rate:CNY", USDTCNPAY keys), documented by each provider package.
	Options map[string]string `json:"options,omitempty"`
	// NotifyURL is the default callback URL (C-Pay's merchant-platform setting).
	NotifyURL string `json:"notify_url,omitempty"`
	// DepositFeeRate and PayoutFeeRate are fractions of the amount (0.01 = 1%);
	// PayoutFixedFee is added per payout.
	DepositFeeRate decimal.Decimal `json:"deposit_fee_rate"`
	PayoutFeeRate  decimal.Decimal `json:"payout_fee_rate"`
	PayoutFixedFee decimal.Decimal `json:"payout_fixed_fee"`
	// Balances per currency.
	Balances map[string]*Balance `json:"balances"`
}

// Balance is a merchant's money at the provider in one currency.
type Balance struct {
	Available decimal.Decimal `json:"available"`
	Frozen    decimal.Decimal `json:"frozen"`
}

// AddMerchant registers (or replaces) a merchant.
func (e *Engine) AddMerchant(m Merchant) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m.Balances == nil {
		m.Balances = map[string]*Balance{}
	}
	if m.Options == nil {
		m.Options = map[string]string{}
	}
	e.merchants[m.ID] = &m
}

// Merchant returns a copy of the merchant with id.
func (e *Engine) Merchant(id string) (Merchant, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.merchants[id]
	if !ok {
		return Merchant{}, fmt.Errorf("merchant %q: %w", id, ErrUnknownMerchant)
	}
	return m.clone(), nil
}

// Merchants returns copies of every merchant, sorted by id.
func (e *Engine) Merchants() []Merchant {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Merchant, 0, len(e.merchants))
	for _, m := range e.merchants {
		out = append(out, m.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AdjustBalance adds delta to a merchant's available balance — a balance the
// provider changed without an order, which reconciliation must flag as drift.
func (e *Engine) AdjustBalance(merchantID, currency string, delta decimal.Decimal) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.merchants[merchantID]
	if !ok {
		return fmt.Errorf("merchant %q: %w", merchantID, ErrUnknownMerchant)
	}
	m.balance(currency).Available = m.balance(currency).Available.Add(delta)
	e.inject(Injection{Kind: FaultBalanceDrift, MerchantID: merchantID, Detail: fmt.Sprintf("%s %s", delta.String(), currency)})
	return nil
}

func (m *Merchant) balance(currency string) *Balance {
	b, ok := m.Balances[currency]
	if !ok {
		b = &Balance{}
		m.Balances[currency] = b
	}
	return b
}

func (m *Merchant) clone() Merchant {
	c := *m
	c.Options = make(map[string]string, len(m.Options))
	for k, v := range m.Options {
		c.Options[k] = v
	}
	c.Balances = make(map[string]*Balance, len(m.Balances))
	for k, v := range m.Balances {
		b := *v
		c.Balances[k] = &b
	}
	return c
}

// Order is an order at the simulated provider.
type Order struct {
	ID         string              `json:"id"`
	MerchantID string              `json:"merchant_id"`
	OrderNo    string              `json:"order_no"`
	Kind       providers.OrderKind `json:"kind"`
	// Amount is the requested amount in Currency.
	Amount   decimal.Decimal `json:"amount"`
	Currency string          `json:"currency"`
	// SettleCurrency is the currency of the merchant balance the order moves;
	// empty means Currency (VPay settles a CNY-quoted order in USDT).
	SettleCurrency string `json:"settle_currency,omitempty"`
	// Quote is set for quoted orders: QuoteAmount of QuoteCurrency at Rate.
	QuoteCurrency string          `json:"quote_currency,omitempty"`
	QuoteAmount   decimal.Decimal `json:"quote_amount"`
	Rate          decimal.Decimal `json:"rate"`
	// Paid is what the payer paid (deposits) or what was sent out (payouts).
	Paid decimal.Decimal `json:"paid"`
	// Fee is the provider's fee; Credited is what moved on the merchant balance.
	Fee      decimal.Decimal  `json:"fee"`
	Credited decimal.Decimal  `json:"credited"`
	Status   providers.Status `json:"status"`
	Reversed bool             `json:"reversed"`
	Remark   string           `json:"remark,omitempty"`

	UserID    string `json:"user_id,omitempty"`
	TxHash    string `json:"tx_hash,omitempty"`
	Network   string `json:"network,omitempty"`
	Address   string `json:"address,omitempty"`
	NotifyURL string `json:"notify_url,omitempty"`
	ReturnURL string `json:"return_url,omitempty"`
	FailURL   string `json:"fail_url,omitempty"`
	// Parts are the settled pieces of an order settled in several parts.
	Parts []Part `json:"parts,omitempty"`
	// Fields keeps provider-specific request fields the protocol renders back.
	Fields map[string]string `json:"fields,omitempty"`
	// Events counts state changes; a callback carries the count it was rendered at.
	Events    int       `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// SettledAt is when the order first reached a final status (succeeded,
	// failed, expired); a later reversal leaves it as it is. Zero while the
	// order is open. Statements list orders by it.
	SettledAt time.Time `json:"settled_at,omitzero"`

	script *Script
}

// Part is one settled piece of an order.
type Part struct {
	ID        string          `json:"id"`
	Amount    decimal.Decimal `json:"amount"`
	SettledAt time.Time       `json:"settled_at"`
}

// settleCurrency is the currency the order moves on the merchant balance.
func (o *Order) settleCurrency() string {
	if o.SettleCurrency != "" {
		return o.SettleCurrency
	}
	return o.Currency
}

func (o *Order) clone() *Order {
	c := *o
	c.Parts = append([]Part(nil), o.Parts...)
	c.Fields = make(map[string]string, len(o.Fields))
	for k, v := range o.Fields {
		c.Fields[k] = v
	}
	c.script = nil
	return &c
}

// NextID returns a fresh numeric provider order id.
func (e *Engine) NextID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nextIDLocked()
}

func (e *Engine) nextIDLocked() string {
	e.lastID++
	return strconv.FormatInt(e.lastID, 10)
}

// CreateOrder registers a new order (pending unless o.Status says otherwise). For a payout
// it moves amount plus fee from available to frozen, refusing when short. A
// script stored for its order number, or else the autopilot, decides what the
// payer does next. It returns a copy of the stored order.
func (e *Engine) CreateOrder(o Order) (*Order, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.merchants[o.MerchantID]
	if !ok {
		return nil, fmt.Errorf("merchant %q: %w", o.MerchantID, ErrUnknownMerchant)
	}
	if o.OrderNo != "" {
		if _, dup := e.byNo[noKey(o.MerchantID, o.OrderNo)]; dup {
			return nil, fmt.Errorf("order no %q: %w", o.OrderNo, ErrDuplicateOrder)
		}
	}
	if o.ID == "" {
		o.ID = e.nextIDLocked()
	}
	now := e.opts.Now()
	if o.Status == "" {
		o.Status = providers.StatusPending
	}
	o.CreatedAt, o.UpdatedAt = now, now
	if o.Status.Final() && o.SettledAt.IsZero() {
		o.SettledAt = now
	}
	if o.Fields == nil {
		o.Fields = map[string]string{}
	}
	if o.Kind == providers.KindPayout {
		fee := e.payoutFee(m, o.Amount)
		debit := o.Amount.Add(fee)
		b := m.balance(o.settleCurrency())
		if b.Available.LessThan(debit) {
			return nil, fmt.Errorf("payout %s needs %s %s, available %s: %w", o.OrderNo, debit, o.settleCurrency(), b.Available, ErrInsufficientBalance)
		}
		b.Available = b.Available.Sub(debit)
		b.Frozen = b.Frozen.Add(debit)
		o.Fee = fee
		o.Credited = debit
	}
	stored := o
	e.orders[stored.ID] = &stored
	if stored.OrderNo != "" {
		e.byNo[noKey(stored.MerchantID, stored.OrderNo)] = &stored
		if s, ok := e.scripts[stored.OrderNo]; ok {
			delete(e.scripts, stored.OrderNo)
			stored.script = &s
		}
	}
	if stored.script == nil {
		if s, ok := e.autoScriptLocked(&stored); ok {
			stored.script = &s
		}
	}
	if stored.script != nil {
		e.runScript(stored.ID, *stored.script)
	}
	return stored.clone(), nil
}

// FindOrder returns a copy of the order whose provider id, merchant order number
// or transaction hash is ref, for merchant merchantID ("" matches any merchant).
func (e *Engine) FindOrder(merchantID, ref string) (*Order, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, err := e.findLocked(merchantID, ref)
	if err != nil {
		return nil, err
	}
	return o.clone(), nil
}

// Orders returns copies of every order, oldest first.
func (e *Engine) Orders() []*Order {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Order, 0, len(e.orders))
	for _, o := range e.orders {
		out = append(out, o.clone())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].ID < out[j].ID
		}
		return out[i].CreatedAt.Before(out[j].CreatedAt)
	})
	return out
}

func (e *Engine) findLocked(merchantID, ref string) (*Order, error) {
	if o, ok := e.orders[ref]; ok && (merchantID == "" || o.MerchantID == merchantID) {
		return o, nil
	}
	if merchantID != "" {
		if o, ok := e.byNo[noKey(merchantID, ref)]; ok {
			return o, nil
		}
	}
	for _, o := range e.orders {
		if (merchantID == "" || o.MerchantID == merchantID) && (o.OrderNo == ref || (o.TxHash != "" && o.TxHash == ref)) {
			return o, nil
		}
	}
	return nil, fmt.Errorf("order %q: %w", ref, ErrOrderNotFound)
}

func noKey(merchantID, orderNo string) string { return merchantID + "\x00" + orderNo }

// Pay records a deposit's payment: the payer paid amount (nil: exactly the
// requested amount), the provider takes its fee and credits the rest to the
// merchant, and the callback goes out. A different amount is a payer-modified
// amount, recorded as an injected fault.
func (e *Engine) Pay(ref string, amount *decimal.Decimal) (*Order, error) {
	return e.transition(ref, func(m *Merchant, o *Order) error {
		if o.Kind != providers.KindDeposit || o.Status.Final() {
			return fmt.Errorf("pay %s order in status %s: %w", o.Kind, o.Status, ErrBadTransition)
		}
		paid := o.Amount
		if amount != nil {
			paid = *amount
			if !paid.Equal(o.Amount) {
				e.inject(Injection{Kind: FaultAmountMismatch, MerchantID: o.MerchantID, OrderID: o.ID, OrderNo: o.OrderNo,
					Detail: fmt.Sprintf("ordered %s, paid %s %s", o.Amount, paid, o.Currency)})
			}
		}
		o.Paid = paid
		settled := paid
		if o.QuoteCurrency != "" && o.Rate.IsPositive() && o.settleCurrency() != o.Currency {
			settled = paid // quoted orders settle the paid currency as is
		}
		o.Fee = settled.Mul(m.DepositFeeRate).Truncate(e.opts.AmountDecimals)
		o.Credited = settled.Sub(o.Fee)
		b := m.balance(o.settleCurrency())
		b.Available = b.Available.Add(o.Credited)
		o.Status = providers.StatusSucceeded
		return nil
	})
}

// Process moves an order to processing (a payout sent on, a proof under review).
func (e *Engine) Process(ref string) (*Order, error) {
	return e.transition(ref, func(_ *Merchant, o *Order) error {
		if o.Status != providers.StatusPending {
			return fmt.Errorf("process order in status %s: %w", o.Status, ErrBadTransition)
		}
		o.Status = providers.StatusProcessing
		return nil
	})
}

// Settle completes a payout: its frozen funds leave the merchant balance.
func (e *Engine) Settle(ref string) (*Order, error) {
	return e.transition(ref, func(m *Merchant, o *Order) error {
		if o.Kind != providers.KindPayout || o.Status.Final() {
			return fmt.Errorf("settle %s order in status %s: %w", o.Kind, o.Status, ErrBadTransition)
		}
		rest := o.Amount.Sub(sumParts(o.Parts))
		if rest.IsPositive() && len(o.Parts) > 0 {
			o.Parts = append(o.Parts, Part{ID: fmt.Sprintf("%s-%d", o.ID, len(o.Parts)+1), Amount: rest, SettledAt: e.opts.Now()})
		}
		o.Paid = o.Amount
		b := m.balance(o.settleCurrency())
		b.Frozen = b.Frozen.Sub(o.Credited)
		o.Status = providers.StatusSucceeded
		return nil
	})
}

// SettlePart settles one piece of a payout; the order stays processing until
// its parts add up to the amount, then succeeds. Each part sends a callback.
func (e *Engine) SettlePart(ref string, amount decimal.Decimal) (*Order, error) {
	return e.transition(ref, func(m *Merchant, o *Order) error {
		if o.Kind != providers.KindPayout || o.Status.Final() {
			return fmt.Errorf("settle part of %s order in status %s: %w", o.Kind, o.Status, ErrBadTransition)
		}
		done := sumParts(o.Parts).Add(amount)
		if !amount.IsPositive() || done.GreaterThan(o.Amount) {
			return fmt.Errorf("part %s would settle %s of %s: %w", amount, done, o.Amount, ErrBadTransition)
		}
		o.Parts = append(o.Parts, Part{ID: fmt.Sprintf("%s-%d", o.ID, len(o.Parts)+1), Amount: amount, SettledAt: e.opts.Now()})
		o.Paid = done
		if done.Equal(o.Amount) {
			b := m.balance(o.settleCurrency())
			b.Frozen = b.Frozen.Sub(o.Credited)
			o.Status = providers.StatusSucceeded
		} else {
			o.Status = providers.StatusProcessing
		}
		return nil
	})
}

// Fail fails an order; a payout's frozen funds return to available.
func (e *Engine) Fail(ref, reason string) (*Order, error) {
	return e.transition(ref, func(m *Merchant, o *Order) error {
		if o.Status.Final() {
			return fmt.Errorf("fail order in status %s: %w", o.Status, ErrBadTransition)
		}
		e.release(m, o)
		o.Status = providers.StatusFailed
		o.Remark = reason
		return nil
	})
}

// Expire expires an order the payer never paid.
func (e *Engine) Expire(ref string) (*Order, error) {
	return e.transition(ref, func(m *Merchant, o *Order) error {
		if o.Status.Final() {
			return fmt.Errorf("expire order in status %s: %w", o.Status, ErrBadTransition)
		}
		e.release(m, o)
		o.Status = providers.StatusExpired
		return nil
	})
}

// Reverse reverses a succeeded order: a deposit's credit is taken back, a
// payout's debit returned.
func (e *Engine) Reverse(ref string) (*Order, error) {
	return e.transition(ref, func(m *Merchant, o *Order) error {
		if o.Status != providers.StatusSucceeded {
			return fmt.Errorf("reverse order in status %s: %w", o.Status, ErrBadTransition)
		}
		b := m.balance(o.settleCurrency())
		if o.Kind == providers.KindDeposit {
			b.Available = b.Available.Sub(o.Credited)
		} else {
			b.Available = b.Available.Add(o.Credited)
		}
		o.Status = providers.StatusReversed
		o.Reversed = true
		e.inject(Injection{Kind: FaultReversal, MerchantID: o.MerchantID, OrderID: o.ID, OrderNo: o.OrderNo, Detail: o.Credited.String() + " " + o.settleCurrency()})
		return nil
	})
}

// Render renders the callback the provider would send for o (an order of
// this engine as it is, or a copy a test changed), signed with its merchant's
// secret, without sending it or changing any state; nil when the provider
// sends none for o's status. Conformance tests post a provider's own event
// with one field changed through it.
func (e *Engine) Render(o Order) (*Outbound, error) {
	e.mu.Lock()
	m, ok := e.merchants[o.MerchantID]
	var mc Merchant
	if ok {
		mc = m.clone()
	}
	e.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("merchant %q: %w", o.MerchantID, ErrUnknownMerchant)
	}
	return e.opts.Protocol.Callback(&mc, o.clone(), false)
}

// Alter changes what the provider states about an order, as a provider that
// misreports it would: f may change its amounts, fee, currencies, status and
// parts, not its identifiers (a change to them is undone). Balances are not
// touched and nothing is sent: the order's queries and its next callback
// (Notify) state the altered figures.
func (e *Engine) Alter(ref string, f func(*Order)) (*Order, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, err := e.findLocked("", ref)
	if err != nil {
		return nil, err
	}
	id, no, merchant := o.ID, o.OrderNo, o.MerchantID
	f(o)
	o.ID, o.OrderNo, o.MerchantID = id, no, merchant
	o.Events++
	o.UpdatedAt = e.opts.Now()
	return o.clone(), nil
}

// Notify sends the order's current callback again, as a provider's manual
// "resend notification" button does.
func (e *Engine) Notify(ref string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, err := e.findLocked("", ref)
	if err != nil {
		return err
	}
	return e.notifyLocked(o)
}

// Deposit records money arriving without an order — a payer sending crypto
// straight to a user's wallet address (C-Pay) — credits the merchant and sends
// the callback. It returns the new order.
func (e *Engine) Deposit(o Order) (*Order, error) {
	e.mu.Lock()
	m, ok := e.merchants[o.MerchantID]
	if !ok {
		e.mu.Unlock()
		return nil, fmt.Errorf("merchant %q: %w", o.MerchantID, ErrUnknownMerchant)
	}
	if o.ID == "" {
		o.ID = e.nextIDLocked()
	}
	now := e.opts.Now()
	o.Kind = providers.KindDeposit
	o.CreatedAt, o.UpdatedAt = now, now
	if o.Paid.IsZero() {
		o.Paid = o.Amount
	}
	o.Fee = o.Paid.Mul(m.DepositFeeRate).Truncate(e.opts.AmountDecimals)
	o.Credited = o.Paid.Sub(o.Fee)
	m.balance(o.settleCurrency()).Available = m.balance(o.settleCurrency()).Available.Add(o.Credited)
	o.Status = providers.StatusSucceeded
	o.SettledAt = now
	o.Events = 1
	if o.NotifyURL == "" {
		o.NotifyURL = m.NotifyURL
	}
	if o.Fields == nil {
		o.Fields = map[string]string{}
	}
	stored := o
	e.orders[stored.ID] = &stored
	if stored.OrderNo != "" {
		e.byNo[noKey(stored.MerchantID, stored.OrderNo)] = &stored
	}
	e.inject(Injection{Kind: FaultOrderlessDeposit, MerchantID: o.MerchantID, OrderID: o.ID, OrderNo: o.OrderNo, Detail: fmt.Sprintf("%s %s to user %s", o.Paid, o.Currency, o.UserID)})
	err := e.notifyLocked(&stored)
	e.mu.Unlock()
	return stored.clone(), err
}

// Balances returns a copy of a merchant's balances.
func (e *Engine) Balances(merchantID string) (map[string]Balance, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.merchants[merchantID]
	if !ok {
		return nil, fmt.Errorf("merchant %q: %w", merchantID, ErrUnknownMerchant)
	}
	out := make(map[string]Balance, len(m.Balances))
	for k, v := range m.Balances {
		out[k] = *v
	}
	return out, nil
}

// transition applies change to an order under the lock, then sends the callback
// for its new state.
func (e *Engine) transition(ref string, change func(*Merchant, *Order) error) (*Order, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, err := e.findLocked("", ref)
	if err != nil {
		return nil, err
	}
	m := e.merchants[o.MerchantID]
	if err := change(m, o); err != nil {
		return nil, err
	}
	o.Events++
	o.UpdatedAt = e.opts.Now()
	if o.Status.Final() && o.SettledAt.IsZero() {
		o.SettledAt = o.UpdatedAt
	}
	if err := e.notifyLocked(o); err != nil {
		return o.clone(), err
	}
	return o.clone(), nil
}

// release returns a payout's frozen funds to available.
func (e *Engine) release(m *Merchant, o *Order) {
	if o.Kind != providers.KindPayout {
		return
	}
	b := m.balance(o.settleCurrency())
	b.Frozen = b.Frozen.Sub(o.Credited)
	b.Available = b.Available.Add(o.Credited)
}

func (e *Engine) payoutFee(m *Merchant, amount decimal.Decimal) decimal.Decimal {
	return amount.Mul(m.PayoutFeeRate).Truncate(e.opts.AmountDecimals).Add(m.PayoutFixedFee)
}

// PayoutFee is the fee the merchant pays for a payout of amount.
func (e *Engine) PayoutFee(merchantID string, amount decimal.Decimal) (decimal.Decimal, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.merchants[merchantID]
	if !ok {
		return decimal.Decimal{}, fmt.Errorf("merchant %q: %w", merchantID, ErrUnknownMerchant)
	}
	return e.payoutFee(m, amount), nil
}

func sumParts(parts []Part) decimal.Decimal {
	s := decimal.Zero
	for _, p := range parts {
		s = s.Add(p.Amount)
	}
	return s
}
