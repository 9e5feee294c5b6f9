package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// ErrBadWindow is a statement window whose start is not before its end.
var ErrBadWindow = errors.New("statement window must start before it ends")

// statementColumns is tally's statement header (package recon/statement, which
// this package cannot import: recon depends on providers, not the reverse).
// recon/statement's tests read what WriteStatement writes, so the two stay in
// step.
var statementColumns = []string{
	"order_no", "provider_order_id", "kind", "status", "amount", "fee", "currency", "settled_at", "part_id", "requested",
}

// StatementLine is one line of a provider's settlement statement.
type StatementLine struct {
	OrderNo         string              `json:"order_no,omitempty"`
	ProviderOrderID string              `json:"provider_order_id"`
	Kind            providers.OrderKind `json:"kind"`
	Status          providers.Status    `json:"status"`
	// Amount is the gross amount the line settles.
	Amount decimal.Decimal `json:"amount"`
	// Fee is the provider's fee; invalid (a blank column) when the line states none.
	Fee       decimal.NullDecimal `json:"fee"`
	Currency  string              `json:"currency"`
	SettledAt time.Time           `json:"settled_at"`
	PartID    string              `json:"part_id,omitempty"`
	// Requested is what the order asked for, in Currency.
	Requested decimal.NullDecimal `json:"requested"`
}

// Statement returns the settlement statement of a merchant for the window
// [from, to), what a provider's settlement file would list, ordered by
// settlement time, provider order id and part id:
//
//   - a succeeded or reversed order settled in the window (Order.SettledAt): one
//     line with its current status, the gross amount paid, and the fee;
//   - an order settled in parts: one line per part settled in the window, with
//     the part's id, amount and time and the order's current status; the fee is
//     stated on the part that completed the order and blank on the others;
//   - a failed or expired order that ended in the window: its status and the
//     requested amount, no fee;
//   - a deposit that arrived without an order: no order number, the provider's
//     order id as on every line.
//
// Open orders (pending, or processing with no part settled) and the
// merchant's own currency exchanges are not listed.
func (e *Engine) Statement(merchantID string, from, to time.Time) ([]StatementLine, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("window [%s, %s): %w", from.Format(time.RFC3339), to.Format(time.RFC3339), ErrBadWindow)
	}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.merchants[merchantID]; !ok {
		return nil, fmt.Errorf("merchant %q: %w", merchantID, ErrUnknownMerchant)
	}
	var lines []StatementLine
	for _, o := range e.orders {
		if o.MerchantID != merchantID || (o.Kind != providers.KindDeposit && o.Kind != providers.KindPayout) {
			continue
		}
		base := StatementLine{OrderNo: o.OrderNo, ProviderOrderID: o.ID, Kind: o.Kind, Status: o.Status, Currency: o.Currency}
		if o.Amount.IsPositive() && o.Kind == providers.KindDeposit && o.OrderNo != "" {
			base.Requested = decimal.NewNullDecimal(o.Amount)
		}
		switch {
		case o.Status == providers.StatusFailed || o.Status == providers.StatusExpired:
			if in(o.SettledAt) {
				l := base
				l.Amount, l.SettledAt = o.Amount, o.SettledAt
				lines = append(lines, l)
			}
		case len(o.Parts) > 0:
			done := decimal.Zero
			for _, p := range o.Parts {
				done = done.Add(p.Amount)
				if !in(p.SettledAt) {
					continue
				}
				l := base
				l.Amount, l.SettledAt, l.PartID = p.Amount, p.SettledAt, p.ID
				if done.Equal(o.Amount) {
					l.Fee = decimal.NullDecimal{Decimal: o.Fee, Valid: true}
				}
				lines = append(lines, l)
			}
		case o.Status == providers.StatusSucceeded || o.Status == providers.StatusReversed:
			if in(o.SettledAt) {
				l := base
				l.Amount, l.SettledAt = o.Paid, o.SettledAt
				if !l.Amount.IsPositive() {
					l.Amount = o.Amount
				}
				l.Fee = decimal.NullDecimal{Decimal: o.Fee, Valid: true}
				lines = append(lines, l)
			}
		}
	}
	sort.Slice(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if !a.SettledAt.Equal(b.SettledAt) {
			return a.SettledAt.Before(b.SettledAt)
		}
		if a.ProviderOrderID != b.ProviderOrderID {
			return a.ProviderOrderID < b.ProviderOrderID
		}
		return a.PartID < b.PartID
	})
	return lines, nil
}

// WriteStatement writes the merchant's statement for [from, to) (see
// Statement) as CSV in tally's statement format (package recon/statement):
// a header, then one row per line, decimals at their own scale, times in
// RFC 3339 UTC, a blank fee where none is stated. Nothing is written when the
// merchant is unknown or the window is empty.
func (e *Engine) WriteStatement(w io.Writer, merchantID string, from, to time.Time) error {
	lines, err := e.Statement(merchantID, from, to)
	if err != nil {
		return fmt.Errorf("statement of %s: %w", e.opts.Provider, err)
	}
	if err := writeStatementLines(w, lines); err != nil {
		return fmt.Errorf("statement of %s: %w", e.opts.Provider, err)
	}
	return nil
}

// writeStatementLines writes the header and lines as CSV.
func writeStatementLines(w io.Writer, lines []StatementLine) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(statementColumns); err != nil {
		return err
	}
	record := make([]string, len(statementColumns))
	for _, l := range lines {
		record[0], record[1], record[2], record[3] = l.OrderNo, l.ProviderOrderID, string(l.Kind), string(l.Status)
		record[4], record[5], record[6] = plainDecimal(l.Amount), "", l.Currency
		if l.Fee.Valid {
			record[5] = plainDecimal(l.Fee.Decimal)
		}
		record[7], record[8], record[9] = l.SettledAt.UTC().Format(time.RFC3339Nano), l.PartID, ""
		if l.Requested.Valid {
			record[9] = plainDecimal(l.Requested.Decimal)
		}
		if err := cw.Write(record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// plainDecimal writes d at its own scale without an exponent ("99.90").
func plainDecimal(d decimal.Decimal) string {
	if d.Exponent() < 0 {
		return d.StringFixed(-d.Exponent())
	}
	return d.String()
}

// serveStatement answers GET /statement?merchant_id=...&from=RFC3339&to=RFC3339
// with the statement as text/csv.
func (e *Engine) serveStatement(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	merchantID := q.Get("merchant_id")
	if merchantID == "" {
		writeError(w, http.StatusBadRequest, errors.New("merchant_id is required"))
		return
	}
	var window [2]time.Time
	for i, name := range []string{"from", "to"} {
		t, err := time.Parse(time.RFC3339Nano, q.Get(name))
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("%s must be an RFC 3339 time: %w", name, err))
			return
		}
		window[i] = t
	}
	lines, err := e.Statement(merchantID, window[0], window[1])
	switch {
	case errors.Is(err, ErrBadWindow):
		writeError(w, http.StatusBadRequest, err)
		return
	case err != nil:
		reply(w, nil, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	if err := writeStatementLines(w, lines); err != nil {
		e.opts.Logger.Warn("simulator statement", "provider", e.opts.Provider, "merchant_id", merchantID, "error", err)
	}
}
