package sim

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// Exchange records a merchant converting its own money between two currencies
// at the provider (C-Pay's exchange endpoint): debit leaves the available
// balance in currency from, o.Credited arrives in the available balance of
// o.Currency, and o is stored as a succeeded order of its own kind (the
// provider package names it, e.g. "exchange") so that it can be found by its
// order number. No script or autopilot applies and no callback is sent; unlike
// AdjustBalance, nothing is recorded as an injected fault. It refuses an
// unknown merchant, a duplicate order number and a short balance.
func (e *Engine) Exchange(o Order, from string, debit decimal.Decimal) (*Order, error) {
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
	src := m.balance(from)
	if src.Available.LessThan(debit) {
		return nil, fmt.Errorf("exchange %s needs %s %s, available %s: %w", o.OrderNo, debit, from, src.Available, ErrInsufficientBalance)
	}
	src.Available = src.Available.Sub(debit)
	dst := m.balance(o.Currency)
	dst.Available = dst.Available.Add(o.Credited)
	if o.ID == "" {
		o.ID = e.nextIDLocked()
	}
	now := e.opts.Now()
	o.CreatedAt, o.UpdatedAt = now, now
	o.Status = providers.StatusSucceeded
	o.Events = 1
	if o.Fields == nil {
		o.Fields = map[string]string{}
	}
	stored := o
	e.orders[stored.ID] = &stored
	if stored.OrderNo != "" {
		e.byNo[noKey(stored.MerchantID, stored.OrderNo)] = &stored
	}
	return stored.clone(), nil
}
