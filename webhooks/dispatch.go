package webhooks

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/webhooksdb"
	"github.com/tallyhq/tally/orders"
)

// Delivery is not one job per event: every event to deliver is a row of
// webhook_outbox, written by EnqueueTx in the transaction of the change it
// reports, and a per-merchant dispatcher (Dispatch, run by package jobs as
// the webhook_dispatch job, unique per merchant: River's job is its lease)
// delivers the merchant's due events in batches on reused connections, each
// order's events one after the other in order, the orders side by side (up
// to DispatchOptions.Concurrency), and gives each failed event a retry time
// of its own. A run of failures opens the endpoint's circuit breaker: the
// dispatcher then attempts nothing until it half-opens, and one probe
// decides. One merchant's dispatcher never waits for another's.

// DispatchOptions tune the per-merchant dispatcher; zero fields take the
// defaults.
type DispatchOptions struct {
	// Concurrency is how many of a merchant's orders are delivered at once;
	// default 32.
	Concurrency int
	// Batch is how many due events a dispatcher claims at once; default 256.
	Batch int
	// Lease is how long one dispatcher job delivers before it yields (it is
	// run again at once if work is left); default 10 s.
	Lease time.Duration
	// Idle is how long a dispatcher with nothing due waits for new events
	// before it ends, and Poll how often it looks meanwhile; default 1 s and
	// 20 ms.
	Idle, Poll time.Duration
	// Attempts is how many times an event is tried before it is given up;
	// RetryFirst the wait after the first failure, doubling to RetryMax,
	// each wait jittered by ±20 %. Default 15, 2 s, 1 h: about four hours.
	Attempts             int
	RetryFirst, RetryMax time.Duration
	// BreakerFailures consecutive failed attempts open the endpoint's
	// breaker for BreakerOpen, doubling with each reopening to
	// BreakerOpenMax; default 5, 5 s, 5 min.
	BreakerFailures             int
	BreakerOpen, BreakerOpenMax time.Duration
}

func (o DispatchOptions) withDefaults() DispatchOptions {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Attempts <= 0 {
		o.Attempts = 15
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = 5
	}
	def(&o.Lease, 10*time.Second)
	def(&o.Idle, time.Second)
	def(&o.Poll, 20*time.Millisecond)
	def(&o.RetryFirst, 2*time.Second)
	def(&o.RetryMax, time.Hour)
	def(&o.BreakerOpen, 5*time.Second)
	def(&o.BreakerOpenMax, 5*time.Minute)
	return o
}

// givenUp is the next attempt time of an event given up: never.
var givenUp = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// EnqueueTx writes events to deliver in tx, the transaction of the change
// they report: they exist exactly when it commits, and a dispatcher delivers
// them from there (nothing between the commit and the delivery can lose
// them). jobs.Queue.NotifyMerchant (orders.Queue) calls it.
func EnqueueTx(ctx context.Context, tx pgx.Tx, notices ...orders.Notice) error {
	if len(notices) == 0 {
		return nil
	}
	p := webhooksdb.EnqueueWebhookEventsParams{EventIds: make([]int64, len(notices)), MerchantIds: make([]int64, len(notices)),
		OrderIds: make([]int64, len(notices))}
	for i, n := range notices {
		p.EventIds[i], p.MerchantIds[i], p.OrderIds[i] = n.EventID, n.MerchantID, n.OrderID
	}
	if err := webhooksdb.New(tx).EnqueueWebhookEvents(ctx, p); err != nil {
		return fmt.Errorf("queue %d webhook events: %w", len(notices), err)
	}
	return nil
}

// DueMerchants lists the merchants with an event due: those whose
// dispatcher must run (package jobs starts them).
func (s *Service) DueMerchants(ctx context.Context) ([]int64, error) {
	ids, err := s.q.DueWebhookMerchants(ctx)
	if err != nil {
		return nil, fmt.Errorf("merchants with webhooks due: %w", err)
	}
	return ids, nil
}

// Endpoint states (webhook_endpoints.state; tally_webhook_endpoint_state).
const (
	EndpointClosed   = "closed"
	EndpointOpen     = "open"
	EndpointHalfOpen = "half_open"
)

