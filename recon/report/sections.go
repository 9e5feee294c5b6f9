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
	// name is the machine name: the JSON field of recon.Summary it shows.
	name string
	// title is what a person reads: the XLSX sheet's name and the CSV
	// section column's value.
	title   string
	columns []column
	// rows calls emit once per row, with one cell per column. The cells
	// slice is reused between calls.
	rows func(s *recon.Summary, emit func(cells []cell) error) error
}

// A column is the JSON field it shows (name), the header a person reads in
// CSV and XLSX, and, for XLSX, a width in characters.
type column struct {
	name   string
	header string
	width  float64
}

// sections are the sections of every report, in order.
var sections = []section{
	{
		name: "run", title: "Run",
		columns: []column{
			{"run_id", "Run", 10}, {"merchant", "Merchant", 20}, {"kind", "Kind", 10},
			{"provider_account", "Provider account", 24},
			{"window_start", "Window start (UTC)", 20}, {"window_end", "Window end (UTC)", 20}, {"status", "Status", 11},
			{"started_at", "Started (UTC)", 20}, {"finished_at", "Finished (UTC)", 20}, {"error", "Error", 50},
		},
		rows: runRows,
	},
	{
		name: "orders", title: "Orders",
		columns: []column{
			{"provider_account", "Provider account", 24}, {"provider", "Provider", 12}, {"currency", "Currency", 9},
			{"checked", "Orders checked", 15}, {"matched", "Matched", 10}, {"matched_amount", "Money moved (matched)", 22},
			{"unmatched", "Unmatched", 11}, {"unmatched_amount", "Amount unmatched (requested)", 28},
			{"repaired", "Repaired", 10}, {"fees_completed", "Fees completed", 15}, {"source", "Compared with", 14},
		},
		rows: orderRows,
	},
	{
		name: "discrepancies", title: "Discrepancies",
		columns: []column{
			{"provider_account", "Provider account", 24}, {"currency", "Currency", 9}, {"type", "Discrepancy type", 22},
			{"found", "Found", 8}, {"new", "New", 8}, {"auto_closed", "Auto-closed", 12},
			{"amount_delta", "Amount at stake", 20},
		},
		rows: discrepancyRows,
	},
	{
		name: "balances", title: "Balances",
		columns: []column{
			{"provider_account", "Provider account", 24}, {"currency", "Currency", 9},
			{"provider_balance", "Provider balance", 20}, {"ledger_balance", "Ledger balance", 20},
			{"in_flight", "In flight", 20}, {"difference", "Difference", 20},
			{"tolerance", "Tolerance", 16}, {"ok", "Within tolerance", 16},
		},
		rows: balanceRows,
	},
	{
		name: "ledger", title: "Ledger",
		columns: []column{{"ok", "Invariants hold", 16}, {"transfers", "Transfers", 12}, {"entries", "Entries", 12},
			{"violation", "Violation", 80}},
		rows: ledgerRows,
	},
	{
		name: "aging", title: "Aging",
		columns: []column{
			{"provider_account", "Provider account", 24}, {"currency", "Currency", 9}, {"age", "Age", 8},
			{"count", "Open items", 11}, {"amount_at_stake", "Amount at stake", 20},
		},
		rows: agingRows,
	},
	{
		name: "open_items", title: "Open items",
		columns: []column{
			{"discrepancy_id", "Discrepancy", 12}, {"type", "Type", 22}, {"severity", "Severity", 10},
			{"provider_account", "Provider account", 24}, {"order_id", "Order", 10}, {"order_no", "Order no.", 24},
			{"currency", "Currency", 9}, {"amount_delta", "Amount at stake", 20},
			{"first_seen_at", "First seen (UTC)", 20}, {"age", "Age", 8}, {"summary", "Summary", 60},
		},
		rows: openItemRows,
	},
	{
		name: "findings", title: "Findings",
		columns: []column{
			{"discrepancy_id", "Discrepancy", 12}, {"type", "Type", 22}, {"severity", "Severity", 10},
			{"status", "Status", 12}, {"provider_account", "Provider account", 24}, {"order_id", "Order", 10},
			{"order_no", "Order no.", 24}, {"currency", "Currency", 9},
			{"expected", "Expected (tally)", 20}, {"actual", "Actual (provider)", 20}, {"amount_delta", "Amount at stake", 20},
			{"summary", "Summary", 60}, {"new", "New", 6}, {"auto_closed", "Auto-closed", 12}, {"repaired", "Repaired", 10},
		},
		rows: findingRows,
	},
	{
		name: "notes", title: "Notes",
		columns: []column{{"note", "Note", 100}},
		rows:    noteRows,
	},
}

// agingRows writes one row per provider account, currency and age bucket.
func agingRows(s *recon.Summary, emit func([]cell) error) error {
	row := make([]cell, 5)
	for _, a := range s.Aging {
		row = append(row[:0], textCell(a.ProviderAccount), textCell(a.Currency), textCell(a.Age),
			intCell(a.Count), amountCell(a.AmountAtStake, a.Currency))
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

// openItemRows writes one row per item open at the end of the day.
func openItemRows(s *recon.Summary, emit func([]cell) error) error {
	row := make([]cell, 11)
	for _, o := range s.OpenItems {
		row = append(row[:0], intCell(o.DiscrepancyID), textCell(o.Type), textCell(o.Severity),
			textCell(o.ProviderAccount), optionalIntCell(o.OrderID), textCell(o.OrderNo), textCell(o.Currency),
			amountCell(o.AmountDelta, o.Currency), timeCell(o.FirstSeenAt), textCell(o.Age), textCell(o.Summary))
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
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
	t        time.Time       // timeKind, in UTC
}

type cellKind uint8

const (
	textKind   cellKind = iota
	intKind             // a count or an id, exact in int64
	amountKind          // money: a decimal, never a float
	boolKind
	emptyKind // no value (an order id of 0: no order)
	timeKind  // an instant: RFC 3339 text in CSV, a date cell in XLSX
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

// timeCell is an instant: RFC 3339 text in UTC with as many fractional digits
// as needed in CSV, a date cell (UTC) in XLSX; empty for the zero time (a run
// not finished yet).
func timeCell(t time.Time) cell {
	if t.IsZero() {
		return cell{kind: emptyKind}
	}
	return cell{kind: timeKind, t: t.UTC(), text: t.UTC().Format(time.RFC3339Nano)}
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
