package console

import (
	"bytes"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

// TestBooksXLSX: amounts are numeric cells with their exact digits (no
// float64 on the way), at the currency's number format; times are date
// cells; text stays text.
func TestBooksXLSX(t *testing.T) {
	at := time.Date(2026, 12, 6, 13, 45, 30, 0, time.UTC)
	big := decimal.RequireFromString("12345678901234.123456789")
	var buf bytes.Buffer
	err := booksXLSX(&buf, "Journal", booksTimeFormat, []xcol{{"Account", 30}, {"Debit", 18}, {"Time", 20}, {"Entry", 8}},
		func(emit func([]xcell) error) error {
			if err := emit([]xcell{xtext("=cmd"), xamount(big, 9), xtime(at), xint(7)}); err != nil {
				return err
			}
			return emit([]xcell{xtext("assets:provider:p1:BRL"), xempty(), xtime(at), xint(8)})
		})
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw := func(cell string) (string, excelize.CellType) {
		t.Helper()
		v, err := f.GetCellValue("Journal", cell, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		typ, err := f.GetCellType("Journal", cell)
		if err != nil {
			t.Fatal(err)
		}
		return v, typ
	}
	if v, typ := raw("B2"); v != "12345678901234.123456789" || typ != excelize.CellTypeNumber {
		t.Fatalf("amount cell: %q type %v", v, typ)
	}
	if v, _ := raw("A2"); v != "=cmd" {
		t.Fatalf("text cell: %q", v)
	}
	if v, _ := f.GetCellValue("Journal", "C2"); v != "2026-12-06 13:45:30" {
		t.Fatalf("time cell shows %q", v)
	}
	if v, _ := raw("B3"); v != "" {
		t.Fatalf("empty cell: %q", v)
	}
	if h, _ := f.GetCellValue("Journal", "B1"); h != "Debit" {
		t.Fatalf("header %q", h)
	}
	st, _ := f.GetCellStyle("Journal", "B2")
	style, err := f.GetStyle(st)
	if err != nil || style.CustomNumFmt == nil || *style.CustomNumFmt != "#,##0.000000000" {
		t.Fatalf("amount style %+v: %v", style, err)
	}
}

// TestBooksCSV: amounts at their scale, times in RFC 3339, formula-like
// text neutralised.
func TestBooksCSV(t *testing.T) {
	var buf bytes.Buffer
	err := booksCSV(&buf, []xcol{{"Account", 0}, {"Debit", 0}, {"Time", 0}},
		func(emit func([]xcell) error) error {
			return emit([]xcell{xtext("=cmd"), xamount(decimal.RequireFromString("1.5"), 2), xtime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))})
		})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "Account,Debit,Time\n'=cmd,1.50,2026-01-02T03:04:05Z\n"; got != want {
		t.Fatalf("csv %q, want %q", got, want)
	}
}
