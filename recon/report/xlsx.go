package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/xlsxout"
)

// writeXLSX writes one sheet per section, named after it, with a bold header
// row kept in view, column widths set, and amounts as numbers formatted with
// their currency's number of decimals.
//
// Rows go through excelize's StreamWriter, which keeps memory flat however
// many there are, and amounts through package xlsxout, which keeps their
// exact digits (never a float64) and zips the workbook straight to w.
func writeXLSX(w io.Writer, s *recon.Summary, cur Currencies) error {
	f := excelize.NewFile()
	defer func() { _ = f.Close() }() // removes the sheets' temporary files
	out, err := xlsxout.New(f)
	if err != nil {
		return err
	}
	st, err := newXLSXStyles(f, cur)
	if err != nil {
		return err
	}
	for i, sec := range sections {
		if err := writeSheet(f, i, sec, s, st, out); err != nil {
			return fmt.Errorf("sheet %s: %w", sec.title, err)
		}
	}
	_, err = out.WriteTo(w)
	return err
}

// writeSheet writes section sec as the sheet at index i.
func writeSheet(f *excelize.File, i int, sec section, s *recon.Summary, st *xlsxStyles, out *xlsxout.Writer) error {
	if i == 0 {
		if err := f.SetSheetName(f.GetSheetName(0), sec.title); err != nil {
			return err
		}
	} else if _, err := f.NewSheet(sec.title); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sec.title)
	if err != nil {
		return err
	}
	// excelize puts each width before those already set; Excel wants the
	// <col> elements in ascending order, so set them from the last column.
	for col := len(sec.columns) - 1; col >= 0; col-- {
		if err := sw.SetColWidth(col+1, col+1, sec.columns[col].width); err != nil {
			return err
		}
	}
	err = sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	if err != nil {
		return err
	}

	values := make([]any, len(sec.columns))
	for col, c := range sec.columns {
		values[col] = excelize.Cell{StyleID: st.header, Value: c.header}
	}
	if err := sw.SetRow("A1", values); err != nil {
		return err
	}
	row := 1
	err = sec.rows(s, func(cells []cell) error {
		row++
		if row > excelize.TotalRows {
			return fmt.Errorf("more than %d rows do not fit in a worksheet", excelize.TotalRows-1)
		}
		for col, c := range cells {
			values[col] = st.value(c, out)
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
	return sw.Flush()
}

// xlsxStyles are the cell styles of a report: the header's, the times', and
// one number format per number of decimals a currency may have (0 to
// ledger.MaxScale).
type xlsxStyles struct {
	header int
	time   int
	scale  map[int32]int // decimals -> style id
	cur    Currencies
}

// timeFormat is the number format of the XLSX date cells: the instant in UTC,
// to the second (the cell holds the fraction too).
const timeFormat = "yyyy-mm-dd hh:mm:ss"

func newXLSXStyles(f *excelize.File, cur Currencies) (*xlsxStyles, error) {
	header, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, fmt.Errorf("header style: %w", err)
	}
	format := timeFormat
	tm, err := f.NewStyle(&excelize.Style{CustomNumFmt: &format})
	if err != nil {
		return nil, fmt.Errorf("time style: %w", err)
	}
	st := &xlsxStyles{header: header, time: tm, scale: map[int32]int{}, cur: cur}
	for scale := int32(0); scale <= ledger.MaxScale; scale++ {
		format := numberFormat(scale)
		if st.scale[scale], err = f.NewStyle(&excelize.Style{CustomNumFmt: &format}); err != nil {
			return nil, fmt.Errorf("number style %s: %w", format, err)
		}
	}
	return st, nil
}

// numberFormat is the spreadsheet number format showing scale decimals:
// "0.00" for 2.
func numberFormat(scale int32) string {
	if scale <= 0 {
		return "0"
	}
	return "0." + strings.Repeat("0", int(scale))
}

// value is what the StreamWriter is given for cell c: nil for an empty cell
// (no cell at all), Go integers and booleans as such, a time as a date cell
// in UTC (a serial number with timeFormat), and an amount as out's exact
// number with the number format of its currency (General for a currency the
// ledger does not know).
func (st *xlsxStyles) value(c cell, out *xlsxout.Writer) any {
	switch c.kind {
	case intKind:
		return c.n
	case boolKind:
		return c.b
	case amountKind:
		return excelize.Cell{StyleID: st.amountStyle(c.currency), Value: out.Amount(c.amount)}
	case timeKind:
		return excelize.Cell{StyleID: st.time, Value: c.t}
	case emptyKind:
		return nil
	}
	if c.text == "" {
		return nil
	}
	return c.text
}

// amountStyle is the style of an amount in currency: its scale's number
// format, or General (0) for a currency the ledger does not know.
func (st *xlsxStyles) amountStyle(currency string) int {
	scale, ok := st.cur.scale(currency)
	if !ok {
		return 0
	}
	if id, ok := st.scale[scale]; ok {
		return id
	}
	return 0
}
