package xlsxout

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

// TestExactAmounts writes two sheets through StreamWriters and reads them
// back: amounts are numeric cells holding their exact digits (more than a
// float64 keeps) with their number format, a time stays a date cell, and
// text that starts like a marker but lacks the Writer's nonce stays text.
func TestExactAmounts(t *testing.T) {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	out, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	format := "0.00000000"
	eight, err := f.NewStyle(&excelize.Style{CustomNumFmt: &format})
	if err != nil {
		t.Fatal(err)
	}
	tf := "yyyy-mm-dd hh:mm:ss"
	timeStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &tf})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 6, 13, 45, 30, 0, time.UTC)
	lookalike := markerPrefix + "0123:99.5"
	sheets := []struct {
		name   string
		amount string
	}{
		{"Sheet1", "12345678901234.12345678"},
		{"Second", "-0.00000001"},
	}
	for i, s := range sheets {
		if i > 0 {
			if _, err := f.NewSheet(s.name); err != nil {
				t.Fatal(err)
			}
		}
		sw, err := f.NewStreamWriter(s.name)
		if err != nil {
			t.Fatal(err)
		}
		row := []any{
			excelize.Cell{StyleID: eight, Value: out.Amount(decimal.RequireFromString(s.amount))},
			lookalike,
			excelize.Cell{StyleID: timeStyle, Value: at},
			int64(7),
		}
		if err := sw.SetRow("A1", row); err != nil {
			t.Fatal(err)
		}
		if err := sw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	n, err := out.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d bytes, wrote %d", n, buf.Len())
	}

	// The worksheet XML itself holds the digits as a number.
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	xml := sheetXML(t, zr, "xl/worksheets/sheet1.xml")
	if !strings.Contains(xml, `t="n"><v>12345678901234.12345678</v></c>`) {
		t.Fatalf("sheet1 lacks the exact numeric cell:\n%s", xml)
	}
	if strings.Contains(xml, out.marker) {
		t.Fatalf("sheet1 still holds the marker:\n%s", xml)
	}

	r, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	for _, s := range sheets {
		v, err := r.GetCellValue(s.name, "A1", excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		typ, err := r.GetCellType(s.name, "A1")
		if err != nil {
			t.Fatal(err)
		}
		if v != s.amount || typ != excelize.CellTypeNumber {
			t.Errorf("%s A1 = %q (type %v), want the number %s", s.name, v, typ, s.amount)
		}
		if v, _ := r.GetCellValue(s.name, "B1"); v != lookalike {
			t.Errorf("%s B1 = %q, want the text %q", s.name, v, lookalike)
		}
		if typ, _ := r.GetCellType(s.name, "B1"); typ != excelize.CellTypeInlineString {
			t.Errorf("%s B1 type %v, want an inline string", s.name, typ)
		}
		if v, _ := r.GetCellValue(s.name, "C1"); v != "2026-12-06 13:45:30" {
			t.Errorf("%s C1 shows %q", s.name, v)
		}
		if v, _ := r.GetCellValue(s.name, "D1"); v != "7" {
			t.Errorf("%s D1 = %q", s.name, v)
		}
		id, _ := r.GetCellStyle(s.name, "A1")
		st, err := r.GetStyle(id)
		if err != nil || st.CustomNumFmt == nil || *st.CustomNumFmt != format {
			t.Errorf("%s A1 style %+v: %v", s.name, st, err)
		}
	}
}

func sheetXML(t *testing.T, zr *zip.Reader, name string) string {
	t.Helper()
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestUnconverted: an amount that never reached a streamed cell (here it
// went through SetCellValue, into the shared strings) fails the workbook.
func TestUnconverted(t *testing.T) {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	out, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellValue("Sheet1", "A1", out.Amount(decimal.RequireFromString("1.5"))); err != nil {
		t.Fatal(err)
	}
	if _, err := out.WriteTo(io.Discard); !errors.Is(err, ErrUnconverted) {
		t.Fatalf("WriteTo = %v, want ErrUnconverted", err)
	}
}

// TestSplitWrites feeds worksheet XML to numericCells in pieces of every
// size, so that markers and closing tags fall across writes; text that
// starts like a marker without the nonce is left alone.
func TestSplitWrites(t *testing.T) {
	const marker = markerPrefix + "00ff:"
	in := `<row r="2"><c r="A2" t="inlineStr"><is><t>tally-amount-other:1</t></is></c>` +
		`<c r="B2" s="3" t="inlineStr"><is><t>` + marker + `-0.00000001</t></is></c>` +
		`<c r="C2" t="inlineStr"><is><t>plain</t></is></c>` +
		`<c r="D2" s="4" t="inlineStr"><is><t>` + marker + `12345678901234.12345678</t></is></c>` +
		`<c r="E2" t="inlineStr"><is><t>tally-amount-</t></is></c></row>`
	want := `<row r="2"><c r="A2" t="inlineStr"><is><t>tally-amount-other:1</t></is></c>` +
		`<c r="B2" s="3" t="n"><v>-0.00000001</v></c>` +
		`<c r="C2" t="inlineStr"><is><t>plain</t></is></c>` +
		`<c r="D2" s="4" t="n"><v>12345678901234.12345678</v></c>` +
		`<c r="E2" t="inlineStr"><is><t>tally-amount-</t></is></c></row>`
	for size := 1; size <= len(in); size++ {
		var out bytes.Buffer
		n := &numericCells{w: &out, open: []byte(inlineOpen + marker)}
		for rest := in; rest != ""; {
			k := min(size, len(rest))
			if m, err := n.Write([]byte(rest[:k])); err != nil || m != k {
				t.Fatalf("size %d: Write = %d, %v", size, m, err)
			}
			rest = rest[k:]
		}
		if err := n.flush(); err != nil {
			t.Fatalf("size %d: flush: %v", size, err)
		}
		if out.String() != want {
			t.Fatalf("size %d:\n got %s\nwant %s", size, out.String(), want)
		}
		if n.numbers != 2 {
			t.Fatalf("size %d: %d numbers converted, want 2", size, n.numbers)
		}
	}
}

// TestUnterminated: a worksheet that ends inside a marked cell is an error,
// not a half-rewritten file.
func TestUnterminated(t *testing.T) {
	var out bytes.Buffer
	n := &numericCells{w: &out, open: []byte(inlineOpen + "m:")}
	if _, err := n.Write([]byte(`<c r="A1" t="inlineStr"><is><t>m:1.5`)); err != nil {
		t.Fatal(err)
	}
	if err := n.flush(); err == nil || !strings.Contains(err.Error(), "inside a numeric cell") {
		t.Errorf("flush = %v, want an error", err)
	}
}
