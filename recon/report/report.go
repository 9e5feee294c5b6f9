package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/recon"
)

// Format is an export format of a run summary. Its value is the name used on
// the command line and in the API's format parameter.
type Format string

// The export formats.
const (
	CSV  Format = "csv"  // one stream, a section column first (see the package doc)
	JSON Format = "json" // the recon.Summary as is, indented, amounts as strings
	XLSX Format = "xlsx" // one sheet per section, amounts as numbers
)

// Currencies finds a currency of the ledger by code, for the number of decimals
// its amounts are shown with: (*ledger.Ledger).CurrencyLookup returns one. A
// currency it does not find (or a nil Currencies) shows an amount with the
// digits it has (CSV) and the General number format (XLSX).
type Currencies func(code string) (ledger.Currency, bool)

// scale is the number of decimals of currency, when known.
func (cur Currencies) scale(currency string) (int32, bool) {
	if cur == nil {
		return 0, false
	}
	c, ok := cur(currency)
	return c.Scale, ok
}

// Formats lists every format, in the order help texts should show them.
var Formats = []Format{CSV, JSON, XLSX}

// ErrUnknownFormat is returned (wrapped) for a format name or value this
// package does not write, so that the API can answer 400 rather than 500.
var ErrUnknownFormat = errors.New("unknown report format")

// ParseFormat returns the format named by s ("csv", "json" or "xlsx", in any
// case, surrounding spaces ignored), as given on the command line or in a query.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if !f.valid() {
		return "", fmt.Errorf("%w %q: want csv, json or xlsx", ErrUnknownFormat, s)
	}
	return f, nil
}

// String returns the format's name.
func (f Format) String() string { return string(f) }

func (f Format) valid() bool { return f == CSV || f == JSON || f == XLSX }

// ContentType is the HTTP Content-Type of a report in format f, "" for an
// unknown format.
func ContentType(f Format) string {
	switch f {
	case CSV:
		return "text/csv; charset=utf-8"
	case JSON:
		return "application/json"
	case XLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return ""
}

// Extension is the file name extension of a report in format f, with its dot
// (".csv"), "" for an unknown format.
func Extension(f Format) string {
	if !f.valid() {
		return ""
	}
	return "." + string(f)
}

// Write writes the summary s to w in format f, amounts with the scales of cur.
// Nothing is written for an unknown format. All three formats stream: memory
// does not grow with the number of findings beyond what s itself holds (XLSX
// sheets spill to temporary files past 16 MiB).
func Write(w io.Writer, s recon.Summary, f Format, cur Currencies) error {
	if err := write(w, &s, f, cur); err != nil {
		return fmt.Errorf("report: write run %d as %s: %w", s.RunID, f, err)
	}
	return nil
}

func write(w io.Writer, s *recon.Summary, f Format, cur Currencies) error {
	switch f {
	case CSV:
		return writeCSV(w, s, cur)
	case JSON:
		return writeJSON(w, s)
	case XLSX:
		return writeXLSX(w, s, cur)
	}
	return fmt.Errorf("%w %q", ErrUnknownFormat, string(f))
}

// WriteFile writes the summary s to the file at path in format f, amounts with
// the scales of cur. The report
// is written to a temporary file in the same folder and renamed into place, so
// that path never holds a partial report; the file is readable by its owner
// only (0600), since it carries the merchant's figures.
func WriteFile(path string, s recon.Summary, f Format, cur Currencies) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("report: write run %d as %s to %s: %w", s.RunID, f, path, err)
		}
	}()
	if !f.valid() {
		return fmt.Errorf("%w %q", ErrUnknownFormat, string(f))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp, &s, f, cur); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
