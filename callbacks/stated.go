package callbacks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/db/callbacksdb"
	"github.com/tallyhq/tally/providers"
)

// maxShownBody bounds the redacted body Stated keeps.
const maxShownBody = 16 << 10

// Stated is one stored callback of an order as staff see it: what the
// provider stated (the event its adapter parses from it) and what tally did
// with it, with a body and a query from which every credential and signature
// field is dropped (providers.SensitiveField). It never holds the request's
// headers.
type Stated struct {
	ID             int64      `json:"id"`
	ReceivedAt     time.Time  `json:"received_at"`
	LastReceivedAt time.Time  `json:"last_received_at"`
	Deliveries     int32      `json:"deliveries"`
	Verdict        string     `json:"verdict"`
	Outcome        string     `json:"outcome"`
	Error          string     `json:"error,omitempty"`
	ProcessedAt    *time.Time `json:"processed_at,omitempty"`
	Method         string     `json:"method"`
	Path           string     `json:"path"`
	// Query and Body are the request's, without credential or signature
	// fields; Body is cut at 16 KiB.
	Query string `json:"query,omitempty"`
	Body  string `json:"body"`
	// Event is what the provider stated, as its adapter reads the stored
	// request now; nil with ParseError when it no longer parses (a rotated
	// secret, a rejected delivery).
	Event      *StatedEvent `json:"event,omitempty"`
	ParseError string       `json:"parse_error,omitempty"`
}

// StatedEvent is the part of a providers.Event an accountant compares: the
// provider's own figures and words (Remark redacted), never its raw payload.
type StatedEvent struct {
	Status          providers.Status    `json:"status"`
	ProviderStatus  string              `json:"provider_status"`
	ProviderOrderID string              `json:"provider_order_id"`
	OrderNo         string              `json:"order_no"`
	Requested       decimal.NullDecimal `json:"requested"`
	Paid            decimal.NullDecimal `json:"paid"`
	Credited        decimal.NullDecimal `json:"credited"`
	Fee             decimal.NullDecimal `json:"fee"`
	Currency        string              `json:"currency"`
	Reversed        bool                `json:"reversed"`
	TxHash          string              `json:"tx_hash,omitempty"`
	Remark          string              `json:"remark,omitempty"`
	Verified        bool                `json:"verified"`
	OccurredAt      time.Time           `json:"occurred_at"`
}

// ForOrder lists the callbacks stored for the merchant's order, oldest first
// (at most limit; 50 when limit <= 0), each parsed again by its provider
// account's adapter, for the staff's view of the evidence.
func (s *Service) ForOrder(ctx context.Context, merchantID, orderID int64, limit int) ([]Stated, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.q.CallbacksOfOrder(ctx, callbacksdb.CallbacksOfOrderParams{OrderID: &orderID, MerchantID: merchantID, RowLimit: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("callbacks of order %d: %w", orderID, err)
	}
	out := make([]Stated, len(rows))
	for i, in := range rows {
		st := Stated{ID: in.ID, ReceivedAt: in.ReceivedAt, LastReceivedAt: in.LastReceivedAt, Deliveries: in.Deliveries,
			Verdict: in.Verdict, Outcome: in.Outcome, Error: providers.Redact(in.Error), ProcessedAt: in.ProcessedAt,
			Method: in.Method, Path: in.Path, Query: redactForm(in.Query), Body: RedactBody(in.Body)}
		adapter, _, err := s.merchants.AdapterByID(ctx, in.ProviderAccountID)
		if err == nil {
			var ev *providers.Event
			if ev, err = adapter.ParseCallback(storedCallback(in)); err == nil {
				st.Event = statedEvent(ev)
			}
		}
		if err != nil {
			st.ParseError = providers.Redact(err.Error())
		}
		out[i] = st
	}
	return out, nil
}

func statedEvent(ev *providers.Event) *StatedEvent {
	return &StatedEvent{Status: ev.Status, ProviderStatus: ev.ProviderStatus, ProviderOrderID: ev.ProviderOrderID, OrderNo: ev.OrderNo,
		Requested: ev.Requested, Paid: ev.Paid, Credited: ev.Credited, Fee: ev.Fee, Currency: ev.Currency, Reversed: ev.Reversed,
		TxHash: ev.TxHash, Remark: providers.Redact(ev.Remark), Verified: ev.Verified, OccurredAt: ev.OccurredAt}
}

// RedactBody is a callback's body for people to read: a JSON body indented
// without its credential and signature members (at any depth), a form body
// without such parameters, anything else through providers.Redact; cut at
// 16 KiB, as valid UTF-8.
func RedactBody(body []byte) string {
	if len(body) > maxShownBody {
		body = body[:maxShownBody]
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			if b, err := json.MarshalIndent(dropSensitive(v), "", "  "); err == nil {
				return providers.Redact(string(b))
			}
		}
	}
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	if !utf8.ValidString(s) || strings.ContainsAny(s, "<{\n") {
		return providers.Redact(s)
	}
	return redactForm(s)
}

// dropSensitive removes credential and signature members from a decoded
// JSON value, at any depth.
func dropSensitive(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if providers.SensitiveField(k) {
				delete(x, k)
				continue
			}
			x[k] = dropSensitive(e)
		}
	case []any:
		for i, e := range x {
			x[i] = dropSensitive(e)
		}
	}
	return v
}

// redactForm drops the credential and signature parameters of a form or
// query string; what does not parse as one goes through providers.Redact.
func redactForm(s string) string {
	if s == "" {
		return ""
	}
	vals, err := url.ParseQuery(s)
	if err != nil {
		return providers.Redact(s)
	}
	for k := range vals {
		if providers.SensitiveField(k) {
			vals.Del(k)
		}
	}
	out, err := url.QueryUnescape(vals.Encode())
	if err != nil {
		out = vals.Encode()
	}
	return providers.Redact(out)
}
