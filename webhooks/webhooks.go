// Package webhooks tells merchant systems of their orders: every order event
// the order pipeline queues a notify_merchant job for is POSTed, signed
// (Sign, Verify), to the merchant's webhook URL, and every attempt is
// recorded (the webhook_deliveries table) for the merchant to list. The
// order and its event are read through package orders; the merchant's URL
// and secret through package merchants.
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/db/webhooksdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/egress"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
)

// Options configure a Service.
type Options struct {
	// Egress is the policy every webhook passes (package egress); nil is
	// egress.Default(): public addresses only.
	Egress *egress.Policy
	// Timeout bounds a webhook; default 10s.
	Timeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock the signatures carry; default time.Now.
	Now func() time.Time
	// Dispatch tunes the per-merchant dispatcher (dispatch.go).
	Dispatch DispatchOptions
}

// Service delivers merchant webhooks.
type Service struct {
	q         *webhooksdb.Queries
	orders    *orders.Service
	merchants *merchants.Service
	opts      Options
	// client makes every webhook, under opts.Egress: no address it refuses,
	// no redirect followed.
	client *http.Client

	mu    sync.Mutex
	hooks map[int64]target // by merchant id
}

// New returns a Service.
func New(pool *pgxpool.Pool, o *orders.Service, m *merchants.Service, opts Options) *Service {
	if opts.Egress == nil {
		opts.Egress = egress.Default()
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Dispatch = opts.Dispatch.withDefaults()
	// One client for every delivery, under the egress policy, keeping a
	// merchant's connections open for the dispatcher's next batch.
	tr := opts.Egress.Transport()
	tr.MaxIdleConnsPerHost = 2 * opts.Dispatch.Concurrency
	tr.MaxIdleConns = max(tr.MaxIdleConns, 1024)
	client := &http.Client{Transport: tr, Timeout: opts.Timeout, CheckRedirect: egress.NoRedirect}
	return &Service{q: webhooksdb.New(pool), orders: o, merchants: m, opts: opts, client: client,
		hooks: map[int64]target{}}
}

// SignatureHeader carries the signature of a merchant webhook:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the webhook secret>".
// During a secret rotation's overlap window it carries one v1= per secret,
// the new secret's first: "t=<unix>,v1=<new>,v1=<old>"; Verify accepts the
// header when any of them matches.
const SignatureHeader = "Tally-Signature"

// Event is the body of a merchant webhook: the order as it is now and the
// status change that caused the webhook.
type Event struct {
	ID         int64        `json:"id"`
	Type       string       `json:"type"` // "order.<status>", or "order.disputed"
	FromStatus string       `json:"from_status"`
	ToStatus   string       `json:"to_status"`
	OccurredAt time.Time    `json:"occurred_at"`
	Order      orders.Order `json:"order"`
	// ProviderSays and Dispute are set on an order.disputed webhook: the
	// provider now states ProviderSays about an order whose final status
	// (ToStatus) tally keeps; a discrepancy is open for an accountant.
	ProviderSays string `json:"provider_says,omitempty"`
	Dispute      string `json:"dispute,omitempty"`
}

// ErrNotAcknowledged: the merchant's endpoint did not answer 2xx; the job
// retries.
var ErrNotAcknowledged = errors.New("merchant webhook not acknowledged")

// DiscrepancyEvent is the body of a discrepancy.opened or
// discrepancy.resolved webhook: Discrepancy is the object GET
// /v1/discrepancies/{id} answers (its "discrepancy"), as it was when the
// event occurred.
type DiscrepancyEvent struct {
	ID          int64           `json:"id"`
	Type        string          `json:"type"` // "discrepancy.opened" or "discrepancy.resolved"
	OccurredAt  time.Time       `json:"occurred_at"`
	Discrepancy json.RawMessage `json:"discrepancy"`
}

// DiscrepancyChangedTx writes, in the transaction that opens or closes a
// discrepancy, the merchant's discrepancy.opened or discrepancy.resolved
// event and queues its delivery, when the merchant has a webhook URL and
// subscribes to that kind (merchants.Merchant.WebhookEvents). A discrepancy
// about no merchant is nobody's to hear of. It implements
// discrepancies.Notifier.
func (s *Service) DiscrepancyChangedTx(ctx context.Context, tx pgx.Tx, change string, d discrepancies.Discrepancy) error {
	if d.MerchantID == 0 {
		return nil
	}
	kind := "discrepancy." + change
	// Read in tx: a second connection while tx holds one could wait forever
	// on a pool whose every connection is such a transaction's.
	q := s.q.WithTx(tx)
	m, err := q.MerchantWebhookEvents(ctx, d.MerchantID)
	if err != nil {
		return fmt.Errorf("webhook subscriptions of merchant %d: %w", d.MerchantID, err)
	}
	if m.WebhookUrl == "" || !slices.Contains(m.WebhookEvents, kind) {
		return nil
	}
	// Encoded as the API encodes its answers (writeJSON: no HTML escaping).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("webhook event %s of discrepancy %d: %w", kind, d.ID, err)
	}
	id, err := q.InsertWebhookEvent(ctx, webhooksdb.InsertWebhookEventParams{MerchantID: d.MerchantID, Type: kind,
		DiscrepancyID: d.ID, Payload: bytes.TrimSpace(buf.Bytes())})
	if err != nil {
		return fmt.Errorf("webhook event %s of discrepancy %d: %w", kind, d.ID, err)
	}
	return EnqueueTx(ctx, tx, orders.Notice{EventID: id, MerchantID: d.MerchantID})
}

