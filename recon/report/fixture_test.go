package report_test

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/recon/report"
)

// currencies is what the reports of these tests are written with: the scales a
// migrated database gives the fixtures' currencies (ledger.TestCurrenciesMatchDatabase);
// XYZ is a currency the ledger does not know.
var currencies report.Currencies = func(code string) (ledger.Currency, bool) {
	c, ok := map[string]ledger.Currency{
		"CNY":  {Code: "CNY", Scale: 2, Kind: ledger.KindFiat},
		"USD":  {Code: "USD", Scale: 2, Kind: ledger.KindFiat},
		"JPY":  {Code: "JPY", Scale: 0, Kind: ledger.KindFiat},
		"USDT": {Code: "USDT", Scale: 8, Kind: ledger.KindCrypto},
		"BTC":  {Code: "BTC", Scale: 8, Kind: ledger.KindCrypto},
	}[code]
	return c, ok
}

type sectionColumns struct {
	section string   // the machine name, the JSON field
	sheet   string   // the title a person reads: the XLSX sheet, the CSV section column
	columns []string // the JSON field names, by which the tests key rows
	headers []string // what a person reads: the CSV and XLSX header rows
}

// wantColumns are the documented columns of each section, in order (the CSV
// header after "Section", the XLSX header row). Written out here rather than
// taken from the package, so that a changed column fails a test.
var wantColumns = []sectionColumns{
	{"run", "Run",
		[]string{"run_id", "merchant", "kind", "provider_account", "window_start", "window_end", "status", "started_at", "finished_at", "error"},
		[]string{"Run", "Merchant", "Kind", "Provider account", "Window start (UTC)", "Window end (UTC)", "Status", "Started (UTC)", "Finished (UTC)", "Error"}},
	{"orders", "Orders",
		[]string{"provider_account", "provider", "currency", "checked", "matched", "matched_amount", "unmatched", "unmatched_amount", "repaired", "fees_completed", "source"},
		[]string{"Provider account", "Provider", "Currency", "Orders checked", "Matched", "Money moved (matched)", "Unmatched", "Amount unmatched (requested)", "Repaired", "Fees completed", "Compared with"}},
	{"discrepancies", "Discrepancies",
		[]string{"provider_account", "currency", "type", "found", "new", "auto_closed", "amount_delta"},
		[]string{"Provider account", "Currency", "Discrepancy type", "Found", "New", "Auto-closed", "Amount at stake"}},
	{"balances", "Balances",
		[]string{"provider_account", "currency", "provider_balance", "ledger_balance", "in_flight", "difference", "tolerance", "ok"},
		[]string{"Provider account", "Currency", "Provider balance", "Ledger balance", "In flight", "Difference", "Tolerance", "Within tolerance"}},
	{"ledger", "Ledger",
		[]string{"ok", "transfers", "entries", "violation"},
		[]string{"Invariants hold", "Transfers", "Entries", "Violation"}},
	{"aging", "Aging",
		[]string{"provider_account", "currency", "age", "count", "amount_at_stake"},
		[]string{"Provider account", "Currency", "Age", "Open items", "Amount at stake"}},
	{"open_items", "Open items",
		[]string{"discrepancy_id", "type", "severity", "provider_account", "order_id", "order_no", "currency", "amount_delta", "first_seen_at", "age", "summary"},
		[]string{"Discrepancy", "Type", "Severity", "Provider account", "Order", "Order no.", "Currency", "Amount at stake", "First seen (UTC)", "Age", "Summary"}},
	{"findings", "Findings",
		[]string{"discrepancy_id", "type", "severity", "status", "provider_account", "order_id", "order_no", "currency", "expected", "actual", "amount_delta", "summary", "new", "auto_closed", "repaired"},
		[]string{"Discrepancy", "Type", "Severity", "Status", "Provider account", "Order", "Order no.", "Currency", "Expected (tally)", "Actual (provider)", "Amount at stake", "Summary", "New", "Auto-closed", "Repaired"}},
	{"notes", "Notes", []string{"note"}, []string{"Note"}},
}

