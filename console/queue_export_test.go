package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/tallyhq/tally/staff"
)

// TestQueueXLSX: the open items' XLSX export holds amounts as numeric cells
// with their exact digits at the currency's scale (USDT: 8 decimals, more
// significant digits than a float64 keeps) and its number format, times as
// date cells, and the other columns as they are.
func TestQueueXLSX(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	ctx := context.Background()
	m, err := s.merchants.EnsureMerchant(ctx, "alpha", "Alpha")
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	err = s.pool.QueryRow(ctx, `INSERT INTO discrepancies (merchant_id, type, fingerprint, severity, currency,
		expected, actual, amount_delta, summary, first_seen_at, last_seen_at)
		VALUES ($1, 'amount_mismatch', 'x1', 'high', 'USDT', 12345678901234.12345678, 12345678901234.12345677,
		-0.00000001, '=not a formula', '2026-12-06 13:45:30Z', '2026-12-07 08:00:00Z') RETURNING id`, m.ID).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	_, token := s.user("ann@example.com", staff.Viewer)
	a := s.do("GET", "/console/discrepancies/export.xlsx", token, nil)
	if a.status != http.StatusOK || !strings.Contains(a.header.Get("Content-Disposition"), ".xlsx") {
		t.Fatalf("export: %d %v %s", a.status, a.header, a.body)
	}
	f, err := excelize.OpenReader(strings.NewReader(a.body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	const sheet = "Open items"
	cell := func(ref string) (string, excelize.CellType, string) {
		t.Helper()
		v, err := f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		typ, err := f.GetCellType(sheet, ref)
		if err != nil {
			t.Fatal(err)
		}
		format := ""
		if id, err := f.GetCellStyle(sheet, ref); err == nil && id != 0 {
			if st, err := f.GetStyle(id); err == nil && st.CustomNumFmt != nil {
				format = *st.CustomNumFmt
			}
		}
		return v, typ, format
	}
	for _, c := range []struct{ ref, header, value string }{
		{"H2", "Expected", "12345678901234.12345678"},
		{"I2", "Actual", "12345678901234.12345677"},
		{"J2", "Difference", "-0.00000001"},
	} {
		if h, _, _ := cell(strings.TrimRight(c.ref, "2") + "1"); h != c.header {
			t.Errorf("header of %s: %q, want %q", c.ref, h, c.header)
		}
		if v, typ, format := cell(c.ref); v != c.value || typ != excelize.CellTypeNumber || format != "#,##0.00000000" {
			t.Errorf("%s = %q (type %v, format %q), want the number %s as #,##0.00000000", c.ref, v, typ, format, c.value)
		}
	}
	if v, _, _ := cell("K2"); v != "=not a formula" {
		t.Errorf("summary %q", v)
	}
	if v, _, _ := cell("G2"); v != "USDT" {
		t.Errorf("currency %q", v)
	}
	if v, typ, _ := cell("N2"); v != "1" || (typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset) { // no t: a number
		t.Errorf("seen count %q (type %v)", v, typ)
	}
	if v, err := f.GetCellValue(sheet, "L2"); err != nil || v != "2026-12-06 13:45" {
		t.Errorf("opened shows %q (%v)", v, err)
	}
	if v, err := f.GetCellValue(sheet, "M2"); err != nil || v != "2026-12-07 08:00" {
		t.Errorf("last seen shows %q (%v)", v, err)
	}
	if v, _, _ := cell("O2"); v != "" {
		t.Errorf("assignee %q, want an empty cell", v)
	}
	if w, err := f.GetColWidth(sheet, "K"); err != nil || w != 48 {
		t.Errorf("summary column width %v (%v)", w, err)
	}
}
