// Package xlsxout writes excelize workbooks whose amounts are exact numbers.
//
// A spreadsheet's number cell stores its value as decimal text
// (<v>12345678901234.12345678</v>), so it can hold an amount's exact digits;
// but excelize's StreamWriter, which keeps memory flat however many rows a
// sheet has, writes numbers only from Go integers and floats, and a float64
// keeps about 15 significant digits. Money never passes through float64, so
// a Writer hands each amount to the StreamWriter as an inline string that
// starts with a marker no other text can contain (a random nonce), and the
// zip writer it sets under excelize rewrites every such cell into a numeric
// cell holding the decimal's exact digits while the worksheets are
// compressed. The rewriting holds back only the few bytes that might start a
// marker split between two writes, and the zip goes straight to the
// destination rather than through excelize's in-memory buffer.
//
// Use:
//
//	f := excelize.NewFile()
//	defer f.Close()
//	out, err := xlsxout.New(f)
//	sw, err := f.NewStreamWriter("Sheet1")
//	sw.SetRow("A1", []any{excelize.Cell{StyleID: twoDecimals, Value: out.Amount(d)}})
//	sw.Flush()
//	_, err = out.WriteTo(w)
package xlsxout

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"
)

// ErrUnconverted means that an amount cell was not turned into a number: it
// was not written by a StreamWriter, was never put in a cell, or excelize's
// cell XML is not what the rewriting expects (a new excelize version). The
// workbook is refused rather than sent with amounts left as text.
var ErrUnconverted = errors.New("xlsxout: amount cells left as text")

// Writer writes one excelize workbook with exact amounts. It is not safe for
// concurrent use.
type Writer struct {
	f       *excelize.File
	marker  string
	amounts int // Amount calls: the cells WriteTo must convert
}

// New returns the Writer of f, with a fresh marker.
func New(f *excelize.File) (*Writer, error) {
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("xlsxout: marker: %w", err)
	}
	return &Writer{f: f, marker: markerPrefix + hex.EncodeToString(nonce[:]) + ":"}, nil
}

// Amount is the value of a cell holding d: put it, exactly once, as the
// Value of an excelize.Cell (with the number format of d's currency) in a
// row given to a StreamWriter of the Writer's file. WriteTo turns it into a
// numeric cell with d's exact digits.
func (w *Writer) Amount(d decimal.Decimal) any {
	w.amounts++
	return w.marker + d.String()
}

// WriteTo writes the workbook to dst as an XLSX zip, every amount cell a
// number, and returns the bytes written. Call it once, after every
// StreamWriter's Flush. It fails with ErrUnconverted if any amount cell is
// still text.
func (w *Writer) WriteTo(dst io.Writer) (int64, error) {
	cw := &countingWriter{w: dst}
	zw := &numericZip{Writer: zip.NewWriter(cw), open: []byte(inlineOpen + w.marker)}
	w.f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zw })
	if err := w.f.Write(io.Discard); err != nil { // the bytes go to dst through zw
		return cw.n, fmt.Errorf("xlsxout: %w", err)
	}
	if zw.numbers != w.amounts {
		return cw.n, fmt.Errorf("%w: %d of %d converted to numbers", ErrUnconverted, zw.numbers, w.amounts)
	}
	return cw.n, nil
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

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// numericZip is the zip writer under excelize. It filters every worksheet
// through numericCells.
type numericZip struct {
	*zip.Writer
	open    []byte        // inlineOpen + marker
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
// the start of a marker (or of the end of a marked cell) split between two
// writes.
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

// flush writes what was held back, at the end of the worksheet.
func (n *numericCells) flush() error {
	if err := n.drain(true); err != nil {
		return err
	}
	if n.inValue {
		return errors.New("xlsxout: worksheet ends inside a numeric cell")
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
