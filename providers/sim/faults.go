package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// Script says what happens to one order after it is created: what the payer (or,
// for a payout, the provider) does, when, and what goes wrong with its callbacks.
// Scripts are set through the control API by merchant order number, before or
// after the order exists.
type Script struct {
	// Outcome is "succeed" (the payer pays; the payout settles), "fail",
	// "expire", or "none" (wait for a control call).
	Outcome Outcome `json:"outcome"`
	// Amount is what the payer pays when it differs from the order (a
	// payer-modified amount); nil pays exactly.
	Amount *decimal.Decimal `json:"amount,omitempty"`
	// After is how long, in the provider's documented time, before the outcome.
	After Duration `json:"after"`
	// Parts settles a payout in several pieces; they must add up to its amount.
	Parts []decimal.Decimal `json:"parts,omitempty"`
	// ReverseAfter reverses the order this long after it succeeded; zero never.
	ReverseAfter Duration `json:"reverse_after"`
	// Reason is the failure remark.
	Reason string `json:"reason,omitempty"`
	// Callbacks are the faults of this order's callbacks.
	Callbacks CallbackFaults `json:"callbacks"`
}

// Outcome is what a script does to its order.
type Outcome string

const (
	OutcomeSucceed Outcome = "succeed"
	OutcomeFail    Outcome = "fail"
	OutcomeExpire  Outcome = "expire"
	OutcomeNone    Outcome = "none"
)

// CallbackFaults are what goes wrong with an order's callbacks.
type CallbackFaults struct {
	// Drop: the callbacks are never sent.
	Drop bool `json:"drop,omitempty"`
	// Duplicate: each callback is sent this many extra times, concurrently.
	Duplicate int `json:"duplicate,omitempty"`
	// Reorder: a later event's callback is sent before the earlier one.
	Reorder bool `json:"reorder,omitempty"`
	// Delay: each callback waits this long (documented time) before its first try.
	Delay Duration `json:"delay"`
	// BadSignature: a forged copy with an altered amount and a wrong signature
	// is sent first; the genuine callback follows.
	BadSignature bool `json:"bad_signature,omitempty"`
}

// Auto is the autopilot: what happens to new orders that have no script. Each
// order draws an outcome from the weights and each fault from its probability.
type Auto struct {
	Enabled bool     `json:"enabled"`
	After   Duration `json:"after"`
	// Outcome weights (need not add up to 1).
	Succeed      float64 `json:"succeed"`
	PayDifferent float64 `json:"pay_different"`
	Fail         float64 `json:"fail"`
	Expire       float64 `json:"expire"`
	// DifferentBy is the fraction by which a different payment is short (e.g. 0.1).
	DifferentBy decimal.Decimal `json:"different_by"`
	// Probabilities per order.
	Reverse      float64  `json:"reverse"`
	Parts        float64  `json:"parts"`
	Drop         float64  `json:"drop"`
	Duplicate    float64  `json:"duplicate"`
	Reorder      float64  `json:"reorder"`
	Delay        float64  `json:"delay"`
	DelayBy      Duration `json:"delay_by"`
	BadSignature float64  `json:"bad_signature"`
}

// SetScript stores a script for an order number. If the order exists and is not
// final, the script runs now; otherwise it waits for the order to be created.
func (e *Engine) SetScript(orderNo string, s Script) error {
	if err := s.validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	o, err := e.findLocked("", orderNo)
	if err != nil {
		e.scripts[orderNo] = s
		return nil
	}
	o.script = &s
	if !o.Status.Final() {
		e.runScript(o.ID, s)
	}
	return nil
}

// SetAuto replaces the autopilot.
func (e *Engine) SetAuto(a Auto) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.auto = a
}

// GetAuto returns the autopilot.
func (e *Engine) GetAuto() Auto {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.auto
}

func (s Script) validate() error {
	switch s.Outcome {
	case OutcomeSucceed, OutcomeFail, OutcomeExpire, OutcomeNone:
	case "":
		return fmt.Errorf("script outcome is required (succeed, fail, expire, none)")
	default:
		return fmt.Errorf("unknown script outcome %q (succeed, fail, expire, none)", s.Outcome)
	}
	if s.Amount != nil && !s.Amount.IsPositive() {
		return fmt.Errorf("script amount %s must be positive", s.Amount)
	}
	for _, p := range s.Parts {
		if !p.IsPositive() {
			return fmt.Errorf("script part %s must be positive", p)
		}
	}
	if s.Callbacks.Duplicate < 0 || s.Callbacks.Duplicate > 50 {
		return fmt.Errorf("duplicate %d must be within 0..50", s.Callbacks.Duplicate)
	}
	return nil
}

