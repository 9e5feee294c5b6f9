package sim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tallyhq/tally/providers"
)

// Delivery is one attempt to deliver a callback, kept for the control API.
type Delivery struct {
	OrderID  string        `json:"order_id"`
	OrderNo  string        `json:"order_no"`
	Event    int           `json:"event"`
	Attempt  int           `json:"attempt"`
	URL      string        `json:"url"`
	Forged   bool          `json:"forged,omitempty"`
	Copy     int           `json:"copy,omitempty"` // > 0 for an injected duplicate
	Status   int           `json:"status"`
	Acked    bool          `json:"acked"`
	Error    string        `json:"error,omitempty"`
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration"`
}

// maxDeliveries bounds the delivery log.
const maxDeliveries = 20000

// Deliveries returns the delivery log, oldest first.
func (e *Engine) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Delivery(nil), e.deliveries...)
}

// pendingCallback is a rendered callback waiting to go out.
type pendingCallback struct {
	orderID, orderNo string
	event            int
	out              *Outbound
	faults           CallbackFaults
}

// notifyLocked renders the callback for o's current state and sends it, applying
// the order's callback faults. Called with e.mu held.
func (e *Engine) notifyLocked(o *Order) error {
	if o.NotifyURL == "" {
		if m, ok := e.merchants[o.MerchantID]; ok && m.NotifyURL != "" {
			o.NotifyURL = m.NotifyURL
		}
	}
	m := e.merchants[o.MerchantID]
	out, err := e.opts.Protocol.Callback(m, o.clone(), false)
	if err != nil {
		return fmt.Errorf("render callback for order %s: %w", o.ID, err)
	}
	if out == nil || out.URL == "" {
		return nil
	}
	var faults CallbackFaults
	if o.script != nil {
		faults = o.script.Callbacks
	}
	pc := &pendingCallback{orderID: o.ID, orderNo: o.OrderNo, event: o.Events, out: out, faults: faults}
	if faults.BadSignature {
		forged, err := e.opts.Protocol.Callback(m, o.clone(), true)
		if err == nil && forged != nil && forged.URL != "" {
			e.inject(Injection{Kind: FaultBadSignature, MerchantID: o.MerchantID, OrderID: o.ID, OrderNo: o.OrderNo, Detail: fmt.Sprintf("event %d", o.Events)})
			e.spawn(func() {
				e.attempt(&pendingCallback{orderID: o.ID, orderNo: o.OrderNo, event: o.Events, out: forged}, 1, true, 0)
			})
		}
	}
	if faults.Drop {
		e.inject(Injection{Kind: FaultDropCallback, MerchantID: o.MerchantID, OrderID: o.ID, OrderNo: o.OrderNo, Detail: fmt.Sprintf("event %d", o.Events)})
		return nil
	}
	if faults.Reorder {
		held := e.reorderHeld[o.ID]
		if len(held) == 0 {
			// Hold this event until a later one overtakes it, or release it after
			// the reorder window when none comes.
			e.reorderHeld[o.ID] = []*pendingCallback{pc}
			e.spawn(func() { e.releaseHeld(o.ID, e.Scaled(reorderWindow)) })
			return nil
		}
		// A later event: send it first, then the held ones.
		delete(e.reorderHeld, o.ID)
		e.inject(Injection{Kind: FaultReorderCallbacks, MerchantID: o.MerchantID, OrderID: o.ID, OrderNo: o.OrderNo, Detail: fmt.Sprintf("event %d sent before %d earlier", o.Events, len(held))})
		e.spawn(func() {
			e.deliver(pc)
			for i := len(held) - 1; i >= 0; i-- {
				e.deliver(held[i])
			}
		})
		return nil
	}
	if faults.Duplicate > 0 {
		e.inject(Injection{Kind: FaultDuplicateCallback, MerchantID: o.MerchantID, OrderID: o.ID, OrderNo: o.OrderNo, Detail: fmt.Sprintf("event %d x%d", o.Events, faults.Duplicate+1)})
	}
	if faults.Delay.Duration > 0 {
		e.inject(Injection{Kind: FaultDelayCallback, MerchantID: o.MerchantID, OrderID: o.ID, OrderNo: o.OrderNo, Detail: fmt.Sprintf("event %d by %s", o.Events, faults.Delay.Duration)})
	}
	e.spawn(func() { e.deliver(pc) })
	return nil
}