// sectionByTitle finds a section by the title a person reads.
func sectionByTitle(title string) (sectionColumns, bool) {
	for _, wc := range wantColumns {
		if wc.sheet == title {
			return wc, true
		}
	}
	return sectionColumns{}, false
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// fullSummary has every section filled with the values that break naive
// exports: amounts a float cannot hold (0.1+0.2, 8-decimal BTC, 20-digit
// integers), negative deltas, an amount with more decimals than its
// currency, an unknown currency, unicode, and commas, quotes and newlines in
// text.
func fullSummary() recon.Summary {
	shanghai := time.FixedZone("CST", 8*3600)
	return recon.Summary{
		RunID:           9007199254740993, // 2^53+1: not a float64
		Merchant:        "商户·Acme, \"Ltd\"",
		Kind:            recon.KindFull,
		ProviderAccount: "",
		WindowStart:     time.Date(2026, 11, 21, 0, 0, 0, 0, shanghai),
		WindowEnd:       time.Date(2026, 11, 22, 0, 0, 0, 0, shanghai),
		Status:          recon.RunFailed,
		StartedAt:       time.Date(2026, 11, 22, 1, 2, 3, 123456789, time.UTC),
		FinishedAt:      time.Date(2026, 11, 22, 1, 7, 9, 0, time.UTC),
		Error:           "provider cxpay: timeout,\nretrying \"later\"",
		Orders: []recon.OrderLine{
			{ProviderAccount: "cxpay-main", Provider: "cxpay", Currency: "CNY", Checked: 1200, Matched: 1198,
				MatchedAmount: dec("0.1").Add(dec("0.2")), Unmatched: 2, UnmatchedAmount: dec("12345678901234567890"),
				Repaired: 1, FeesCompleted: 4, Source: "query"},
			{ProviderAccount: "btc-wallet", Provider: "cpay", Currency: "BTC", Checked: 3, Matched: 3,
				MatchedAmount: dec("0.00012345"), Unmatched: 0, UnmatchedAmount: dec("0"), Source: "statement"},
			{ProviderAccount: "usdt-tron", Provider: "usdtcnpay", Currency: "USDT", Checked: 10, Matched: 9,
				MatchedAmount: dec("1000.000001"), Unmatched: 1, UnmatchedAmount: dec("-0.5"), Source: "statement"},
		},
		Discrepancies: []recon.DiscrepancyLine{
			{ProviderAccount: "cxpay-main", Currency: "CNY", Type: "amount_mismatch", Found: 2, New: 1, AutoClosed: 0,
				AmountDelta: dec("-100.5")},
			{ProviderAccount: "btc-wallet", Currency: "BTC", Type: "unknown_order", Found: 1, New: 1, AutoClosed: 3,
				AmountDelta: dec("-0.00000001")},
		},
		Balances: []recon.BalanceLine{
			{ProviderAccount: "cxpay-main", Currency: "CNY", Provider: dec("1000000.00"), Ledger: dec("999999.99"),
				InFlight: dec("0.011"), Difference: dec("-0.001"), Tolerance: dec("0.01"), OK: true},
			{ProviderAccount: "odd", Currency: "XYZ", Provider: dec("1.23456789012345678901"), Ledger: dec("1"),
				InFlight: dec("0"), Difference: dec("0.23456789012345678901"), Tolerance: dec("0"), OK: false},
		},
		Ledger: recon.LedgerLine{OK: false, Transfers: 42, Entries: 84, Violations: []string{
			"account assets:provider:cxpay:CNY: sum 0.01 ≠ 0",
			"transfer 7: debits, credits \"unbalanced\"\nsecond line",
		}},
		Findings: []recon.Finding{
			{DiscrepancyID: 1, Type: "amount_mismatch", Severity: "high", Status: "open", ProviderAccount: "cxpay-main",
				OrderID: 77, OrderNo: "ORD-77", Currency: "CNY", Expected: "100.00", Actual: "99.50",
				AmountDelta: dec("-0.50"), Summary: "payer paid less, \"short\" by 0.50,\nsee ticket 🙂", New: true},
			{DiscrepancyID: 2, Type: "unknown_order", Severity: "medium", Status: "open", ProviderAccount: "btc-wallet",
				Currency: "BTC", AmountDelta: dec("0.00000001"), Summary: "訂單不存在 =SUM(A1)", Repaired: false, AutoClosed: true},
			{DiscrepancyID: 3, Type: "missing_callback", Severity: "low", Status: "auto_closed", ProviderAccount: "usdt-tron",
				OrderID: 9223372036854775807, OrderNo: " spaced ", Currency: "USDT", AmountDelta: dec("12345678901234567890.123456"),
				Summary: "", Repaired: true},
		},
		Notes: []string{"run 8 (2026-11-20 to 2026-11-22) reaches into another day, \"left out\"", "statement 3: 2 bad rows,\nskipped"},
		Aging: []recon.AgingLine{
			{ProviderAccount: "cxpay-main", Currency: "CNY", Age: recon.AgeUnder1Day, Count: 2, AmountAtStake: dec("100.5")},
			{ProviderAccount: "cxpay-main", Currency: "CNY", Age: recon.AgeOver30Day, Count: 1, AmountAtStake: dec("0.1").Add(dec("0.2"))},
			{ProviderAccount: "", Currency: "", Age: recon.Age1To7Days, Count: 1, AmountAtStake: dec("0")},
		},
		OpenItems: []recon.OpenItem{
			{DiscrepancyID: 5, Type: "amount_mismatch", Severity: "high", ProviderAccount: "cxpay-main", OrderID: 77, OrderNo: "ORD-77",
				Currency: "CNY", AmountDelta: dec("-100.5"), FirstSeenAt: time.Date(2026, 10, 1, 23, 59, 59, 0, time.UTC),
				Age: recon.AgeOver30Day, Summary: "payer paid less, \"short\""},
			{DiscrepancyID: 6, Type: "ledger_invariant", Severity: "critical", Currency: "", AmountDelta: dec("2"),
				FirstSeenAt: time.Date(2026, 11, 20, 12, 0, 0, 500_000_000, shanghai), Age: recon.Age1To7Days, Summary: "2 violations"},
		},
	}
}

// emptySummary has every list empty: each section must still be there, with
// its header and no rows (the run and ledger sections always have one).
func emptySummary() recon.Summary {
	return recon.Summary{
		RunID: 1, Merchant: "m", Kind: recon.KindOrders, ProviderAccount: "cxpay-main", Status: recon.RunRunning,
		WindowStart: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), WindowEnd: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		StartedAt: time.Date(2026, 1, 2, 0, 0, 1, 0, time.UTC),
		Ledger:    recon.LedgerLine{OK: true, Transfers: 0, Entries: 0},
	}
}