// runScript carries out a script in the background. Called with e.mu held.
func (e *Engine) runScript(orderID string, s Script) {
	e.spawn(func() {
		if !e.sleep(e.Scaled(s.After.Duration)) {
			return
		}
		o, err := e.FindOrder("", orderID)
		if err != nil || o.Status.Final() {
			return
		}
		switch s.Outcome {
		case OutcomeSucceed:
			if o.Kind == providers.KindDeposit {
				_, err = e.Pay(orderID, s.Amount)
			} else if len(s.Parts) > 0 {
				for i, p := range s.Parts {
					if i > 0 && !e.sleep(e.Scaled(time.Minute)) {
						return
					}
					if _, err = e.SettlePart(orderID, p); err != nil {
						break
					}
				}
			} else {
				_, err = e.Settle(orderID)
			}
		case OutcomeFail:
			_, err = e.Fail(orderID, firstNonEmpty(s.Reason, "payment failed"))
		case OutcomeExpire:
			_, err = e.Expire(orderID)
		case OutcomeNone:
			return
		}
		if err != nil {
			e.opts.Logger.Warn("simulator script", "provider", e.opts.Provider, "order_id", orderID, "error", err)
			return
		}
		if s.ReverseAfter.Duration > 0 && s.Outcome == OutcomeSucceed {
			if !e.sleep(e.Scaled(s.ReverseAfter.Duration)) {
				return
			}
			if _, err := e.Reverse(orderID); err != nil {
				e.opts.Logger.Warn("simulator reversal", "provider", e.opts.Provider, "order_id", orderID, "error", err)
			}
		}
	})
}

// autoScriptLocked draws a script for a new order from the autopilot.
func (e *Engine) autoScriptLocked(o *Order) (Script, bool) {
	a := e.auto
	if !a.Enabled {
		return Script{}, false
	}
	s := Script{After: a.After}
	total := a.Succeed + a.PayDifferent + a.Fail + a.Expire
	r := e.rng.Float64() * total
	switch {
	case total <= 0 || r < a.Succeed:
		s.Outcome = OutcomeSucceed
	case r < a.Succeed+a.PayDifferent:
		s.Outcome = OutcomeSucceed
		if o.Kind == providers.KindDeposit {
			by := a.DifferentBy
			if !by.IsPositive() {
				by = decimal.RequireFromString("0.1")
			}
			paid := o.Amount.Mul(decimal.NewFromInt(1).Sub(by)).Truncate(e.opts.AmountDecimals)
			if paid.IsPositive() && !paid.Equal(o.Amount) {
				s.Amount = &paid
			}
		}
	case r < a.Succeed+a.PayDifferent+a.Fail:
		s.Outcome = OutcomeFail
	default:
		s.Outcome = OutcomeExpire
		if o.Kind == providers.KindPayout {
			s.Outcome = OutcomeFail
		}
	}
	if s.Outcome == OutcomeSucceed && e.rng.Float64() < a.Reverse {
		s.ReverseAfter = Duration{time.Minute}
	}
	if s.Outcome == OutcomeSucceed && o.Kind == providers.KindPayout && e.rng.Float64() < a.Parts {
		s.Parts = splitParts(o.Amount, e.opts.AmountDecimals)
	}
	s.Callbacks.Drop = e.rng.Float64() < a.Drop
	if e.rng.Float64() < a.Duplicate {
		s.Callbacks.Duplicate = 1 + e.rng.IntN(3)
	}
	s.Callbacks.Reorder = e.rng.Float64() < a.Reorder
	if e.rng.Float64() < a.Delay {
		s.Callbacks.Delay = a.DelayBy
		if s.Callbacks.Delay.Duration == 0 {
			s.Callbacks.Delay = Duration{2 * time.Minute}
		}
	}
	s.Callbacks.BadSignature = e.rng.Float64() < a.BadSignature
	return s, true
}