// reorderWindow is how long a held callback waits for a later event to overtake it.
const reorderWindow = 5 * time.Minute

// releaseHeld sends held callbacks of an order that no later event overtook.
func (e *Engine) releaseHeld(orderID string, after time.Duration) {
	if !e.sleep(after) {
		return
	}
	e.mu.Lock()
	held := e.reorderHeld[orderID]
	delete(e.reorderHeld, orderID)
	e.mu.Unlock()
	for _, pc := range held {
		e.deliver(pc)
	}
}

// deliver sends one callback with its delay and duplicates, retrying each copy
// on the provider's schedule until the merchant acknowledges it.
func (e *Engine) deliver(pc *pendingCallback) {
	if d := pc.faults.Delay.Duration; d > 0 && !e.sleep(e.Scaled(d)) {
		return
	}
	for c := 1; c <= pc.faults.Duplicate; c++ {
		e.spawn(func() { e.retryUntilAcked(pc, c) })
	}
	e.retryUntilAcked(pc, 0)
}

func (e *Engine) retryUntilAcked(pc *pendingCallback, copyNo int) {
	schedule := e.opts.Protocol.Schedule()
	for i := 0; i <= len(schedule); i++ {
		if i > 0 && !e.sleep(e.Scaled(schedule[i-1])) {
			return
		}
		if e.attempt(pc, i+1, false, copyNo) {
			return
		}
	}
}

// attempt makes one HTTP delivery and logs it; it reports whether the merchant
// answered with the acknowledgement.
func (e *Engine) attempt(pc *pendingCallback, n int, forged bool, copyNo int) bool {
	start := time.Now()
	d := Delivery{OrderID: pc.orderID, OrderNo: pc.orderNo, Event: pc.event, Attempt: n, URL: pc.out.URL, Forged: forged, Copy: copyNo, At: e.opts.Now()}
	req, err := http.NewRequestWithContext(e.ctx, pc.out.Method, pc.out.URL, bytes.NewReader(pc.out.Body))
	if err == nil {
		for k, vs := range pc.out.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		if pc.out.ContentType != "" {
			req.Header.Set("Content-Type", pc.out.ContentType)
		}
		var resp *http.Response
		resp, err = e.opts.HTTPClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			d.Status = resp.StatusCode
			// Exactly the acknowledgement: every document asks for the bare
			// string ("success", "OK"); none allows spaces, a newline or
			// another case, so "success\n" is not acknowledged.
			d.Acked = resp.StatusCode == http.StatusOK && string(body) == e.opts.Protocol.Ack()
		}
	}
	if err != nil {
		// The notify URL may carry a signature (USDTCNPAY's callback URLs).
		d.Error = providers.RedactURLError(err).Error()
	}
	d.Duration = time.Since(start)
	e.mu.Lock()
	if len(e.deliveries) >= maxDeliveries {
		e.deliveries = e.deliveries[len(e.deliveries)-maxDeliveries/2:]
	}
	e.deliveries = append(e.deliveries, d)
	e.mu.Unlock()
	e.opts.Logger.Debug("simulator callback", "provider", e.opts.Provider, "order_id", pc.orderID, "attempt", n, "status", d.Status, "acked", d.Acked)
	return d.Acked
}

// spawn runs f in a goroutine the engine waits for on Close.
func (e *Engine) spawn(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// sleep waits d, or returns false when the engine closes first.
func (e *Engine) sleep(d time.Duration) bool {
	if d <= 0 {
		return e.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.ctx.Done():
		return false
	}
}
