package report

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/recon"
)

// writeXLSX writes one sheet per section, named after it, with a bold header
// row kept in view, column widths set, and amounts as numbers formatted with
// their currency's number of decimals.
//
// Amounts never pass through float64. excelize's StreamWriter, which keeps
// memory flat however many rows there are, writes numbers only from Go
// integers and floats; so each amount is handed to it as a string carrying a
// marker that no report text can contain (a random nonce), and the zip writer
// under excelize turns every such cell back into a numeric cell holding the
// decimal's exact digits as the sheets are compressed. The zip goes straight
// to w rather than through excelize's in-memory buffer.
func writeXLSX(w io.Writer, s *recon.Summary, cur Currencies) error {
	marker, err := newMarker()
	if err != nil {
		return err
	}
	f := excelize.NewFile()
	defer func() { _ = f.Close() }() // removes the sheets' temporary files
	st, err := newXLSXStyles(f, cur)
	if err != nil {
		return err
	}
	amounts := 0
	for i, sec := range sections {
		n, err := writeSheet(f, i, sec, s, st, marker)
		if err != nil {
			return fmt.Errorf("sheet %s: %w", sec.title, err)
		}
		amounts += n
	}

	zw := &numericZip{Writer: zip.NewWriter(w), open: []byte(inlineOpen + marker)}
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zw })
	if err := f.Write(io.Discard); err != nil { // the bytes go to w through zw
		return err
	}
	if zw.numbers != amounts {
		// excelize's cell XML is not what numericCells expects (a new
		// version?): refuse a report with amounts left as text.
		return fmt.Errorf("%d of %d amount cells converted to numbers", zw.numbers, amounts)
	}
	return nil
}

// writeSheet writes section sec as the sheet at index i and returns how many
// amount cells it holds.
func writeSheet(f *excelize.File, i int, sec section, s *recon.Summary, st *xlsxStyles, marker string) (int, error) {
	if i == 0 {
		if err := f.SetSheetName(f.GetSheetName(0), sec.title); err != nil {
			return 0, err
		}
	} else if _, err := f.NewSheet(sec.title); err != nil {
		return 0, err
	}
	sw, err := f.NewStreamWriter(sec.title)
	if err != nil {
		return 0, err
	}
	// excelize puts each width before those already set; Excel wants the
	// <col> elements in ascending order, so set them from the last column.
	for col := len(sec.columns) - 1; col >= 0; col-- {
		if err := sw.SetColWidth(col+1, col+1, sec.columns[col].width); err != nil {
			return 0, err
		}
	}
	err = sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	if err != nil {
		return 0, err
	}

	values := make([]any, len(sec.columns))
	for col, c := range sec.columns {
		values[col] = excelize.Cell{StyleID: st.header, Value: c.header}
	}
	if err := sw.SetRow("A1", values); err != nil {
		return 0, err
	}
	row, amounts := 1, 0
	err = sec.rows(s, func(cells []cell) error {
		row++
		if row > excelize.TotalRows {
			return fmt.Errorf("more than %d rows do not fit in a worksheet", excelize.TotalRows-1)
		}
		for col, c := range cells {
			values[col] = st.value(c, marker)
			if c.kind == amountKind {
				amounts++
			}
		}
		ref, err := excelize.CoordinatesToCellName(1, row)
		if err != nil {
			return err
		}
		return sw.SetRow(ref, values)
	})
	if err != nil {
		return 0, err
	}
	return amounts, sw.Flush()
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
// in UTC (a serial number with timeFormat), and an amount as its
// marked digits with the number format of its currency (General for a
// currency the ledger does not know).
func (st *xlsxStyles) value(c cell, marker string) any {
	switch c.kind {
	case intKind:
		return c.n
	case boolKind:
		return c.b
	case amountKind:
		return excelize.Cell{StyleID: st.amountStyle(c.currency), Value: marker + c.amount.String()}
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

// newMarker returns a prefix no text of a report can start with.
func newMarker() (string, error) {
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("marker: %w", err)
	}
	return markerPrefix + hex.EncodeToString(nonce[:]) + ":", nil
}

// The XML excelize v2.11's StreamWriter writes for a string cell is
// <c r="B2" s="3" t="inlineStr"><is><t>TEXT</t></is></c>; a marked amount
// becomes <c r="B2" s="3" t="n"><v>DIGITS</v></c>.
const (
	markerPrefix = "tally-amount-"
	inlineOpen   = ` t="inlineStr"><is><t>`
	inlineClose  = `</t></is>`
	numberOpen   = ` t="n"><v>`
	numberClose  = `</v>`
)

// numericZip is the zip writer under excelize. It filters every worksheet
// through numericCells.
type numericZip struct {
	*zip.Writer
	open    []byte
	current *numericCells // the worksheet being written, if any
	numbers int           // amount cells converted, over all sheets
}

// Create starts the next file of the archive, which ends the previous one.
func (z *numericZip) Create(name string) (io.Writer, error) {
	if err := z.endFile(); err != nil {
		return nil, err
	}
	fw, err := z.Writer.Create(name)
	if err != nil || !strings.HasPrefix(name, "xl/worksheets/") {
		return fw, err
	}
	z.current = &numericCells{w: fw, open: z.open}
	return z.current, nil
}

// Close ends the last file and writes the zip's central directory.
func (z *numericZip) Close() error {
	if err := z.endFile(); err != nil {
		return err
	}
	return z.Writer.Close()
}

func (z *numericZip) endFile() error {
	if z.current == nil {
		return nil
	}
	c := z.current
	z.current = nil
	if err := c.flush(); err != nil {
		return err
	}
	z.numbers += c.numbers
	return nil
}

// numericCells rewrites marked inline-string cells of a worksheet's XML as
// numeric cells while it streams through, holding back only what might be
// the start of a marker split between two writes.
type numericCells struct {
	w       io.Writer
	open    []byte // inlineOpen + marker
	pending []byte
	inValue bool // between a marker and its inlineClose
	numbers int
}

func (n *numericCells) Write(p []byte) (int, error) {
	n.pending = append(n.pending, p...)
	if err := n.drain(false); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (n *numericCells) flush() error {
	if err := n.drain(true); err != nil {
		return err
	}
	if n.inValue {
		return errors.New("worksheet ends inside a numeric cell")
	}
	return nil
}

func (n *numericCells) drain(final bool) error {
	for {
		find, replace := n.open, numberOpen
		if n.inValue {
			find, replace = []byte(inlineClose), numberClose
		}
		i := bytes.Index(n.pending, find)
		if i < 0 {
			keep := 0
			if !final {
				keep = min(len(find)-1, len(n.pending))
			}
			cut := len(n.pending) - keep
			if _, err := n.w.Write(n.pending[:cut]); err != nil {
				return err
			}
			n.pending = append(n.pending[:0], n.pending[cut:]...)
			return nil
		}
		if _, err := n.w.Write(n.pending[:i]); err != nil {
			return err
		}
		if _, err := io.WriteString(n.w, replace); err != nil {
			return err
		}
		n.pending = n.pending[i+len(find):]
		if n.inValue {
			n.numbers++
		}
		n.inValue = !n.inValue
	}
}