// notifyEvent sends the merchant the signed webhook of one of this
// package's events (a discrepancy's) and records the attempt, like Notify.
func (s *Service) notifyEvent(ctx context.Context, eventID int64, attempt int) error {
	ev, err := s.q.WebhookEventByID(ctx, eventID)
	if err != nil {
		return fmt.Errorf("webhook event %d: %w", eventID, err)
	}
	hook, err := s.target(ctx, ev.MerchantID)
	if err != nil {
		return err
	}
	if hook.merchant.WebhookURL == "" {
		return nil
	}
	body, err := json.Marshal(DiscrepancyEvent{ID: ev.ID, Type: ev.Type, OccurredAt: ev.CreatedAt, Discrepancy: ev.Payload})
	if err != nil {
		return fmt.Errorf("webhook body: %w", err)
	}
	return s.post(ctx, hook, 0, ev.ID, attempt, body)
}

// Notify sends the merchant the signed webhook for one order event (orderID
// 0: for one of this package's events, a discrepancy's) and records the
// attempt. A merchant without a webhook URL is skipped. A non-2xx answer or a
// network failure is an error, so that the job retries with backoff.
func (s *Service) Notify(ctx context.Context, orderID, eventID int64, attempt int) error {
	if orderID == 0 {
		return s.notifyEvent(ctx, eventID, attempt)
	}
	ev, err := s.orders.Event(ctx, eventID)
	if err != nil {
		return err
	}
	hook, err := s.target(ctx, ev.MerchantID)
	if err != nil {
		return err
	}
	m := hook.merchant
	if m.WebhookURL == "" {
		return nil
	}
	o, err := s.orders.Get(ctx, 0, orderID)
	if err != nil {
		return err
	}
	body, err := orderEventBody(ev, o)
	if err != nil {
		return err
	}
	return s.post(ctx, hook, orderID, ev.ID, attempt, body)
}

// post makes one signed attempt of an event's webhook (orderID 0: about no
// order) and records it; an answer other than 2xx, or none, is an error
// wrapping ErrNotAcknowledged.
func (s *Service) post(ctx context.Context, hook target, orderID, eventID int64, attempt int, body []byte) error {
	d, err := s.attempt(ctx, hook, orderID, eventID, attempt, body)
	if _, rerr := s.q.InsertWebhookDelivery(ctx, webhooksdb.InsertWebhookDeliveryParams(d)); rerr != nil {
		s.opts.Logger.Warn("record webhook delivery", "event_id", eventID, "error", rerr)
	}
	return err
}

