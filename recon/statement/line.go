package statement

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
)

// Line is one good row of a statement: what the provider says it settled.
type Line struct {
	// LineNo is the physical line the row starts on (the header is line 1); 0
	// for a line that was not read from a file.
	LineNo int
	// OrderNo is the merchant order number tally sent the provider; empty for a
	// deposit that arrived without an order.
	OrderNo string
	// ProviderOrderID is the provider's id for the order, when the statement
	// states it.
	ProviderOrderID string
	// Kind is deposit or payout.
	Kind providers.OrderKind
	// Status is the order's status as the provider reports it.
	Status providers.Status
	// Amount is the gross amount this line settles (one part's amount for a
	// line with PartID), always positive.
	Amount decimal.Decimal
	// Fee is the provider's fee for the line; invalid when the statement does
	// not state one, which is not the same as a zero fee.
	Fee decimal.NullDecimal
	// Currency is the currency of Amount and Fee.
	Currency string
	// SettledAt is when the line settled, in UTC.
	SettledAt time.Time
	// PartID identifies one part of an order settled in several parts; empty
	// for an order settled at once.
	PartID string
	// Requested is what the order asked the payer for, in Currency, when the
	// provider's file says (optional column requested): it tells an
	// underpayment of a quoted order from a full one.
	Requested decimal.NullDecimal
}

// Column names, as the header spells them.
const (
	ColOrderNo         = "order_no"
	ColProviderOrderID = "provider_order_id"
	ColKind            = "kind"
	ColStatus          = "status"
	ColAmount          = "amount"
	ColFee             = "fee"
	ColCurrency        = "currency"
	ColSettledAt       = "settled_at"
	ColPartID          = "part_id"
	ColRequested       = "requested"
)

// Limits of the format.
const (
	// MaxFieldChars is the longest value, in characters, a known column may hold.
	MaxFieldChars = 128
	// MaxCurrencyChars is the longest currency code.
	MaxCurrencyChars = 16
	// MaxRowBytes bounds one row (including ignored columns) so that a reader's
	// memory stays bounded; a longer row stops the Reader with ErrRowTooLong.
	MaxRowBytes = 64 << 10
)

// column indexes the known columns; the order is the order the Writer writes
// them in and the order in which a row's fields are checked.
type column int

const (
	colOrderNo column = iota
	colProviderOrderID
	colKind
	colStatus
	colAmount
	colFee
	colCurrency
	colSettledAt
	colPartID
	colRequested
	numColumns
)

var columnNames = [numColumns]string{
	ColOrderNo, ColProviderOrderID, ColKind, ColStatus, ColAmount, ColFee, ColCurrency, ColSettledAt, ColPartID, ColRequested,
}

// Columns returns the known column names in the order the Writer writes them.
func Columns() []string { return append([]string(nil), columnNames[:]...) }

// spaceLayout is the second accepted settled_at layout, read as UTC.
const spaceLayout = "2006-01-02 15:04:05"

// Validate reports, as a *RowError with Line set to l.LineNo, the first field
// of l that a Reader would not return as it is: a Line that passes can be
// written and read back unchanged.
func (l Line) Validate() error {
	if _, err := l.format(l.LineNo); err != nil {
		return err
	}
	return nil
}

// format renders l's fields in column order, or returns the first field that
// breaks the format as a RowError on line lineNo.
func (l Line) format(lineNo int) ([numColumns]string, *RowError) {
	var f [numColumns]string
	bad := func(c column, value, reason string) ([numColumns]string, *RowError) {
		return f, newRowError(lineNo, columnNames[c], value, reason)
	}
	if l.OrderNo == "" && l.ProviderOrderID == "" {
		return bad(colOrderNo, "", "order_no or provider_order_id is required")
	}
	for _, id := range []struct {
		c column
		v string
	}{{colOrderNo, l.OrderNo}, {colProviderOrderID, l.ProviderOrderID}, {colPartID, l.PartID}} {
		if reason := checkIdentifier(id.v); reason != "" {
			return bad(id.c, id.v, reason)
		}
		if strings.TrimSpace(id.v) != id.v {
			return bad(id.c, id.v, "surrounding spaces would be lost")
		}
		f[id.c] = id.v
	}
	if k, ok := parseKind(string(l.Kind)); !ok || k != l.Kind {
		return bad(colKind, string(l.Kind), "must be deposit or payout")
	}
	f[colKind] = string(l.Kind)
	if st, ok := parseStatus(string(l.Status)); !ok || st != l.Status {
		return bad(colStatus, string(l.Status), "must be one of "+statusList)
	}
	f[colStatus] = string(l.Status)
	f[colAmount] = formatDecimal(l.Amount)
	if !l.Amount.IsPositive() {
		return bad(colAmount, f[colAmount], "must be positive")
	}
	if len(f[colAmount]) > MaxFieldChars {
		return bad(colAmount, f[colAmount], tooLong)
	}
	if l.Fee.Valid {
		f[colFee] = formatDecimal(l.Fee.Decimal)
		if l.Fee.Decimal.IsNegative() {
			return bad(colFee, f[colFee], "must not be negative")
		}
		if len(f[colFee]) > MaxFieldChars {
			return bad(colFee, f[colFee], tooLong)
		}
	}
	if l.Requested.Valid {
		f[colRequested] = formatDecimal(l.Requested.Decimal)
		if !l.Requested.Decimal.IsPositive() {
			return bad(colRequested, f[colRequested], "must be positive")
		}
		if len(f[colRequested]) > MaxFieldChars {
			return bad(colRequested, f[colRequested], tooLong)
		}
	}
	if reason := checkCurrency(l.Currency); reason != "" {
		return bad(colCurrency, l.Currency, reason)
	}
	f[colCurrency] = l.Currency
	if reason := checkTime(l.SettledAt); reason != "" {
		return bad(colSettledAt, l.SettledAt.String(), reason)
	}
	f[colSettledAt] = l.SettledAt.UTC().Format(time.RFC3339Nano)
	return f, nil
}