// breaker is a merchant endpoint's circuit breaker, as stored.
type breaker struct {
	state     string
	failures  int32
	opened    int32
	openUntil time.Time
	lastError string
}

func (s *Service) loadBreaker(ctx context.Context, merchantID int64) (breaker, error) {
	r, err := s.q.WebhookEndpoint(ctx, merchantID)
	if err == pgx.ErrNoRows {
		return breaker{state: EndpointClosed}, nil
	}
	if err != nil {
		return breaker{}, fmt.Errorf("webhook endpoint of merchant %d: %w", merchantID, err)
	}
	b := breaker{state: r.State, failures: r.Failures, opened: r.Opened, lastError: r.LastError}
	if r.OpenUntil != nil {
		b.openUntil = *r.OpenUntil
	}
	return b, nil
}

func (s *Service) saveBreaker(ctx context.Context, merchantID int64, b breaker) error {
	p := webhooksdb.SaveWebhookEndpointParams{MerchantID: merchantID, State: b.state, Failures: b.failures, Opened: b.opened, LastError: b.lastError}
	if !b.openUntil.IsZero() {
		p.OpenUntil = &b.openUntil
	}
	if err := s.q.SaveWebhookEndpoint(ctx, p); err != nil {
		return fmt.Errorf("save webhook endpoint of merchant %d: %w", merchantID, err)
	}
	return nil
}

// outcome is what became of one claimed event in a batch.
type outcome struct {
	row       webhooksdb.ClaimWebhookEventsRow
	attempted bool
	delivered bool
	skip      bool // nothing to send (no webhook URL, event gone): done
	record    webhooksdb.InsertWebhookDeliveriesParams
}

// Dispatch delivers a merchant's due webhook events until none is due for
// DispatchOptions.Idle or its Lease is over. It returns how soon it should
// run again (0: not until new events are due; the breaker's remaining open
// time while it is open; a moment when it yielded with work left).
func (s *Service) Dispatch(ctx context.Context, merchantID int64) (time.Duration, error) {
	o := s.opts.Dispatch
	start := time.Now()
	lastWork := start
	b, err := s.loadBreaker(ctx, merchantID)
	if err != nil {
		return 0, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return time.Millisecond, nil // stopped: run again elsewhere
		}
		now := s.opts.Now()
		limit := o.Batch
		switch b.state {
		case EndpointOpen:
			if now.Before(b.openUntil) {
				return b.openUntil.Sub(now), nil
			}
			b.state = EndpointHalfOpen
			limit = 1
		case EndpointHalfOpen:
			limit = 1
		}
		rows, err := s.q.ClaimWebhookEvents(ctx, webhooksdb.ClaimWebhookEventsParams{MerchantID: merchantID, RowLimit: int32(limit)})
		if err != nil {
			return 0, fmt.Errorf("claim webhook events of merchant %d: %w", merchantID, err)
		}
		if len(rows) == 0 {
			if time.Since(lastWork) >= o.Idle || time.Since(start) >= o.Lease {
				return 0, nil
			}
			select {
			case <-ctx.Done():
			case <-time.After(o.Poll):
			}
			continue
		}
		lastWork = time.Now()
		outs, err := s.deliverBatch(ctx, merchantID, rows, b.state != EndpointClosed)
		if err != nil {
			return 0, err
		}
		if err := s.recordBatch(ctx, merchantID, outs); err != nil {
			return 0, err
		}
		if err := s.updateBreaker(ctx, merchantID, &b, outs); err != nil {
			return 0, err
		}
		if time.Since(start) >= o.Lease {
			return time.Millisecond, nil
		}
	}
}