var fixtures = []struct {
	name    string
	summary func() recon.Summary
}{
	{"full", fullSummary},
	{"empty", emptySummary},
}

// requireSameSummary fails unless want and got hold the same values: decimals
// compared by value (1.50 = 1.5), times by instant, nil and empty slices
// alike. It walks every field, so a field added to recon.Summary is compared
// too.
func requireSameSummary(t *testing.T, want, got recon.Summary) {
	t.Helper()
	var diffs []string
	compareValues("Summary", reflect.ValueOf(want), reflect.ValueOf(got), &diffs)
	for _, d := range diffs {
		t.Error(d)
	}
}

var (
	decimalType = reflect.TypeFor[decimal.Decimal]()
	timeType    = reflect.TypeFor[time.Time]()
)

func compareValues(path string, want, got reflect.Value, diffs *[]string) {
	switch {
	case want.Type() == decimalType:
		w, g := want.Interface().(decimal.Decimal), got.Interface().(decimal.Decimal)
		if !w.Equal(g) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %s, want %s", path, g, w))
		}
	case want.Type() == timeType:
		w, g := want.Interface().(time.Time), got.Interface().(time.Time)
		if !w.Equal(g) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %v, want %v", path, g, w))
		}
	case want.Kind() == reflect.Struct:
		for i := range want.NumField() {
			compareValues(path+"."+want.Type().Field(i).Name, want.Field(i), got.Field(i), diffs)
		}
	case want.Kind() == reflect.Slice:
		if want.Len() != got.Len() {
			*diffs = append(*diffs, fmt.Sprintf("%s has %d elements, want %d", path, got.Len(), want.Len()))
			return
		}
		for i := range want.Len() {
			compareValues(path+"["+strconv.Itoa(i)+"]", want.Index(i), got.Index(i), diffs)
		}
	default:
		if !reflect.DeepEqual(want.Interface(), got.Interface()) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %#v, want %#v", path, got.Interface(), want.Interface()))
		}
	}
}

