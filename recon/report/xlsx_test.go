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

// readXLSX returns every sheet's rows, raw values keyed by the header row's
// names, after checking that the workbook has exactly the six sections'
// sheets, in order, with the documented headers.
func readXLSX(t *testing.T, f *excelize.File) map[string][]map[string]string {
	t.Helper()
	var wantSheets []string
	for _, wc := range wantColumns {
		wantSheets = append(wantSheets, wc.section)
	}
	if got := f.GetSheetList(); !slices.Equal(got, wantSheets) {
		t.Fatalf("sheets %q, want %q", got, wantSheets)
	}
	tables := map[string][]map[string]string{}
	for _, wc := range wantColumns {
		rows, err := f.GetRows(wc.section, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatalf("sheet %s: %v", wc.section, err)
		}
		if len(rows) == 0 || !slices.Equal(rows[0], wc.columns) {
			t.Fatalf("sheet %s header %q, want %q", wc.section, rows[0:min(1, len(rows))], wc.columns)
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
			requireSameSummary(t, fx.summary(), summaryFromTables(t, readXLSX(t, f)))
		})
	}
}

// amountColumns are the columns holding money, in any sheet.
var amountColumns = []string{
	"matched_amount", "unmatched_amount", "amount_delta", "provider_balance",
	"ledger_balance", "in_flight", "difference", "tolerance",
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
		{"orders", "F2", "0.3", "CNY"},
		{"orders", "H2", "12345678901234567890", "CNY"},
		{"orders", "F3", "0.00012345", "BTC"},
		{"orders", "H3", "0", "BTC"},
		{"orders", "F4", "1000.000001", "USDT"},
		{"orders", "H4", "-0.5", "USDT"},
		{"discrepancies", "G2", "-100.5", "CNY"},
		{"discrepancies", "G3", "-0.00000001", "BTC"},
		{"balances", "C2", "1000000", "CNY"},
		{"balances", "E2", "0.011", "CNY"},
		{"balances", "F2", "-0.001", "CNY"},
		{"balances", "C3", "1.23456789012345678901", "XYZ"},
		{"balances", "F3", "0.23456789012345678901", "XYZ"},
		{"findings", "K2", "-0.5", "CNY"},
		{"findings", "K3", "0.00000001", "BTC"},
		{"findings", "K4", "12345678901234567890.123456", "USDT"},
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
		rows, err := f.GetRows(wc.section)
		if err != nil {
			t.Fatal(err)
		}
		for col, name := range wc.columns {
			if !slices.Contains(amountColumns, name) {
				continue
			}
			for row := 2; row <= len(rows); row++ {
				ref, _ := excelize.CoordinatesToCellName(col+1, row)
				if typ, _ := f.GetCellType(wc.section, ref); typ != excelize.CellTypeNumber {
					t.Errorf("%s!%s (%s) has cell type %v, want a number", wc.section, ref, name, typ)
				}
				counted++
			}
		}
	}
	if want := 2*len(s.Orders) + len(s.Discrepancies) + 5*len(s.Balances) + len(s.Findings); counted != want {
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
		unset, err := f.GetColWidth(wc.section, past)
		if err != nil {
			t.Fatal(err)
		}
		for col := range wc.columns {
			name, _ := excelize.ColumnNumberToName(col + 1)
			w, err := f.GetColWidth(wc.section, name)
			if err != nil {
				t.Fatal(err)
			}
			if w == unset || w < 6 {
				t.Errorf("%s column %s (%s) has width %v: not set", wc.section, name, wc.columns[col], w)
			}
		}
		id, err := f.GetCellStyle(wc.section, "A1")
		if err != nil {
			t.Fatal(err)
		}
		if style, err := f.GetStyle(id); err != nil || style.Font == nil || !style.Font.Bold {
			t.Errorf("%s header is not bold (style %d, %v)", wc.section, id, err)
		}
		panes, err := f.GetPanes(wc.section)
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
		{"run", "A2", excelize.CellTypeUnset}, // a number: t is optional for numbers
		{"orders", "D2", excelize.CellTypeUnset},
		{"balances", "H2", excelize.CellTypeBool},
		{"findings", "M2", excelize.CellTypeBool},
		{"findings", "B2", excelize.CellTypeInlineString},
	} {
		if got, _ := f.GetCellType(tc.sheet, tc.ref); got != tc.want {
			t.Errorf("%s!%s has cell type %v, want %v", tc.sheet, tc.ref, got, tc.want)
		}
	}
	if v, _ := f.GetCellValue("findings", "F3"); v != "" {
		t.Errorf("finding without an order has order_id %q, want an empty cell", v)
	}
}

// worksheetXML returns the XML of a section's sheet, which excelize stores as
// xl/worksheets/sheetN.xml, N counting the sheets from 1.
func worksheetXML(t *testing.T, data []byte, section string) []byte {
	t.Helper()
	i := slices.IndexFunc(wantColumns, func(wc sectionColumns) bool { return wc.section == section })
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