// formatDecimal writes d with its own scale ("99.90" stays "99.90"), never
// with an exponent.
func formatDecimal(d decimal.Decimal) string {
	if d.Exponent() < 0 {
		return d.StringFixed(-d.Exponent())
	}
	return d.String()
}

// Reasons shared by the Reader and Validate.
const (
	tooLong    = "longer than 128 characters"
	statusList = "succeeded, failed, expired, reversed, pending, processing"
)

// checkIdentifier returns why s cannot be an order number, provider order id
// or part id, or "".
func checkIdentifier(s string) string {
	if len(s) > MaxFieldChars && utf8.RuneCountInString(s) > MaxFieldChars {
		return tooLong
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return "not valid UTF-8"
			}
		}
		if unicode.IsControl(r) {
			return "contains a control character"
		}
	}
	return ""
}

// checkCurrency returns why s cannot be a currency code, or "".
func checkCurrency(s string) string {
	if s == "" {
		return "required"
	}
	if len(s) > MaxCurrencyChars {
		return "longer than 16 characters"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return "must be upper-case letters and digits"
		}
	}
	return ""
}

// checkTime returns why t cannot be a settlement time, or "".
func checkTime(t time.Time) string {
	if t.IsZero() {
		return "required"
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return "year outside 0001-9999"
	}
	return ""
}

// parseKind reads a kind, case-insensitively.
func parseKind(s string) (providers.OrderKind, bool) {
	for _, k := range [...]providers.OrderKind{providers.KindDeposit, providers.KindPayout} {
		if strings.EqualFold(s, string(k)) {
			return k, true
		}
	}
	return "", false
}

// parseStatus reads a status, case-insensitively.
func parseStatus(s string) (providers.Status, bool) {
	for _, st := range [...]providers.Status{
		providers.StatusSucceeded, providers.StatusFailed, providers.StatusExpired,
		providers.StatusReversed, providers.StatusPending, providers.StatusProcessing,
	} {
		if strings.EqualFold(s, string(st)) {
			return st, true
		}
	}
	return "", false
}

// parseDecimal reads a plain decimal: digits with an optional fraction, no
// sign, exponent or separator. It returns the reason when s is not one.
func parseDecimal(s string) (decimal.Decimal, string) {
	if s == "" {
		return decimal.Decimal{}, "required"
	}
	if len(s) > MaxFieldChars {
		return decimal.Decimal{}, tooLong
	}
	point := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && point < 0:
			point = i
		case c == '+' || c == '-':
			return decimal.Decimal{}, "a sign is not allowed"
		case c == 'e' || c == 'E':
			return decimal.Decimal{}, "an exponent is not allowed"
		case c == ',' || c == '\'' || c == '_' || c == ' ':
			return decimal.Decimal{}, fmt.Sprintf("%q is not allowed: no thousands separators or decimal commas", c)
		default:
			if strings.HasPrefix(s[i:], "\u2212") { // a Unicode minus sign
				return decimal.Decimal{}, "a sign is not allowed"
			}
			return decimal.Decimal{}, "not a decimal number"
		}
	}
	if point == 0 || point == len(s)-1 {
		return decimal.Decimal{}, "not a decimal number: digits are required on both sides of the point"
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, "not a decimal number"
	}
	return d, ""
}

// parseTime reads an RFC 3339 time, or YYYY-MM-DD HH:MM:SS as UTC.
func parseTime(s string) (time.Time, string) {
	if s == "" {
		return time.Time{}, "required"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.Parse(spaceLayout, s)
	}
	if err != nil {
		return time.Time{}, "not an RFC 3339 time or YYYY-MM-DD HH:MM:SS"
	}
	t = t.UTC()
	if reason := checkTime(t); reason != "" {
		return time.Time{}, reason
	}
	return t, ""
}