// splitParts splits an amount into two or three pieces that add up to it.
func splitParts(amount decimal.Decimal, places int32) []decimal.Decimal {
	first := amount.Div(decimal.NewFromInt(2)).Truncate(places)
	if !first.IsPositive() || first.Equal(amount) {
		return nil
	}
	return []decimal.Decimal{first, amount.Sub(first)}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// EndpointFault makes a provider endpoint misbehave.
type EndpointFault struct {
	// Path is the provider path, e.g. "/collect/create"; "" or "*" hits every path.
	Path string `json:"path"`
	// Mode is "error_5xx" (answer 500 without acting), "timeout" (act, then never
	// answer: the caller cannot know whether the order exists), or "hang" (never
	// answer, without acting).
	Mode FaultMode `json:"mode"`
	// Count is how many requests it hits; 0 means until cleared.
	Count int `json:"count"`
	// Rate is the probability it hits a request; 0 means always.
	Rate float64 `json:"rate"`
	Hits int     `json:"hits"`
}

// FaultMode is how an endpoint misbehaves.
type FaultMode string

const (
	ModeError5xx FaultMode = "error_5xx"
	ModeTimeout  FaultMode = "timeout"
	ModeHang     FaultMode = "hang"
)

// AddEndpointFault adds an endpoint fault.
func (e *Engine) AddEndpointFault(f EndpointFault) error {
	switch f.Mode {
	case ModeError5xx, ModeTimeout, ModeHang:
	default:
		return fmt.Errorf("unknown fault mode %q (error_5xx, timeout, hang)", f.Mode)
	}
	if f.Rate < 0 || f.Rate > 1 || f.Count < 0 {
		return fmt.Errorf("fault rate must be within 0..1 and count non-negative")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	f.Hits = 0
	e.faults = append(e.faults, &f)
	return nil
}

// ClearEndpointFaults removes every endpoint fault.
func (e *Engine) ClearEndpointFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// EndpointFaults lists the endpoint faults and their hits.
func (e *Engine) EndpointFaults() []EndpointFault {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]EndpointFault, 0, len(e.faults))
	for _, f := range e.faults {
		out = append(out, *f)
	}
	return out
}

// Endpoint wraps a provider handler so that endpoint faults apply to it. path is
// the provider's documented path the handler serves.
func (e *Engine) Endpoint(path string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mode := e.drawFault(path)
		switch mode {
		case ModeError5xx:
			http.Error(w, `{"code":500,"msg":"internal server error"}`, http.StatusInternalServerError)
			return
		case ModeTimeout:
			h(discardWriter{header: http.Header{}}, r)
			e.waitForGiveUp(r)
			return
		case ModeHang:
			e.waitForGiveUp(r)
			return
		}
		h(w, r)
	}
}

func (e *Engine) drawFault(path string) FaultMode {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.Path != "" && f.Path != "*" && f.Path != path && !strings.HasSuffix(path, f.Path) {
			continue
		}
		if f.Rate > 0 && e.rng.Float64() >= f.Rate {
			continue
		}
		f.Hits++
		if f.Count > 0 && f.Hits >= f.Count {
			e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
		}
		kind := FaultEndpoint5xx
		if f.Mode != ModeError5xx {
			kind = FaultEndpointTimeout
		}
		e.inject(Injection{Kind: kind, Detail: string(f.Mode) + " " + path})
		return f.Mode
	}
	return ""
}

// waitForGiveUp holds a request until its client gives up or the engine closes.
func (e *Engine) waitForGiveUp(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-e.ctx.Done():
	case <-time.After(10 * time.Minute):
	}
}

type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// Injection records a fault the simulator injected, so that a test or the demo
// can check that tally detected every one.
type Injection struct {
	Kind       FaultKind `json:"kind"`
	Provider   string    `json:"provider"`
	MerchantID string    `json:"merchant_id,omitempty"`
	OrderID    string    `json:"order_id,omitempty"`
	OrderNo    string    `json:"order_no,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	At         time.Time `json:"at"`
}

// FaultKind names an injected fault.
type FaultKind string

const (
	FaultAmountMismatch    FaultKind = "amount_mismatch"
	FaultReversal          FaultKind = "reversal"
	FaultDropCallback      FaultKind = "drop_callback"
	FaultDuplicateCallback FaultKind = "duplicate_callback"
	FaultReorderCallbacks  FaultKind = "reorder_callbacks"
	FaultDelayCallback     FaultKind = "delay_callback"
	FaultBadSignature      FaultKind = "bad_signature"
	FaultEndpoint5xx       FaultKind = "endpoint_5xx"
	FaultEndpointTimeout   FaultKind = "endpoint_timeout"
	FaultBalanceDrift      FaultKind = "balance_drift"
	FaultOrderlessDeposit  FaultKind = "orderless_deposit"
)

// Injected returns every fault injected so far, oldest first.
func (e *Engine) Injected() []Injection {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Injection(nil), e.injected...)
}

// inject records a fault. Called with e.mu held.
func (e *Engine) inject(in Injection) {
	in.Provider = e.opts.Provider
	in.At = e.opts.Now()
	e.injected = append(e.injected, in)
}

// Duration is a time.Duration written in JSON as "90s" (a number is seconds).
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "90s", "1m30s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "" {
			d.Duration = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		d.Duration = v
		return nil
	}
	var secs json.Number
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration must be a string like \"90s\" or a number of seconds")
	}
	f, err := decimal.NewFromString(secs.String())
	if err != nil {
		return fmt.Errorf("duration %s: %w", secs, err)
	}
	d.Duration = time.Duration(f.Mul(decimal.NewFromInt(int64(time.Second))).IntPart())
	return nil
}
