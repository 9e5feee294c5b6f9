package report

import (
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/recon"
)

// A section is one table of a report: a CSV block and an XLSX sheet. The CSV
// and XLSX writers share these definitions, so the two always have the same
// columns in the same order.
type section struct {
	name    string
	columns []column
	// rows calls emit once per row, with one cell per column. The cells
	// slice is reused between calls.
	rows func(s *recon.Summary, emit func(cells []cell) error) error
}

// A column is a header and, for XLSX, a width in characters.
type column struct {
	name  string
	width float64
}

// sections are the sections of every report, in order.
var sections = []section{
	{
		name: "run",
		columns: []column{
			{"run_id", 10}, {"merchant", 20}, {"kind", 10}, {"provider_account", 24},
			{"window_start", 30}, {"window_end", 30}, {"status", 11},
			{"started_at", 30}, {"finished_at", 30}, {"error", 50},
		},
		rows: runRows,
	},
	{
		name: "orders",
		columns: []column{
			{"provider_account", 24}, {"provider", 12}, {"currency", 9},
			{"checked", 10}, {"matched", 10}, {"matched_amount", 20},
			{"unmatched", 10}, {"unmatched_amount", 20}, {"repaired", 10}, {"fees_completed", 15}, {"source", 10},
		},
		rows: orderRows,
	},
	{
		name: "discrepancies",
		columns: []column{
			{"provider_account", 24}, {"currency", 9}, {"type", 22},
			{"found", 8}, {"new", 8}, {"auto_closed", 12}, {"amount_delta", 20},
		},
		rows: discrepancyRows,
	},
	{
		name: "balances",
		columns: []column{
			{"provider_account", 24}, {"currency", 9}, {"provider_balance", 20},
			{"ledger_balance", 20}, {"in_flight", 20}, {"difference", 20},
			{"tolerance", 16}, {"ok", 6},
		},
		rows: balanceRows,
	},
	{
		name:    "ledger",
		columns: []column{{"ok", 6}, {"transfers", 12}, {"entries", 12}, {"violation", 80}},
		rows:    ledgerRows,
	},
	{
		name: "findings",
		columns: []column{
			{"discrepancy_id", 14}, {"type", 22}, {"severity", 10}, {"status", 12},
			{"provider_account", 24}, {"order_id", 10}, {"order_no", 24}, {"currency", 9},
			{"expected", 24}, {"actual", 24}, {"amount_delta", 20}, {"summary", 60},
			{"new", 6}, {"auto_closed", 12}, {"repaired", 10},
		},
		rows: findingRows,
	},
	{
		name:    "notes",
		columns: []column{{"note", 100}},
		rows:    noteRows,
	},
}

// noteRows writes what the run could not check or a day's report left out,
// one note a row.
func noteRows(s *recon.Summary, emit func([]cell) error) error {
	for _, n := range s.Notes {
		if err := emit([]cell{textCell(n)}); err != nil {
			return err
		}
	}
	return nil
}

func runRows(s *recon.Summary, emit func([]cell) error) error {
	return emit([]cell{
		intCell(s.RunID), textCell(s.Merchant), textCell(string(s.Kind)), textCell(s.ProviderAccount),
		timeCell(s.WindowStart), timeCell(s.WindowEnd), textCell(string(s.Status)),
		timeCell(s.StartedAt), timeCell(s.FinishedAt), textCell(s.Error),
	})
}

