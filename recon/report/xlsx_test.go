package report_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/recon/report"
)

func writeXLSX(t *testing.T, fx func() recon.Summary) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := report.Write(&buf, fx(), report.XLSX, currencies); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openXLSX(t *testing.T, data []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("open XLSX: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// readXLSX returns every sheet's rows, raw values keyed by the columns' JSON
// names, after checking that the workbook has exactly the sections' sheets,
// in order, named by their titles, with the documented headers.
func readXLSX(t *testing.T, f *excelize.File) map[string][]map[string]string {
	t.Helper()
	var wantSheets []string
	for _, wc := range wantColumns {
		wantSheets = append(wantSheets, wc.sheet)
	}
	if got := f.GetSheetList(); !slices.Equal(got, wantSheets) {
		t.Fatalf("sheets %q, want %q", got, wantSheets)
	}
	tables := map[string][]map[string]string{}
	for _, wc := range wantColumns {
		rows, err := f.GetRows(wc.sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatalf("sheet %s: %v", wc.sheet, err)
		}
		if len(rows) == 0 || !slices.Equal(rows[0], wc.headers) {
			t.Fatalf("sheet %s header %q, want %q", wc.sheet, rows[0:min(1, len(rows))], wc.headers)
		}
		tables[wc.section] = []map[string]string{} // present even without rows
		for _, cells := range rows[1:] {
			row := map[string]string{}
			for i, name := range wc.columns {
				if i < len(cells) { // GetRows leaves out trailing empty cells
					row[name] = cells[i]
				}
			}
			tables[wc.section] = append(tables[wc.section], row)
		}
	}
	return tables
}

func TestXLSXRoundTrip(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			f := openXLSX(t, writeXLSX(t, fx.summary))
			// Date cells hold the instants to the second.
			requireSameSummary(t, truncateTimes(fx.summary(), time.Second), summaryFromTables(t, readXLSX(t, f)))
		})
	}
}

// amountColumns are the columns holding money, in any sheet.
var amountColumns = []string{
	"matched_amount", "unmatched_amount", "amount_delta", "provider_balance",
	"ledger_balance", "in_flight", "difference", "tolerance", "amount_at_stake",
}