// attempt makes one signed attempt of an event's webhook and returns its
// record (not stored); an answer other than 2xx, or none, is an error
// wrapping ErrNotAcknowledged.
func (s *Service) attempt(ctx context.Context, hook target, orderID, eventID int64, attempt int, body []byte) (webhooksdb.InsertWebhookDeliveriesParams, error) {
	m := hook.merchant
	now := s.opts.Now()
	d := webhooksdb.InsertWebhookDeliveriesParams{MerchantID: m.ID, EventID: eventID, Url: m.WebhookURL, Attempt: int32(attempt)}
	if orderID != 0 {
		d.OrderID = &orderID
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.WebhookURL, bytes.NewReader(body))
	if err != nil {
		d.Error = "invalid_url: the webhook URL cannot be requested"
		return d, fmt.Errorf("webhook request: %w: %v", ErrNotAcknowledged, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, SignAll(hook.secrets.Signing(now), now, body))
	req.Header.Set("Tally-Event-Id", strconv.FormatInt(eventID, 10))
	// The webhook client is under the egress policy and follows no redirect:
	// a 3xx is a failed attempt, never the signed event sent elsewhere.
	start := time.Now()
	resp, err := s.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		d.StatusCode = int32(resp.StatusCode)
		d.Delivered = resp.StatusCode >= 200 && resp.StatusCode < 300
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			d.Error = redirectError
		}
	} else {
		d.Error = attemptError(err)
		s.opts.Logger.Debug("webhook attempt failed", "merchant_id", m.ID, "event_id", eventID, "error", err)
	}
	d.DurationMs = int32(time.Since(start).Milliseconds())
	if err != nil {
		return d, fmt.Errorf("webhook for event %d: %w: %v", eventID, ErrNotAcknowledged, err)
	}
	if !d.Delivered {
		return d, fmt.Errorf("webhook for event %d: %w: HTTP %d", eventID, ErrNotAcknowledged, resp.StatusCode)
	}
	return d, nil
}

// orderEventBody is the webhook body of an order event: the order as it is
// now and the status change.
func orderEventBody(ev orders.TimelineEntry, o orders.Order) ([]byte, error) {
	we := Event{ID: ev.ID, Type: "order." + ev.ToStatus, FromStatus: ev.FromStatus, ToStatus: ev.ToStatus, OccurredAt: ev.At, Order: o}
	var disputed struct {
		Disputed string `json:"disputed"`
		Dispute  string `json:"dispute"`
	}
	if json.Unmarshal(ev.Detail, &disputed) == nil && disputed.Disputed != "" {
		// The provider contradicts a final status tally keeps: the merchant
		// hears what the provider now says.
		we.Type, we.ProviderSays, we.Dispute = "order.disputed", disputed.Disputed, disputed.Dispute
	}
	body, err := json.Marshal(we)
	if err != nil {
		return nil, fmt.Errorf("webhook body: %w", err)
	}
	return body, nil
}

// redirectError is what a delivery answered with a redirect says.
const redirectError = "redirect_not_followed: the endpoint answered with a redirect, which tally does not follow; set the webhook URL to the final address"

// attemptError is what a merchant reads of a webhook attempt that got no
// answer: a code and tally's own words, never the network error's text
// (which names addresses inside tally's network).
func attemptError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, egress.ErrRefused):
		return "egress_refused: the webhook URL leads to an address this tally does not call (its egress policy)"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout: the endpoint did not answer in time"
	}
	return "unreachable: the endpoint could not be reached"
}

// target is where and with what secret a merchant's webhooks go, kept for
// merchants.AccountTTL like provider accounts: every webhook needs it, and
// reading it was two queries and an AES-GCM open each time. A new URL or
// secret takes effect within merchants.AccountTTL.
type target struct {
	merchant merchants.Merchant
	secrets  merchants.WebhookSecrets // zero without a webhook URL
	read     time.Time
}