func orderRows(s *recon.Summary, emit func([]cell) error) error {
	row := make([]cell, 11)
	for _, o := range s.Orders {
		row = append(row[:0],
			textCell(o.ProviderAccount), textCell(o.Provider), textCell(o.Currency),
			intCell(o.Checked), intCell(o.Matched), amountCell(o.MatchedAmount, o.Currency),
			intCell(o.Unmatched), amountCell(o.UnmatchedAmount, o.Currency),
			intCell(o.Repaired), intCell(o.FeesCompleted), textCell(o.Source))
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

func discrepancyRows(s *recon.Summary, emit func([]cell) error) error {
	row := make([]cell, 7)
	for _, d := range s.Discrepancies {
		row = append(row[:0],
			textCell(d.ProviderAccount), textCell(d.Currency), textCell(d.Type),
			intCell(d.Found), intCell(d.New), intCell(d.AutoClosed),
			amountCell(d.AmountDelta, d.Currency))
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

func balanceRows(s *recon.Summary, emit func([]cell) error) error {
	row := make([]cell, 8)
	for _, b := range s.Balances {
		row = append(row[:0],
			textCell(b.ProviderAccount), textCell(b.Currency),
			amountCell(b.Provider, b.Currency), amountCell(b.Ledger, b.Currency),
			amountCell(b.InFlight, b.Currency), amountCell(b.Difference, b.Currency),
			amountCell(b.Tolerance, b.Currency), boolCell(b.OK))
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

// ledgerRows writes one row per violation, each repeating the check's
// figures, or a single row with an empty violation when there is none: every
// row stands on its own when the sheet is filtered.
func ledgerRows(s *recon.Summary, emit func([]cell) error) error {
	l := s.Ledger
	if len(l.Violations) == 0 {
		return emit([]cell{boolCell(l.OK), intCell(l.Transfers), intCell(l.Entries), textCell("")})
	}
	row := make([]cell, 4)
	for _, v := range l.Violations {
		row = append(row[:0], boolCell(l.OK), intCell(l.Transfers), intCell(l.Entries), textCell(v))
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

func findingRows(s *recon.Summary, emit func([]cell) error) error {
	row := make([]cell, 15)
	for _, f := range s.Findings {
		row = append(row[:0],
			intCell(f.DiscrepancyID), textCell(f.Type), textCell(f.Severity), textCell(f.Status),
			textCell(f.ProviderAccount), optionalIntCell(f.OrderID), textCell(f.OrderNo),
			textCell(f.Currency), textCell(f.Expected), textCell(f.Actual),
			amountCell(f.AmountDelta, f.Currency), textCell(f.Summary),
			boolCell(f.New), boolCell(f.AutoClosed), boolCell(f.Repaired))
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

// A cell is one value of a row, typed so that XLSX can write numbers as
// numbers while CSV writes every cell as text.
type cell struct {
	kind     cellKind
	text     string          // textKind and timeKind: the text; boolKind: "true" or "false"
	n        int64           // intKind
	b        bool            // boolKind
	amount   decimal.Decimal // amountKind
	currency string          // amountKind: picks the number of decimals shown
}

type cellKind uint8

const (
	textKind   cellKind = iota
	intKind             // a count or an id, exact in int64
	amountKind          // money: a decimal, never a float
	boolKind
	emptyKind // no value (an order id of 0: no order)
)

func textCell(s string) cell { return cell{kind: textKind, text: s} }

func intCell(n int64) cell { return cell{kind: intKind, n: n} }

// optionalIntCell is empty for 0, which the JSON form omits too.
func optionalIntCell(n int64) cell {
	if n == 0 {
		return cell{kind: emptyKind}
	}
	return intCell(n)
}

func boolCell(b bool) cell { return cell{kind: boolKind, b: b, text: strconv.FormatBool(b)} }

func amountCell(d decimal.Decimal, currency string) cell {
	return cell{kind: amountKind, amount: d, currency: currency}
}

// timeCell is RFC 3339 in UTC with as many fractional digits as needed, or
// empty for the zero time (a run not finished yet). Text rather than a
// spreadsheet date, so that the instant survives exactly.
func timeCell(t time.Time) cell {
	if t.IsZero() {
		return textCell("")
	}
	return textCell(t.UTC().Format(time.RFC3339Nano))
}

// csv is the cell as CSV text: amounts are plain decimal strings with their
// currency's number of decimals in cur ("100.00" CNY), or every digit they have
// when they have more or cur does not know the currency (a value is never
// rounded).
func (c cell) csv(cur Currencies) string {
	switch c.kind {
	case intKind:
		return strconv.FormatInt(c.n, 10)
	case amountKind:
		return formatAmount(c.amount, c.currency, cur)
	case emptyKind:
		return ""
	}
	return c.text
}

func formatAmount(d decimal.Decimal, currency string, cur Currencies) string {
	if scale, ok := cur.scale(currency); ok && d.Equal(d.Truncate(scale)) {
		return d.StringFixed(scale)
	}
	return d.String()
}