// TestXLSXAmountsAreNumbers checks that every amount cell of every sheet is a
// numeric cell whose stored text is the exact decimal, with the number format
// of its row's currency.
func TestXLSXAmountsAreNumbers(t *testing.T) {
	s := fullSummary()
	f := openXLSX(t, writeXLSX(t, fullSummary))
	wantFormat := map[string]string{
		"CNY": "0.00", "USDT": "0.00000000", "BTC": "0.00000000", "XYZ": "", // "": General
	}
	cases := []struct {
		sheet, ref, value, currency string
	}{
		{"Orders", "F2", "0.3", "CNY"},
		{"Orders", "H2", "12345678901234567890", "CNY"},
		{"Orders", "F3", "0.00012345", "BTC"},
		{"Orders", "H3", "0", "BTC"},
		{"Orders", "F4", "1000.000001", "USDT"},
		{"Orders", "H4", "-0.5", "USDT"},
		{"Discrepancies", "G2", "-100.5", "CNY"},
		{"Discrepancies", "G3", "-0.00000001", "BTC"},
		{"Balances", "C2", "1000000", "CNY"},
		{"Balances", "E2", "0.011", "CNY"},
		{"Balances", "F2", "-0.001", "CNY"},
		{"Balances", "C3", "1.23456789012345678901", "XYZ"},
		{"Balances", "F3", "0.23456789012345678901", "XYZ"},
		{"Findings", "K2", "-0.5", "CNY"},
		{"Findings", "K3", "0.00000001", "BTC"},
		{"Findings", "K4", "12345678901234567890.123456", "USDT"},
		{"Aging", "E2", "100.5", "CNY"},
		{"Aging", "E3", "0.3", "CNY"},
		{"Open items", "H2", "-100.5", "CNY"},
	}
	for _, tc := range cases {
		typ, err := f.GetCellType(tc.sheet, tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		if typ != excelize.CellTypeNumber {
			t.Errorf("%s!%s has cell type %v, want a number", tc.sheet, tc.ref, typ)
		}
		raw, err := f.GetCellValue(tc.sheet, tc.ref, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		if raw != tc.value {
			t.Errorf("%s!%s holds %q, want %q", tc.sheet, tc.ref, raw, tc.value)
		}
		if got := cellNumberFormat(t, f, tc.sheet, tc.ref); got != wantFormat[tc.currency] {
			t.Errorf("%s!%s number format %q, want %q (%s)", tc.sheet, tc.ref, got, wantFormat[tc.currency], tc.currency)
		}
	}

	// Every amount cell, not only the ones above, is numeric.
	counted := 0
	for _, wc := range wantColumns {
		rows, err := f.GetRows(wc.sheet)
		if err != nil {
			t.Fatal(err)
		}
		for col, name := range wc.columns {
			if !slices.Contains(amountColumns, name) {
				continue
			}
			for row := 2; row <= len(rows); row++ {
				ref, _ := excelize.CoordinatesToCellName(col+1, row)
				if typ, _ := f.GetCellType(wc.sheet, ref); typ != excelize.CellTypeNumber {
					t.Errorf("%s!%s (%s) has cell type %v, want a number", wc.sheet, ref, name, typ)
				}
				counted++
			}
		}
	}
	if want := 2*len(s.Orders) + len(s.Discrepancies) + 5*len(s.Balances) + len(s.Aging) + len(s.OpenItems) + len(s.Findings); counted != want {
		t.Errorf("checked %d amount cells, the summary has %d", counted, want)
	}
}

// cellNumberFormat is the custom number format of a cell, "" for General.
func cellNumberFormat(t *testing.T, f *excelize.File, sheet, ref string) string {
	t.Helper()
	id, err := f.GetCellStyle(sheet, ref)
	if err != nil {
		t.Fatal(err)
	}
	style, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	if style.CustomNumFmt == nil {
		if style.NumFmt != 0 {
			t.Errorf("%s!%s has built-in number format %d", sheet, ref, style.NumFmt)
		}
		return ""
	}
	return *style.CustomNumFmt
}

// TestXLSXLayout checks what an accountant sees: column widths set, the
// header bold and frozen, counts as numbers, booleans as booleans.
func TestXLSXLayout(t *testing.T) {
	f := openXLSX(t, writeXLSX(t, fullSummary))
	for _, wc := range wantColumns {
		past, _ := excelize.ColumnNumberToName(len(wc.columns) + 1)
		unset, err := f.GetColWidth(wc.sheet, past)
		if err != nil {
			t.Fatal(err)
		}
		for col := range wc.columns {
			name, _ := excelize.ColumnNumberToName(col + 1)
			w, err := f.GetColWidth(wc.sheet, name)
			if err != nil {
				t.Fatal(err)
			}
			if w == unset || w < 6 {
				t.Errorf("%s column %s (%s) has width %v: not set", wc.section, name, wc.columns[col], w)
			}
		}
		id, err := f.GetCellStyle(wc.sheet, "A1")
		if err != nil {
			t.Fatal(err)
		}
		if style, err := f.GetStyle(id); err != nil || style.Font == nil || !style.Font.Bold {
			t.Errorf("%s header is not bold (style %d, %v)", wc.section, id, err)
		}
		panes, err := f.GetPanes(wc.sheet)
		if err != nil {
			t.Fatal(err)
		}
		if !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("%s header row not frozen: %+v", wc.section, panes)
		}
	}
	for _, tc := range []struct {
		sheet, ref string
		want       excelize.CellType
	}{
		{"Run", "A2", excelize.CellTypeUnset}, // a number: t is optional for numbers
		{"Orders", "D2", excelize.CellTypeUnset},
		{"Balances", "H2", excelize.CellTypeBool},
		{"Findings", "M2", excelize.CellTypeBool},
		{"Findings", "B2", excelize.CellTypeInlineString},
	} {
		if got, _ := f.GetCellType(tc.sheet, tc.ref); got != tc.want {
			t.Errorf("%s!%s has cell type %v, want %v", tc.sheet, tc.ref, got, tc.want)
		}
	}
	if v, _ := f.GetCellValue("Findings", "F3"); v != "" {
		t.Errorf("finding without an order has order_id %q, want an empty cell", v)
	}
}

// worksheetXML returns the XML of a section's sheet, which excelize stores as
// xl/worksheets/sheetN.xml, N counting the sheets from 1.
func worksheetXML(t *testing.T, data []byte, section string) []byte {
	t.Helper()
	i := slices.IndexFunc(wantColumns, func(wc sectionColumns) bool { return wc.section == section })
	if i < 0 {
		t.Fatalf("no section %s", section)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open(fmt.Sprintf("xl/worksheets/sheet%d.xml", i+1))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	xml, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

// TestXLSXNoMarkerLeft looks into the sheets' XML: no amount is left as
// marked text, amounts are numeric cells, and column widths come in column
// order.
func TestXLSXNoMarkerLeft(t *testing.T) {
	data := writeXLSX(t, fullSummary)
	for _, wc := range wantColumns {
		xml := worksheetXML(t, data, wc.section)
		if bytes.Contains(xml, []byte("tally-amount-")) {
			t.Errorf("sheet %s still holds a marked amount", wc.section)
		}
	}
	xml := worksheetXML(t, data, "orders")
	cols := regexp.MustCompile(`<col min="(\d+)"`).FindAllSubmatch(xml, -1)
	for i, m := range cols {
		if string(m[1]) != strconv.Itoa(i+1) {
			t.Errorf("<col> element %d is for column %s: Excel wants them in ascending order", i+1, m[1])
		}
	}
	if len(cols) != 11 {
		t.Errorf("orders sheet has %d <col> elements, want 11", len(cols))
	}
	if !bytes.Contains(xml, []byte(`t="n"><v>12345678901234567890</v></c>`)) {
		t.Errorf("orders sheet lacks the numeric cell of 12345678901234567890:\n%s", xml)
	}
}

// TestXLSXTimesAreDates checks that every instant is a date cell: a number
// with a date-time format, shown in UTC, holding the instant to the second.
func TestXLSXTimesAreDates(t *testing.T) {
	f := openXLSX(t, writeXLSX(t, fullSummary))
	cases := []struct {
		sheet, ref, shown string
		want              time.Time
	}{
		{"Run", "E2", "2026-11-20 16:00:00", time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC)}, // window start, written in UTC+8
		{"Run", "F2", "2026-11-21 16:00:00", time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)},
		{"Run", "H2", "2026-11-22 01:02:03", time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)},
		{"Run", "I2", "2026-11-22 01:07:09", time.Date(2026, 11, 22, 1, 7, 9, 0, time.UTC)},
		{"Open items", "I2", "2026-10-01 23:59:59", time.Date(2026, 10, 1, 23, 59, 59, 0, time.UTC)},
		{"Open items", "I3", "2026-11-20 04:00:00", time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC)},
	}
	for _, tc := range cases {
		if typ, _ := f.GetCellType(tc.sheet, tc.ref); typ != excelize.CellTypeUnset && typ != excelize.CellTypeNumber {
			t.Errorf("%s!%s has cell type %v, want a number", tc.sheet, tc.ref, typ)
		}
		if got := cellNumberFormat(t, f, tc.sheet, tc.ref); got != "yyyy-mm-dd hh:mm:ss" {
			t.Errorf("%s!%s number format %q, want a date-time", tc.sheet, tc.ref, got)
		}
		shown, err := f.GetCellValue(tc.sheet, tc.ref)
		if err != nil || shown != tc.shown {
			t.Errorf("%s!%s shows %q (%v), want %q", tc.sheet, tc.ref, shown, err, tc.shown)
		}
		raw, _ := f.GetCellValue(tc.sheet, tc.ref, excelize.Options{RawCellValue: true})
		serial, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			t.Errorf("%s!%s holds %q, not a serial date: %v", tc.sheet, tc.ref, raw, err)
			continue
		}
		got, err := excelize.ExcelDateToTime(serial, false)
		if err != nil || !got.Round(time.Millisecond).Equal(tc.want) { // a double: within a millisecond of the second
			t.Errorf("%s!%s holds %v (%v), want %v", tc.sheet, tc.ref, got, err, tc.want)
		}
	}
	// A run not finished has no finish time: an empty cell, not a date of 1899.
	empty := openXLSX(t, writeXLSX(t, func() recon.Summary { s := emptySummary(); s.FinishedAt = time.Time{}; return s }))
	if v, _ := empty.GetCellValue("Run", "I2"); v != "" {
		t.Errorf("an unfinished run's finish time is %q, want an empty cell", v)
	}
}