// summaryFromTables rebuilds a summary from the rows of each section, keyed
// by column name, as read back from a CSV or XLSX report. It accepts both
// formats' spellings of booleans (true/false, 1/0).
func summaryFromTables(t *testing.T, tables map[string][]map[string]string) recon.Summary {
	t.Helper()
	p := parser{t: t}
	var s recon.Summary
	run := tables["run"]
	if len(run) != 1 {
		t.Fatalf("run section has %d rows, want 1", len(run))
	}
	r := run[0]
	s.RunID = p.int(r["run_id"])
	s.Merchant = r["merchant"]
	s.Kind = recon.RunKind(r["kind"])
	s.ProviderAccount = r["provider_account"]
	s.WindowStart = p.time(r["window_start"])
	s.WindowEnd = p.time(r["window_end"])
	s.Status = recon.RunStatus(r["status"])
	s.StartedAt = p.time(r["started_at"])
	s.FinishedAt = p.time(r["finished_at"])
	s.Error = r["error"]
	for _, r := range tables["orders"] {
		s.Orders = append(s.Orders, recon.OrderLine{
			ProviderAccount: r["provider_account"], Provider: r["provider"], Currency: r["currency"],
			Checked: p.int(r["checked"]), Matched: p.int(r["matched"]), MatchedAmount: p.dec(r["matched_amount"]),
			Unmatched: p.int(r["unmatched"]), UnmatchedAmount: p.dec(r["unmatched_amount"]),
			Repaired: p.int(r["repaired"]), FeesCompleted: p.int(r["fees_completed"]), Source: r["source"],
		})
	}
	for _, r := range tables["discrepancies"] {
		s.Discrepancies = append(s.Discrepancies, recon.DiscrepancyLine{
			ProviderAccount: r["provider_account"], Currency: r["currency"], Type: r["type"],
			Found: p.int(r["found"]), New: p.int(r["new"]), AutoClosed: p.int(r["auto_closed"]),
			AmountDelta: p.dec(r["amount_delta"]),
		})
	}
	for _, r := range tables["balances"] {
		s.Balances = append(s.Balances, recon.BalanceLine{
			ProviderAccount: r["provider_account"], Currency: r["currency"],
			Provider: p.dec(r["provider_balance"]), Ledger: p.dec(r["ledger_balance"]),
			InFlight: p.dec(r["in_flight"]), Difference: p.dec(r["difference"]),
			Tolerance: p.dec(r["tolerance"]), OK: p.bool(r["ok"]),
		})
	}
	ledgerRows := tables["ledger"]
	if len(ledgerRows) == 0 {
		t.Fatal("ledger section has no row")
	}
	for i, r := range ledgerRows {
		line := recon.LedgerLine{OK: p.bool(r["ok"]), Transfers: p.int(r["transfers"]), Entries: p.int(r["entries"])}
		if i == 0 {
			s.Ledger = line
		} else if line.OK != s.Ledger.OK || line.Transfers != s.Ledger.Transfers || line.Entries != s.Ledger.Entries {
			t.Errorf("ledger row %d is %+v, first row %+v", i, line, s.Ledger)
		}
		if v := r["violation"]; v != "" || len(ledgerRows) > 1 {
			s.Ledger.Violations = append(s.Ledger.Violations, v)
		}
	}
	for _, r := range tables["aging"] {
		s.Aging = append(s.Aging, recon.AgingLine{ProviderAccount: r["provider_account"], Currency: r["currency"],
			Age: r["age"], Count: p.int(r["count"]), AmountAtStake: p.dec(r["amount_at_stake"])})
	}
	for _, r := range tables["open_items"] {
		var orderID int64
		if r["order_id"] != "" {
			orderID = p.int(r["order_id"])
		}
		s.OpenItems = append(s.OpenItems, recon.OpenItem{DiscrepancyID: p.int(r["discrepancy_id"]), Type: r["type"],
			Severity: r["severity"], ProviderAccount: r["provider_account"], OrderID: orderID, OrderNo: r["order_no"],
			Currency: r["currency"], AmountDelta: p.dec(r["amount_delta"]), FirstSeenAt: p.time(r["first_seen_at"]),
			Age: r["age"], Summary: r["summary"]})
	}
	for _, r := range tables["notes"] {
		s.Notes = append(s.Notes, r["note"])
	}
	for _, r := range tables["findings"] {
		var orderID int64
		if r["order_id"] != "" {
			orderID = p.int(r["order_id"])
		}
		s.Findings = append(s.Findings, recon.Finding{
			DiscrepancyID: p.int(r["discrepancy_id"]), Type: r["type"], Severity: r["severity"], Status: r["status"],
			ProviderAccount: r["provider_account"], OrderID: orderID, OrderNo: r["order_no"], Currency: r["currency"],
			Expected: r["expected"], Actual: r["actual"], AmountDelta: p.dec(r["amount_delta"]), Summary: r["summary"],
			New: p.bool(r["new"]), AutoClosed: p.bool(r["auto_closed"]), Repaired: p.bool(r["repaired"]),
		})
	}
	return s
}

