package statement

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// ErrRowTooLong stops a Reader at a row longer than MaxRowBytes.
var ErrRowTooLong = errors.New("statement row too long")

// RowError is a bad row: the Reader reports it and goes on with the next row on
// the following call to Next. Callers tell it from a fatal error with errors.As.
// It encodes to JSON with snake_case keys, as the API reports bad rows.
type RowError struct {
	// Line is the 1-based physical line of the file (the header is line 1) the
	// offending field starts on; see the package doc.
	Line int `json:"line"`
	// Column is the name of the offending column; empty when the row as a whole
	// is malformed (wrong number of fields, broken quoting).
	Column string `json:"column,omitempty"`
	// Value is the offending value as found, cut to 64 bytes.
	Value string `json:"value,omitempty"`
	// Reason says what is wrong with it.
	Reason string `json:"reason"`
}

// maxValueBytes bounds RowError.Value.
const maxValueBytes = 64

func newRowError(line int, column, value, reason string) *RowError {
	if len(value) > maxValueBytes {
		cut := maxValueBytes
		for cut > 0 && !utf8.RuneStart(value[cut]) {
			cut--
		}
		value = value[:cut] + "…"
	}
	return &RowError{Line: line, Column: column, Value: value, Reason: reason}
}

// Error implements error: "statement line 7: amount "1e3": an exponent is not allowed".
func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("statement line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("statement line %d: %s %q: %s", e.Line, e.Column, e.Value, e.Reason)
}

// HeaderError is a header the Reader cannot work with: no header at all, a
// required column missing, a known column named twice. NewReader returns it;
// callers tell it apart with errors.As.
type HeaderError struct {
	// Column is the column concerned; empty when the header as a whole is bad.
	Column string
	// Reason says what is wrong.
	Reason string
}

// Error implements error.
func (e *HeaderError) Error() string {
	if e.Column == "" {
		return "statement header: " + e.Reason
	}
	return fmt.Sprintf("statement header: column %s: %s", e.Column, e.Reason)
}

// Reader reads a statement one line at a time, holding one row in memory (see
// the package doc for the format and the one exception to that).
type Reader struct {
	csv   *csv.Reader
	limit *rowLimiter
	// index is the record index of each known column, -1 when absent.
	index [numColumns]int
	width int
	// last is the line the last row read starts on.
	last int
	// parts maps a hash of (kind, order, part id) to the line it was first seen on.
	parts  map[[2]uint64]int
	h1, h2 maphash.Hash
	// err is the fatal error (or io.EOF) every later call returns.
	err error
}

// NewReader reads and checks the header of a statement. A header that lacks a
// required column or names a known column twice is a *HeaderError naming it.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && string(bom) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	limit := &rowLimiter{r: br}
	cr := csv.NewReader(limit)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1 // the header sets the width below
	header, err := cr.Read()
	limit.reset()
	switch {
	case limit.tripped:
		return nil, &HeaderError{Reason: fmt.Sprintf("longer than %d bytes", MaxRowBytes)}
	case errors.Is(err, io.EOF):
		return nil, &HeaderError{Reason: "the file is empty: a header row is required"}
	case err != nil:
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &HeaderError{Reason: "malformed CSV: " + pe.Err.Error()}
		}
		return nil, fmt.Errorf("statement: read header: %w", err)
	}
	sr := &Reader{csv: cr, limit: limit, width: len(header), last: 1, parts: map[[2]uint64]int{}}
	seed1, seed2 := maphash.MakeSeed(), maphash.MakeSeed()
	sr.h1.SetSeed(seed1)
	sr.h2.SetSeed(seed2)
	for c := range sr.index {
		sr.index[c] = -1
	}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(name))
		for c, known := range columnNames {
			if name != known {
				continue
			}
			if sr.index[c] >= 0 {
				return nil, &HeaderError{Column: known, Reason: fmt.Sprintf("named twice (fields %d and %d)", sr.index[c]+1, i+1)}
			}
			sr.index[c] = i
		}
	}
	if sr.index[colOrderNo] < 0 && sr.index[colProviderOrderID] < 0 {
		return nil, &HeaderError{Column: ColOrderNo, Reason: "missing: order_no or provider_order_id is required"}
	}
	for _, c := range [...]column{colKind, colStatus, colAmount, colCurrency, colSettledAt} {
		if sr.index[c] < 0 {
			return nil, &HeaderError{Column: columnNames[c], Reason: "missing: the column is required"}
		}
	}
	cr.FieldsPerRecord = len(header)
	return sr, nil
}

// Next returns the next good line. A bad row is a *RowError, after which the
// following call goes on with the next row; io.EOF ends the statement; any
// other error is fatal and returned again by every later call.
func (r *Reader) Next() (Line, error) {
	if r.err != nil {
		return Line{}, r.err
	}
	rec, err := r.csv.Read()
	r.limit.reset()
	if r.limit.tripped {
		r.err = fmt.Errorf("statement: a row after line %d is longer than %d bytes: %w", r.last, MaxRowBytes, ErrRowTooLong)
		return Line{}, r.err
	}
	if err != nil {
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount):
			r.last = pe.StartLine
			return Line{}, newRowError(pe.StartLine, "", "", fmt.Sprintf("%d fields, the header has %d", len(rec), r.width))
		case errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote)):
			r.last = pe.Line
			reason := "malformed CSV: " + pe.Err.Error()
			if pe.StartLine != pe.Line {
				reason += fmt.Sprintf(" (in the row starting on line %d)", pe.StartLine)
			}
			return Line{}, newRowError(pe.Line, "", "", reason)
		case errors.Is(err, io.EOF):
			r.err = io.EOF
		default:
			r.err = fmt.Errorf("statement: read: %w", err)
		}
		return Line{}, r.err
	}
	r.last, _ = r.csv.FieldPos(0)
	return r.parse(rec)
}