// deliverBatch attempts a batch of a merchant's events: each order's events
// in order, stopping at its first failure; orders side by side. Once the
// batch has failed BreakerFailures attempts without a success (or its one
// probe failed), it attempts nothing more.
func (s *Service) deliverBatch(ctx context.Context, merchantID int64, rows []webhooksdb.ClaimWebhookEventsRow, probing bool) ([]outcome, error) {
	o := s.opts.Dispatch
	outs := make([]outcome, len(rows))
	for i, r := range rows {
		outs[i].row = r
	}
	hook, err := s.target(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	if hook.merchant.WebhookURL == "" {
		for i := range outs {
			outs[i].skip = true
		}
		return outs, nil
	}
	bodies, err := s.bodies(ctx, rows)
	if err != nil {
		return nil, err
	}
	// Each order's events in event order (a retried one may be due after a
	// later one); an event of no order is a group of its own.
	groups := map[int64][]int{}
	var keys []int64
	for i, r := range rows {
		k := -r.EventID
		if r.OrderID != nil {
			k = *r.OrderID
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range keys {
		slices.SortFunc(groups[k], func(a, b int) int { return cmp.Compare(rows[a].EventID, rows[b].EventID) })
	}
	slices.SortFunc(keys, func(a, b int64) int { return cmp.Compare(rows[groups[a][0]].EventID, rows[groups[b][0]].EventID) })

	var failures, successes atomic.Int32
	stop := func() bool {
		f := failures.Load()
		return (probing && f > 0) || (f >= int32(o.BreakerFailures) && successes.Load() == 0)
	}
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	for _, k := range keys {
		idx := groups[k]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, i := range idx {
				body, ok := bodies[rows[i].EventID]
				if !ok {
					outs[i].skip = true // the event is gone: nothing to say
					continue
				}
				if stop() || ctx.Err() != nil {
					return
				}
				var orderID int64
				if rows[i].OrderID != nil {
					orderID = *rows[i].OrderID
				}
				d, err := s.attempt(ctx, hook, orderID, rows[i].EventID, int(rows[i].Attempts)+1, body)
				outs[i].attempted, outs[i].record = true, d
				if err != nil {
					failures.Add(1)
					return // the order's later events wait for this one
				}
				outs[i].delivered = true
				successes.Add(1)
			}
		}()
	}
	wg.Wait()
	return outs, nil
}

// bodies builds the webhook body of each claimed event, by event id; an
// event that no longer exists is left out.
func (s *Service) bodies(ctx context.Context, rows []webhooksdb.ClaimWebhookEventsRow) (map[int64][]byte, error) {
	var orderEvents, otherEvents []int64
	for _, r := range rows {
		if r.OrderID != nil {
			orderEvents = append(orderEvents, r.EventID)
		} else {
			otherEvents = append(otherEvents, r.EventID)
		}
	}
	out := make(map[int64][]byte, len(rows))
	if len(orderEvents) > 0 {
		evs, ords, err := s.orders.EventsAndOrders(ctx, orderEvents)
		if err != nil {
			return nil, err
		}
		for id, ev := range evs {
			o, ok := ords[ev.OrderID]
			if !ok {
				continue
			}
			b, err := orderEventBody(ev, o)
			if err != nil {
				return nil, err
			}
			out[id] = b
		}
	}
	if len(otherEvents) > 0 {
		evs, err := s.q.WebhookEventsByIDs(ctx, otherEvents)
		if err != nil {
			return nil, fmt.Errorf("load %d webhook events: %w", len(otherEvents), err)
		}
		for _, ev := range evs {
			b, err := json.Marshal(DiscrepancyEvent{ID: ev.ID, Type: ev.Type, OccurredAt: ev.CreatedAt, Discrepancy: ev.Payload})
			if err != nil {
				return nil, fmt.Errorf("webhook body: %w", err)
			}
			out[ev.ID] = b
		}
	}
	return out, nil
}

// recordBatch stores a batch's attempts, removes what is done from the
// outbox and gives each failed event its next attempt time (jittered
// backoff), or gives it up after its last attempt.
func (s *Service) recordBatch(ctx context.Context, merchantID int64, outs []outcome) error {
	o := s.opts.Dispatch
	var records []webhooksdb.InsertWebhookDeliveriesParams
	var done []int64
	var retry webhooksdb.RescheduleWebhookEventsParams
	now := time.Now()
	for _, x := range outs {
		if x.attempted {
			records = append(records, x.record)
		}
		switch {
		case x.skip, x.delivered:
			done = append(done, x.row.EventID)
		case x.attempted:
			attempts := x.row.Attempts + 1
			next := givenUp
			if int(attempts) < o.Attempts {
				next = now.Add(retryAfter(int(attempts), o.RetryFirst, o.RetryMax))
			} else {
				s.opts.Logger.Warn("webhook given up", "merchant_id", merchantID, "event_id", x.row.EventID, "attempts", attempts)
			}
			retry.EventIds = append(retry.EventIds, x.row.EventID)
			retry.Attempts = append(retry.Attempts, attempts)
			retry.NextAttempts = append(retry.NextAttempts, next)
		}
	}
	if len(records) > 0 {
		// In event order: an order's attempts listed as they were made.
		slices.SortFunc(records, func(a, b webhooksdb.InsertWebhookDeliveriesParams) int { return cmp.Compare(a.EventID, b.EventID) })
		if _, err := s.q.InsertWebhookDeliveries(ctx, records); err != nil {
			return fmt.Errorf("record %d webhook attempts: %w", len(records), err)
		}
	}
	if len(done) > 0 {
		if err := s.q.DeleteWebhookOutbox(ctx, done); err != nil {
			return fmt.Errorf("clear %d delivered webhooks: %w", len(done), err)
		}
	}
	if len(retry.EventIds) > 0 {
		if err := s.q.RescheduleWebhookEvents(ctx, retry); err != nil {
			return fmt.Errorf("reschedule %d webhooks: %w", len(retry.EventIds), err)
		}
	}
	return nil
}

// retryAfter is the wait after an event's attempt-th failed attempt: first
// doubling to max, jittered by ±20 % so that the events of one outage do not
// all come back at once.
func retryAfter(attempt int, first, max time.Duration) time.Duration {
	d := first
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// updateBreaker applies a batch's attempts to the endpoint's breaker: a
// success closes it; failures without a success add up, and
// BreakerFailures of them (or a failed probe) open it, for longer each time
// it opens again. Opening and closing are logged.
func (s *Service) updateBreaker(ctx context.Context, merchantID int64, b *breaker, outs []outcome) error {
	o := s.opts.Dispatch
	var ok, failed int32
	var lastErr string
	for _, x := range outs {
		switch {
		case x.delivered:
			ok++
		case x.attempted:
			failed++
			lastErr = x.record.Error
			if lastErr == "" {
				lastErr = fmt.Sprintf("HTTP %d", x.record.StatusCode)
			}
		}
	}
	prev := *b
	switch {
	case ok > 0:
		if b.state != EndpointClosed {
			s.opts.Logger.Info("webhook endpoint recovered: circuit closed", "merchant_id", merchantID)
		}
		*b = breaker{state: EndpointClosed}
	case failed > 0:
		b.failures += failed
		b.lastError = lastErr
		if b.state == EndpointHalfOpen || b.failures >= int32(o.BreakerFailures) {
			b.opened++
			wait := o.BreakerOpen
			for i := int32(1); i < b.opened && wait < o.BreakerOpenMax; i++ {
				wait *= 2
			}
			wait = min(wait, o.BreakerOpenMax)
			b.state, b.openUntil = EndpointOpen, s.opts.Now().Add(wait)
			s.opts.Logger.Warn("webhook endpoint failing: circuit open", "merchant_id", merchantID, "failures", b.failures,
				"open_for", wait, "last_error", lastErr)
		}
	}
	if *b == prev {
		return nil
	}
	return s.saveBreaker(ctx, merchantID, *b)
}

// EndpointStatus is one merchant endpoint's delivery state, for /metrics.
type EndpointStatus struct {
	MerchantID int64
	Merchant   string // its code
	// Waiting events (due or retrying, not given up), and the age of the
	// oldest (0: none).
	Waiting int64
	Lag     time.Duration
	// State is the breaker's: EndpointClosed, EndpointOpen or EndpointHalfOpen.
	State string
}

// Backlog is the delivery state of every merchant endpoint with events
// waiting or a breaker on record.
func (s *Service) Backlog(ctx context.Context) ([]EndpointStatus, error) {
	rows, err := s.q.WebhookBacklog(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhook backlog: %w", err)
	}
	out := make([]EndpointStatus, len(rows))
	for i, r := range rows {
		out[i] = EndpointStatus{MerchantID: r.MerchantID, Merchant: r.Code, Waiting: r.Waiting,
			Lag: time.Duration(r.LagSeconds * float64(time.Second)), State: r.State}
	}
	return out, nil
}
