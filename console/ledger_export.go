package console

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

// The Ledger page's exports (trial balance, journal): one table streamed as
// CSV or XLSX. Amounts are numbers at their currency's scale, times are real
// date cells (XLSX) or RFC 3339 in UTC (CSV). Rows are written as they come,
// so an export of millions of entries keeps memory flat: CSV goes straight
// to the response; XLSX through excelize's StreamWriter (temporary files),
// zipped straight to the response.
//
// Amounts never pass through float64: excelize's StreamWriter writes numbers
// only from Go integers and floats, so an amount is handed to it as a string
// with a random marker, and the zip writer under excelize turns each such
// cell into a numeric cell holding the decimal's exact digits (the technique
// of recon/report/xlsx.go, which keeps it unexported).

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
		err = booksXLSX(d, sheet, cols, rows)
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
				rec[i] = booksCSVSafe(x.text)
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

// booksCSVSafe keeps a spreadsheet from reading a text cell as a formula.
func booksCSVSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// booksTimeFormat shows a date cell's instant (UTC) to the second.
const booksTimeFormat = "yyyy-mm-dd hh:mm:ss"

func booksXLSX(w io.Writer, sheet string, cols []xcol, rows func(emit func([]xcell) error) error) error {
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	marker := "tally-amount-" + hex.EncodeToString(nonce[:]) + ":"
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	tf := booksTimeFormat
	timeStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &tf})
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
	row, amounts := 1, 0
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
				values[i] = excelize.Cell{StyleID: id, Value: marker + x.amount.String()}
				amounts++
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
	zw := &booksZip{Writer: zip.NewWriter(w), open: []byte(booksInlineOpen + marker)}
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zw })
	if err := f.Write(io.Discard); err != nil { // the bytes go to w through zw
		return err
	}
	if zw.numbers != amounts {
		return fmt.Errorf("xlsx: %d of %d amount cells converted to numbers", zw.numbers, amounts)
	}
	return nil
}

// The XML excelize v2.11's StreamWriter writes for a string cell is
// <c r="B2" s="3" t="inlineStr"><is><t>TEXT</t></is></c>; a marked amount
// becomes <c r="B2" s="3" t="n"><v>DIGITS</v></c>.
const (
	booksInlineOpen  = ` t="inlineStr"><is><t>`
	booksInlineClose = `</t></is>`
	booksNumberOpen  = ` t="n"><v>`
	booksNumberClose = `</v>`
)

// booksZip is the zip writer under excelize; it filters every worksheet
// through booksCells.
type booksZip struct {
	*zip.Writer
	open    []byte
	current *booksCells
	numbers int
}

// Create starts the next file of the archive, which ends the previous one.
func (z *booksZip) Create(name string) (io.Writer, error) {
	if err := z.endFile(); err != nil {
		return nil, err
	}
	fw, err := z.Writer.Create(name)
	if err != nil || !strings.HasPrefix(name, "xl/worksheets/") {
		return fw, err
	}
	z.current = &booksCells{w: fw, open: z.open}
	return z.current, nil
}

// Close ends the last file and writes the zip's central directory.
func (z *booksZip) Close() error {
	if err := z.endFile(); err != nil {
		return err
	}
	return z.Writer.Close()
}

func (z *booksZip) endFile() error {
	if z.current == nil {
		return nil
	}
	cur := z.current
	z.current = nil
	if err := cur.drain(true); err != nil {
		return err
	}
	if cur.inValue {
		return errors.New("xlsx: worksheet ends inside a numeric cell")
	}
	z.numbers += cur.numbers
	return nil
}

// booksCells rewrites marked inline-string cells as numeric cells while
// the worksheet streams through, holding back only what might be the start
// of a marker split between two writes.
type booksCells struct {
	w       io.Writer
	open    []byte
	pending []byte
	inValue bool
	numbers int
}

func (n *booksCells) Write(p []byte) (int, error) {
	n.pending = append(n.pending, p...)
	if err := n.drain(false); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (n *booksCells) drain(final bool) error {
	for {
		find, replace := n.open, booksNumberOpen
		if n.inValue {
			find, replace = []byte(booksInlineClose), booksNumberClose
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
