package statement

import (
	"encoding/csv"
	"fmt"
	"io"
)

// Writer writes a statement in the format the Reader reads, so that
// simulators, tests and benchmarks produce exactly what `tally recon import`
// takes. It writes every known column, in the order Columns gives, with
// decimals at their own scale and times in RFC 3339 UTC.
type Writer struct {
	csv    *csv.Writer
	header bool // written
	lines  int  // physical lines written, the header included
}

// NewWriter returns a Writer to w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{csv: csv.NewWriter(w)}
}

// Write writes the header if it has not been written yet, then l. A line the
// Reader would not read back unchanged is refused with a *RowError (its Line
// the line it would have had), and nothing is written for it.
func (w *Writer) Write(l Line) error {
	fields, bad := l.format(w.lines + 1 + w.headerLines())
	if bad != nil {
		return fmt.Errorf("statement: write: %w", bad)
	}
	if err := w.writeHeader(); err != nil {
		return err
	}
	if err := w.csv.Write(fields[:]); err != nil {
		return fmt.Errorf("statement: write line %d: %w", w.lines+1, err)
	}
	w.lines++
	return nil
}

// Flush writes the header if nothing has been written yet (an empty statement
// is a header alone), then everything buffered.
func (w *Writer) Flush() error {
	if err := w.writeHeader(); err != nil {
		return err
	}
	w.csv.Flush()
	if err := w.csv.Error(); err != nil {
		return fmt.Errorf("statement: flush: %w", err)
	}
	return nil
}

// headerLines is 1 while the header is still to be written.
func (w *Writer) headerLines() int {
	if w.header {
		return 0
	}
	return 1
}

func (w *Writer) writeHeader() error {
	if w.header {
		return nil
	}
	if err := w.csv.Write(columnNames[:]); err != nil {
		return fmt.Errorf("statement: write header: %w", err)
	}
	w.header = true
	w.lines = 1
	return nil
}