func (s *Service) target(ctx context.Context, merchantID int64) (target, error) {
	s.mu.Lock()
	t, ok := s.hooks[merchantID]
	s.mu.Unlock()
	if ok && time.Since(t.read) < merchants.AccountTTL {
		return t, nil
	}
	m, err := s.merchants.MerchantByID(ctx, merchantID)
	if err != nil {
		return target{}, err
	}
	t = target{merchant: m, read: time.Now()}
	if m.WebhookURL != "" {
		if t.secrets, err = s.merchants.WebhookSecrets(ctx, m.ID); err != nil {
			return target{}, err
		}
	}
	s.mu.Lock()
	s.hooks[merchantID] = t
	s.mu.Unlock()
	return t, nil
}

// Sign is the Tally-Signature value for body sent at t, under one secret.
func Sign(secret string, t time.Time, body []byte) string {
	return SignAll([]string{secret}, t, body)
}

// SignAll is the Tally-Signature value for body sent at t under each secret
// in turn: "t=<unix>,v1=<hex>[,v1=<hex>...]" (a rotation's overlap window
// signs under the new secret and the old one).
func SignAll(secrets []string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, secret := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(secret, ts, body)))
	}
	return b.String()
}

// mac is HMAC-SHA256 of "<ts>.<body>" under secret.
func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Errors Verify returns.
var (
	// ErrMalformedSignature: the header has no timestamp or no v1= signature.
	ErrMalformedSignature = errors.New("malformed signature header")
	// ErrSignatureTooOld: the timestamp is outside the tolerance (a replay).
	ErrSignatureTooOld = errors.New("signature timestamp outside the tolerance")
	// ErrSignatureMismatch: no v1= signature is the body's under the secret.
	ErrSignatureMismatch = errors.New("signature does not match")
)

// Verify checks a Tally-Signature header against body under secret,
// refusing signatures older than tolerance (replays). The header is good
// when any of its v1= signatures matches: during a rotation's overlap window
// tally signs under both secrets, so an endpoint holding either verifies.
// Merchants use the same rule.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	t := time.Unix(sec, 0)
	if d := now.Sub(t); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s, tolerance %s", ErrSignatureTooOld, t.UTC().Format(time.RFC3339), tolerance)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, sig := range sigs {
		got, err := hex.DecodeString(sig)
		// Every signature is compared, in constant time: how many there are
		// and which matched tell an attacker nothing.
		if err == nil && hmac.Equal(want, got) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	return nil
}

// Delivery is one recorded webhook attempt.
type Delivery struct {
	ID         int64     `json:"id"`
	OrderID    int64     `json:"order_id,omitempty"` // left out for a discrepancy event
	EventID    int64     `json:"event_id"`
	URL        string    `json:"url"`
	Attempt    int32     `json:"attempt"`
	StatusCode int32     `json:"status_code"`
	Error      string    `json:"error,omitempty"`
	DurationMS int32     `json:"duration_ms"`
	Delivered  bool      `json:"delivered"`
	At         time.Time `json:"at"`
}

// Deliveries lists a merchant's webhook attempts, newest first; orderID > 0
// narrows to one order.
func (s *Service) Deliveries(ctx context.Context, merchantID, orderID, beforeID int64, limit int32) ([]Delivery, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	p := webhooksdb.ListWebhookDeliveriesParams{MerchantID: merchantID, RowLimit: limit}
	if orderID > 0 {
		p.OrderID = &orderID
	}
	if beforeID > 0 {
		p.BeforeID = &beforeID
	}
	rows, err := s.q.ListWebhookDeliveries(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	out := make([]Delivery, len(rows))
	for i, r := range rows {
		out[i] = Delivery{ID: r.ID, OrderID: deref(r.OrderID), EventID: r.EventID, URL: r.Url, Attempt: r.Attempt, StatusCode: r.StatusCode,
			Error: r.Error, DurationMS: r.DurationMs, Delivered: r.Delivered, At: r.CreatedAt}
	}
	return out, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
