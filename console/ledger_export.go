package console

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/tallyhq/tally/xlsxout"
)

// The Ledger page's exports (trial balance, journal): one table streamed as
// CSV or XLSX. Amounts are numbers at their currency's scale, times are real
// date cells (XLSX) or RFC 3339 in UTC (CSV). Rows are written as they come,
// so an export of millions of entries keeps memory flat: CSV goes straight
// to the response; XLSX through excelize's StreamWriter (temporary files),
// zipped straight to the response by package xlsxout, which writes each
// amount as a numeric cell of its exact digits (never a float64).

// xcol is a column of an export.
type xcol struct {
	Header string
	Width  float64
}

// xcell is one cell of an export.
type xcell struct {
	kind   int
	text   string
	amount decimal.Decimal
	scale  int32
	at     time.Time
	n      int64
}

const (
	xTextCell = iota
	xAmountCell
	xTimeCell
	xIntCell
	xEmptyCell
)

func xtext(s string) xcell { return xcell{kind: xTextCell, text: s} }
func xamount(d decimal.Decimal, scale int32) xcell {
	return xcell{kind: xAmountCell, amount: d, scale: scale}
}
func xtime(t time.Time) xcell { return xcell{kind: xTimeCell, at: t} }
func xint(n int64) xcell      { return xcell{kind: xIntCell, n: n} }
func xempty() xcell           { return xcell{kind: xEmptyCell} }

// booksFormat reads ?format= (csv or xlsx); ok false for anything else.
func booksFormat(r *http.Request) (string, bool) {
	switch f := r.URL.Query().Get("format"); f {
	case "csv", "xlsx":
		return f, true
	}
	return "", false
}

// booksExport writes a table as an attachment named name.<format>. rows calls
// emit for each row in order. An error before the first byte was sent is
// answered with the error page; after it, the response is aborted (finish),
// so that the browser reports a failed download, never a truncated file.
func (c *Console) booksExport(w http.ResponseWriter, r *http.Request, format, name, sheet string, cols []xcol, rows func(emit func([]xcell) error) error) {
	d := newDownload(w)
	var err error
	switch format {
	case "csv":
		d.Header().Set("Content-Type", "text/csv; charset=utf-8")
		d.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		err = booksCSV(d, cols, rows)
	default:
		d.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		d.Header().Set("Content-Disposition", `attachment; filename="`+name+`.xlsx"`)
		err = booksXLSX(d, sheet, booksTimeFormat, cols, rows)
	}
	if err != nil {
		err = fmt.Errorf("export %s.%s: %w", name, format, err)
	}
	c.finish(d, r, name+"."+format, err)
}

func booksCSV(w io.Writer, cols []xcol, rows func(emit func([]xcell) error) error) error {
	cw := csv.NewWriter(w)
	rec := make([]string, len(cols))
	for i, col := range cols {
		rec[i] = col.Header
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	err := rows(func(cells []xcell) error {
		for i, x := range cells {
			switch x.kind {
			case xAmountCell:
				rec[i] = x.amount.StringFixed(x.scale)
			case xTimeCell:
				rec[i] = x.at.UTC().Format(time.RFC3339Nano)
			case xIntCell:
				rec[i] = fmt.Sprint(x.n)
			case xEmptyCell:
				rec[i] = ""
			default:
				rec[i] = csvSafe(x.text)
			}
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// booksTimeFormat shows a date cell's instant (UTC) to the second.
const booksTimeFormat = "yyyy-mm-dd hh:mm:ss"

// booksXLSX writes a table as the one sheet of an XLSX workbook: a bold
// header row kept in view, the columns' widths, amounts as exact numbers in
// their scale's number format, times as date cells shown in timeFormat.
func booksXLSX(w io.Writer, sheet, timeFormat string, cols []xcol, rows func(emit func([]xcell) error) error) error {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }() // removes the sheet's temporary file
	out, err := xlsxout.New(f)
	if err != nil {
		return err
	}
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	timeStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &timeFormat})
	if err != nil {
		return err
	}
	scales := map[int32]int{}
	scaleStyle := func(scale int32) (int, error) {
		if id, ok := scales[scale]; ok {
			return id, nil
		}
		format := "#,##0"
		if scale > 0 {
			format += "." + strings.Repeat("0", int(scale))
		}
		id, err := f.NewStyle(&excelize.Style{CustomNumFmt: &format})
		scales[scale] = id
		return id, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	for i := len(cols) - 1; i >= 0; i-- { // excelize wants them set from the last
		if err := sw.SetColWidth(i+1, i+1, cols[i].Width); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	values := make([]any, len(cols))
	for i, col := range cols {
		values[i] = excelize.Cell{StyleID: bold, Value: col.Header}
	}
	if err := sw.SetRow("A1", values); err != nil {
		return err
	}
	row := 1
	err = rows(func(cells []xcell) error {
		row++
		if row > excelize.TotalRows {
			return fmt.Errorf("more than %d rows do not fit in a worksheet", excelize.TotalRows-1)
		}
		for i, x := range cells {
			switch x.kind {
			case xAmountCell:
				id, err := scaleStyle(x.scale)
				if err != nil {
					return err
				}
				values[i] = excelize.Cell{StyleID: id, Value: out.Amount(x.amount)}
			case xTimeCell:
				values[i] = excelize.Cell{StyleID: timeStyle, Value: x.at.UTC()}
			case xIntCell:
				values[i] = x.n
			case xEmptyCell:
				values[i] = nil
			default:
				if x.text == "" {
					values[i] = nil
				} else {
					values[i] = x.text
				}
			}
		}
		ref, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return err
		}
		return sw.SetRow(ref, values)
	})
	if err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = out.WriteTo(w)
	return err
}