type parser struct{ t *testing.T }

func (p parser) int(s string) int64 {
	p.t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		p.t.Errorf("integer: %v", err)
	}
	return n
}

func (p parser) dec(s string) decimal.Decimal {
	p.t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		p.t.Errorf("amount: %v", err)
	}
	return d
}

func (p parser) bool(s string) bool {
	p.t.Helper()
	switch s {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	p.t.Errorf("boolean %q", s)
	return false
}

// time reads RFC 3339 text (CSV) or a spreadsheet's serial date number
// (XLSX, read raw), which holds the instant to the second.
func (p parser) time(s string) time.Time {
	p.t.Helper()
	if s == "" {
		return time.Time{}
	}
	if serial, err := strconv.ParseFloat(s, 64); err == nil {
		tm, err := excelize.ExcelDateToTime(serial, false)
		if err != nil {
			p.t.Errorf("date cell %s: %v", s, err)
		}
		return tm.Round(time.Millisecond) // a double: within a millisecond of the second
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		p.t.Errorf("time: %v", err)
	}
	return tm
}

// truncateTimes returns s with its instants truncated to d, as a
// spreadsheet's date cells give them back.
func truncateTimes(s recon.Summary, d time.Duration) recon.Summary {
	r := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Truncate(d)
	}
	s.WindowStart, s.WindowEnd, s.StartedAt, s.FinishedAt = r(s.WindowStart), r(s.WindowEnd), r(s.StartedAt), r(s.FinishedAt)
	s.OpenItems = append([]recon.OpenItem(nil), s.OpenItems...)
	for i := range s.OpenItems {
		s.OpenItems[i].FirstSeenAt = r(s.OpenItems[i].FirstSeenAt)
	}
	return s
}