// parse checks one record field by field, in column order, and returns the
// first problem as a RowError.
func (r *Reader) parse(rec []string) (Line, error) {
	l := Line{LineNo: r.last}
	var bad *RowError
	// field returns the trimmed value of column c ("" when absent), or records
	// a RowError for a value that is too long.
	field := func(c column) string {
		i := r.index[c]
		if i < 0 || bad != nil {
			return ""
		}
		v := strings.TrimSpace(rec[i])
		if len(v) > MaxFieldChars && utf8.RuneCountInString(v) > MaxFieldChars {
			bad = r.rowError(c, rec[i], tooLong)
		}
		return v
	}
	fail := func(c column, reason string) {
		if bad == nil {
			bad = r.rowError(c, rec[r.index[c]], reason)
		}
	}

	l.OrderNo = field(colOrderNo)
	if reason := checkIdentifier(l.OrderNo); reason != "" {
		fail(colOrderNo, reason)
	}
	l.ProviderOrderID = field(colProviderOrderID)
	if reason := checkIdentifier(l.ProviderOrderID); reason != "" {
		fail(colProviderOrderID, reason)
	}
	if l.OrderNo == "" && l.ProviderOrderID == "" && bad == nil {
		c := colOrderNo
		if r.index[c] < 0 {
			c = colProviderOrderID
		}
		fail(c, "order_no or provider_order_id is required")
	}
	if v := field(colKind); bad == nil {
		var ok bool
		if l.Kind, ok = parseKind(v); !ok {
			fail(colKind, orRequired(v, "must be deposit or payout"))
		}
	}
	if v := field(colStatus); bad == nil {
		var ok bool
		if l.Status, ok = parseStatus(v); !ok {
			fail(colStatus, orRequired(v, "must be one of "+statusList))
		}
	}
	if v := field(colAmount); bad == nil {
		var reason string
		if l.Amount, reason = parseDecimal(v); reason == "" && !l.Amount.IsPositive() {
			reason = "must be positive"
		}
		if reason != "" {
			fail(colAmount, reason)
		}
	}
	if v := field(colFee); bad == nil && v != "" {
		fee, reason := parseDecimal(v)
		if reason != "" {
			fail(colFee, reason)
		}
		l.Fee = decimal.NullDecimal{Decimal: fee, Valid: true}
	}
	if v := field(colRequested); bad == nil && v != "" {
		req, reason := parseDecimal(v)
		if reason == "" && !req.IsPositive() {
			reason = "must be positive"
		}
		if reason != "" {
			fail(colRequested, reason)
		}
		l.Requested = decimal.NullDecimal{Decimal: req, Valid: true}
	}
	if v := field(colCurrency); bad == nil {
		if reason := checkCurrency(v); reason != "" {
			fail(colCurrency, reason)
		}
		l.Currency = v
	}
	if v := field(colSettledAt); bad == nil {
		var reason string
		if l.SettledAt, reason = parseTime(v); reason != "" {
			fail(colSettledAt, reason)
		}
	}
	if l.PartID = field(colPartID); bad == nil {
		if reason := checkIdentifier(l.PartID); reason != "" {
			fail(colPartID, reason)
		}
	}
	if bad == nil && l.PartID != "" {
		bad = r.checkPart(l)
	}
	if bad != nil {
		return Line{}, bad
	}
	return l, nil
}

// rowError reports column c of the current record, on the line its field starts.
func (r *Reader) rowError(c column, value, reason string) *RowError {
	line, _ := r.csv.FieldPos(r.index[c])
	return newRowError(line, columnNames[c], value, reason)
}

// checkPart remembers l's part and reports a part id seen before for the same
// order.
func (r *Reader) checkPart(l Line) *RowError {
	key := l.OrderNo
	tag := byte('n')
	if key == "" {
		key, tag = l.ProviderOrderID, 'p'
	}
	var k [2]uint64
	for i, h := range [...]*maphash.Hash{&r.h1, &r.h2} {
		h.Reset()
		_, _ = h.WriteString(string(l.Kind))
		_ = h.WriteByte(tag)
		_, _ = h.WriteString(key)
		_ = h.WriteByte(0)
		_, _ = h.WriteString(l.PartID)
		k[i] = h.Sum64()
	}
	if first, seen := r.parts[k]; seen {
		return r.rowError(colPartID, l.PartID, fmt.Sprintf("part id repeated for %s %s (first on line %d)", l.Kind, key, first))
	}
	r.parts[k] = l.LineNo
	return nil
}

func orRequired(v, reason string) string {
	if v == "" {
		return "required"
	}
	return reason
}

// rowLimiter sits under the csv reader and fails once more than MaxRowBytes
// (plus the csv reader's read-ahead) pass without a row being returned.
type rowLimiter struct {
	r       io.Reader
	n       int
	tripped bool // sticky: the csv reader must not resume inside the long row
}

// readAhead is what csv.Reader's bufio.Reader may read beyond the row it returns.
const readAhead = 4096

func (l *rowLimiter) Read(p []byte) (int, error) {
	if l.tripped || l.n > MaxRowBytes+readAhead {
		l.tripped = true
		return 0, ErrRowTooLong
	}
	n, err := l.r.Read(p)
	l.n += n
	return n, err
}

func (l *rowLimiter) reset() { l.n = 0 }
