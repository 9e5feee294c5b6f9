package recon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/tallyhq/tally/db/recondb"
	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon/statement"
)

// Saved column mappings (statement_mappings): how a provider's or a bank's
// own CSV or XLSX export becomes tally's statement lines (package statement),
// so that the file is imported as it was downloaded. A mapping names, for
// each statement field, the header of the file's column that holds it, and
// says how to read the file's dates, amounts and words. ImportMapped turns
// every row into a statement.Line, checked as the statement Reader checks a
// row, and imports them as Import does; a bad row is reported with the line
// (CSV) or row (XLSX) number of the original file.

// Errors of mappings.
var (
	// ErrMappingExists: the merchant has a mapping of that name.
	ErrMappingExists = errors.New("a mapping of that name exists")
)

// MappingFormat is the kind of file a mapping reads.
type MappingFormat string

// The formats a mapping reads.
const (
	FormatCSV  MappingFormat = "csv"
	FormatXLSX MappingFormat = "xlsx"
)

// AmountSign says how a file shows which way money went.
type AmountSign string

// The amount sign conventions.
const (
	// SignPositive: amounts are positive; the kind comes from the kind
	// column or the mapping's default kind.
	SignPositive AmountSign = "positive"
	// SignSigned: one signed amount column, a credit (positive) is a
	// deposit and a debit (negative) a payout, unless a kind column says.
	SignSigned AmountSign = "signed"
	// SignDebitCredit: separate credit (deposit) and debit (payout) columns,
	// as bank statements have.
	SignDebitCredit AmountSign = "debit_credit"
)

// The fields a mapping may fill beyond the statement's columns.
const (
	// FieldCredit is the credit column of a debit_credit file.
	FieldCredit = "credit"
	// FieldDebit is the debit column of a debit_credit file.
	FieldDebit = "debit"
)

// MappingField is a field a mapping may fill, with what it means, for forms.
type MappingField struct {
	Name string
	Help string
}

// MappingFields lists the fields a mapping may fill, in the order a form
// shows them.
var MappingFields = []MappingField{
	{statement.ColOrderNo, "the merchant order number tally sent the provider (or the bank's reference)"},
	{statement.ColProviderOrderID, "the provider's own id for the order"},
	{statement.ColKind, "deposit or payout (or words mapped below)"},
	{statement.ColStatus, "the order's status (or words mapped below)"},
	{statement.ColAmount, "the gross amount (positive or signed convention)"},
	{FieldCredit, "money in: a deposit (debit/credit convention)"},
	{FieldDebit, "money out: a payout (debit/credit convention)"},
	{statement.ColFee, "the provider's fee (its sign is ignored)"},
	{statement.ColCurrency, "the currency code"},
	{statement.ColSettledAt, "when the line settled (date format below)"},
	{statement.ColPartID, "the id of one part of an order settled in parts"},
	{statement.ColRequested, "what the order asked the payer for"},
}

// Mapping is a saved column mapping of a merchant.
type Mapping struct {
	ID         int64         `json:"id"`
	MerchantID int64         `json:"merchant_id"`
	Name       string        `json:"name"`
	Format     MappingFormat `json:"format"`
	// Delimiter separates a CSV file's fields: ',', ';', '\t' or '|'.
	Delimiter rune `json:"delimiter"`
	// Sheet is the XLSX sheet read; empty is the first.
	Sheet string `json:"sheet,omitempty"`
	// HeaderRow is the 1-based row (CSV record or XLSX row) holding the
	// column headers; the rows above it are a preamble and skipped.
	HeaderRow int `json:"header_row"`
	// Columns maps a field (MappingFields) to the header of its column,
	// matched case-insensitively, surrounding spaces ignored.
	Columns map[string]string `json:"columns"`
	// DateFormat is a pattern of YYYY, YY, MM, DD, HH, mm and ss with
	// separators ("DD/MM/YYYY HH:mm"); empty reads RFC 3339, YYYY-MM-DD
	// HH:mm:ss or YYYY-MM-DD. XLSX date cells are read as dates whatever it says.
	DateFormat string `json:"date_format,omitempty"`
	// TimeZone is the IANA zone the file's times without an offset are in.
	TimeZone   string     `json:"time_zone"`
	AmountSign AmountSign `json:"amount_sign"`
	// DecimalComma: amounts are written 1.234,56.
	DecimalComma bool `json:"decimal_comma"`
	// DefaultKind, DefaultStatus and DefaultCurrency fill a field the file
	// has no column for (a bank statement has no status: succeeded).
	DefaultKind     providers.OrderKind `json:"default_kind,omitempty"`
	DefaultStatus   providers.Status    `json:"default_status,omitempty"`
	DefaultCurrency string              `json:"default_currency,omitempty"`
	// StatusValues and KindValues map the file's words (case-insensitive)
	// to tally's statuses and kinds: "Paid" -> succeeded.
	StatusValues map[string]providers.Status    `json:"status_values,omitempty"`
	KindValues   map[string]providers.OrderKind `json:"kind_values,omitempty"`
	CreatedBy    string                         `json:"created_by"`
	CreatedAt    time.Time                      `json:"created_at"`
}

// maxMappedErrors bounds the bad rows a mapped file reports (as Import).
const maxMappedErrors = maxBadRows

// Validate reports what makes m unusable, as an error wrapping ErrInvalid.
func (m *Mapping) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("mapping: "+format+": %w", append(args, ErrInvalid)...)
	}
	m.Name = strings.TrimSpace(m.Name)
	if m.Name == "" || utf8.RuneCountInString(m.Name) > 100 {
		return bad("a name of 1 to 100 characters is required")
	}
	switch m.Format {
	case FormatCSV:
		if m.Delimiter == 0 {
			m.Delimiter = ','
		}
		if !strings.ContainsRune(",;\t|", m.Delimiter) {
			return bad("the CSV delimiter must be a comma, semicolon, tab or |")
		}
	case FormatXLSX:
		m.Delimiter = ','
	default:
		return bad("format %q: csv or xlsx", m.Format)
	}
	if m.HeaderRow == 0 {
		m.HeaderRow = 1
	}
	if m.HeaderRow < 1 || m.HeaderRow > 1000 {
		return bad("the header row must be between 1 and 1000")
	}
	known := map[string]bool{}
	for _, f := range MappingFields {
		known[f.Name] = true
	}
	cols := map[string]string{}
	for f, h := range m.Columns {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if !known[f] {
			return bad("unknown field %q", f)
		}
		cols[f] = h
	}
	m.Columns = cols
	has := func(f string) bool { return cols[f] != "" }
	if !has(statement.ColOrderNo) && !has(statement.ColProviderOrderID) {
		return bad("map order_no or provider_order_id")
	}
	if !has(statement.ColSettledAt) {
		return bad("map settled_at")
	}
	switch m.AmountSign {
	case SignPositive, SignSigned:
		if !has(statement.ColAmount) {
			return bad("map amount")
		}
		if has(FieldCredit) || has(FieldDebit) {
			return bad("credit and debit columns need the debit/credit convention")
		}
	case SignDebitCredit:
		if !has(FieldCredit) && !has(FieldDebit) {
			return bad("map credit or debit (or both)")
		}
		if has(statement.ColAmount) {
			return bad("the debit/credit convention reads credit and debit, not amount")
		}
	default:
		return bad("amount sign %q: positive, signed or debit_credit", m.AmountSign)
	}
	if m.DefaultKind != "" && m.DefaultKind != providers.KindDeposit && m.DefaultKind != providers.KindPayout {
		return bad("default kind %q: deposit or payout", m.DefaultKind)
	}
	if !has(statement.ColKind) && m.AmountSign == SignPositive && m.DefaultKind == "" {
		return bad("map kind, choose a default kind, or use a signed convention")
	}
	if m.DefaultStatus != "" && !validStatus(string(m.DefaultStatus)) {
		return bad("default status %q: one of succeeded, failed, expired, reversed, pending, processing", m.DefaultStatus)
	}
	if !has(statement.ColStatus) && m.DefaultStatus == "" {
		return bad("map status or choose a default status")
	}
	m.DefaultCurrency = strings.ToUpper(strings.TrimSpace(m.DefaultCurrency))
	if m.DefaultCurrency != "" && !validCurrency(m.DefaultCurrency) {
		return bad("default currency %q: upper-case letters and digits", m.DefaultCurrency)
	}
	if !has(statement.ColCurrency) && m.DefaultCurrency == "" {
		return bad("map currency or give a default currency")
	}
	if _, err := dateLayout(m.DateFormat); err != nil {
		return bad("date format: %v", err)
	}
	if m.TimeZone == "" {
		m.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(m.TimeZone); err != nil {
		return bad("time zone %q is not an IANA zone", m.TimeZone)
	}
	sv := map[string]providers.Status{}
	for k, v := range m.StatusValues {
		if !validStatus(string(v)) {
			return bad("status value %q -> %q: not a status", k, v)
		}
		sv[strings.ToLower(strings.TrimSpace(k))] = v
	}
	m.StatusValues = sv
	kv := map[string]providers.OrderKind{}
	for k, v := range m.KindValues {
		if v != providers.KindDeposit && v != providers.KindPayout {
			return bad("kind value %q -> %q: deposit or payout", k, v)
		}
		kv[strings.ToLower(strings.TrimSpace(k))] = v
	}
	m.KindValues = kv
	return nil
}

func validStatus(s string) bool {
	switch providers.Status(s) {
	case providers.StatusSucceeded, providers.StatusFailed, providers.StatusExpired,
		providers.StatusReversed, providers.StatusPending, providers.StatusProcessing:
		return true
	}
	return false
}

func validCurrency(s string) bool {
	if s == "" || len(s) > statement.MaxCurrencyChars {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// dateLayout turns a date pattern (YYYY MM DD HH mm ss and separators) into
// a Go layout; "" is "" (the default layouts).
func dateLayout(pattern string) (string, error) {
	if pattern == "" {
		return "", nil
	}
	tokens := []struct{ tok, layout string }{
		{"YYYY", "2006"}, {"YY", "06"}, {"MM", "01"}, {"DD", "02"}, {"HH", "15"}, {"mm", "04"}, {"ss", "05"},
	}
	var b strings.Builder
	var date, day bool
outer:
	for i := 0; i < len(pattern); {
		for _, t := range tokens {
			if strings.HasPrefix(pattern[i:], t.tok) {
				b.WriteString(t.layout)
				i += len(t.tok)
				date = date || t.tok == "YYYY" || t.tok == "YY"
				day = day || t.tok == "DD"
				continue outer
			}
		}
		c := pattern[i]
		if !strings.ContainsRune(" -/.:T,", rune(c)) {
			return "", fmt.Errorf("%q: use YYYY, YY, MM, DD, HH, mm, ss and the separators - / . : T , or space", pattern)
		}
		b.WriteByte(c)
		i++
	}
	if !date || !day || !strings.Contains(pattern, "MM") {
		return "", fmt.Errorf("%q: a date needs YYYY (or YY), MM and DD", pattern)
	}
	return b.String(), nil
}

// SaveMapping validates and stores a new mapping; a name the merchant has
// used is ErrMappingExists.
func (s *Service) SaveMapping(ctx context.Context, m Mapping) (Mapping, error) {
	if err := m.Validate(); err != nil {
		return Mapping{}, err
	}
	cols, _ := json.Marshal(m.Columns)
	sv, _ := json.Marshal(m.StatusValues)
	kv, _ := json.Marshal(m.KindValues)
	row, err := s.q.InsertMapping(ctx, recondb.InsertMappingParams{MerchantID: m.MerchantID, Name: m.Name, Format: string(m.Format),
		Delimiter: string(m.Delimiter), Sheet: m.Sheet, HeaderRow: int32(m.HeaderRow), Columns: cols, DateFormat: m.DateFormat,
		TimeZone: m.TimeZone, AmountSign: string(m.AmountSign), DecimalComma: m.DecimalComma, DefaultKind: string(m.DefaultKind),
		DefaultStatus: string(m.DefaultStatus), DefaultCurrency: m.DefaultCurrency, StatusValues: sv, KindValues: kv, CreatedBy: m.CreatedBy})
	if errors.Is(err, pgx.ErrNoRows) {
		return Mapping{}, fmt.Errorf("mapping %q: %w", m.Name, ErrMappingExists)
	}
	if err != nil {
		return Mapping{}, fmt.Errorf("save mapping %q: %w", m.Name, err)
	}
	return mappingFrom(row)
}

// MappingByID returns a saved mapping (ErrNotFound when there is none).
func (s *Service) MappingByID(ctx context.Context, id int64) (Mapping, error) {
	row, err := s.q.MappingByID(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Mapping{}, fmt.Errorf("mapping %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Mapping{}, fmt.Errorf("mapping %d: %w", id, err)
	}
	return mappingFrom(row)
}

// Mappings lists the saved mappings of some merchants (nil: every merchant;
// empty: none), by merchant and name, at most 500.
func (s *Service) Mappings(ctx context.Context, merchantIDs []int64) ([]Mapping, error) {
	if merchantIDs != nil && len(merchantIDs) == 0 {
		return nil, nil
	}
	rows, err := s.q.ListMappings(ctx, merchantIDs)
	if err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	out := make([]Mapping, 0, len(rows))
	for _, r := range rows {
		m, err := mappingFrom(r)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func mappingFrom(r recondb.StatementMapping) (Mapping, error) {
	m := Mapping{ID: r.ID, MerchantID: r.MerchantID, Name: r.Name, Format: MappingFormat(r.Format), Sheet: r.Sheet,
		HeaderRow: int(r.HeaderRow), DateFormat: r.DateFormat, TimeZone: r.TimeZone, AmountSign: AmountSign(r.AmountSign),
		DecimalComma: r.DecimalComma, DefaultKind: providers.OrderKind(r.DefaultKind), DefaultStatus: providers.Status(r.DefaultStatus),
		DefaultCurrency: r.DefaultCurrency, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
	m.Delimiter, _ = utf8.DecodeRuneInString(r.Delimiter)
	for _, j := range []struct {
		b []byte
		v any
	}{{r.Columns, &m.Columns}, {r.StatusValues, &m.StatusValues}, {r.KindValues, &m.KindValues}} {
		if err := json.Unmarshal(j.b, j.v); err != nil {
			return Mapping{}, fmt.Errorf("mapping %d: %w", r.ID, err)
		}
	}
	return m, nil
}

// ImportMapped imports a provider's or bank's own export through a saved
// mapping of the same merchant: each row becomes a statement line, checked
// as a line of tally's format is, and the lines are imported as Import does
// (bad rows refuse the file unless opts.AllowBadRows, the same file twice is
// one statement). Line numbers, stored and reported, are the original file's.
func (s *Service) ImportMapped(ctx context.Context, merchantID int64, account, filename string, r io.Reader, m Mapping, opts ImportOptions) (ImportResult, error) {
	if m.MerchantID != merchantID {
		return ImportResult{}, fmt.Errorf("mapping %q belongs to another merchant: %w", m.Name, ErrNotFound)
	}
	acct, err := s.merchants.ProviderAccount(ctx, merchantID, account)
	if err != nil || acct.MerchantID != merchantID {
		return ImportResult{}, fmt.Errorf("provider account %q: %w", account, ErrNotFound)
	}
	h := sha256.New()
	src, err := m.Open(io.TeeReader(r, h))
	if err != nil {
		return ImportResult{}, fmt.Errorf("statement %s: %w", filename, err)
	}
	return s.importLines(ctx, merchantID, acct, filename, src, h, opts)
}

// MappedReader reads a file through a mapping, one statement line at a
// time, as statement.Reader reads tally's format: Next returns a good Line
// (its LineNo the original line or row number), a *statement.RowError for a
// bad row, or io.EOF.
type MappedReader struct {
	m       Mapping
	loc     *time.Location
	layout  string
	headers []string
	index   map[string]int // field -> column index
	next    func() ([]string, []bool, int, error)
	parts   map[string]int
	err     error
}

// Headers are the file's column headers, as its header row spells them.
func (r *MappedReader) Headers() []string { return r.headers }

// Open reads the preamble and the header row of a file through m and
// returns a reader of its lines. A header row that lacks a mapped column is
// an error wrapping ErrInvalid that names it. An XLSX file is read whole
// into memory (callers bound its size); a CSV file is streamed.
func (m Mapping) Open(r io.Reader) (*MappedReader, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	mr := &MappedReader{m: m, index: map[string]int{}, parts: map[string]int{}}
	mr.loc, _ = time.LoadLocation(m.TimeZone)
	mr.layout, _ = dateLayout(m.DateFormat)
	var err error
	switch m.Format {
	case FormatXLSX:
		mr.next, err = xlsxRows(r, m.Sheet)
	default:
		mr.next = csvRows(r, m.Delimiter)
	}
	if err != nil {
		return nil, err
	}
	for {
		rec, _, line, err := mr.next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("the file ends before its header row %d: %w", m.HeaderRow, ErrInvalid)
		}
		var re *statement.RowError
		if errors.As(err, &re) {
			if re.Line < m.HeaderRow {
				continue // a preamble line that is not CSV
			}
			return nil, fmt.Errorf("header row %d: %s: %w", m.HeaderRow, re.Reason, ErrInvalid)
		}
		if err != nil {
			return nil, err
		}
		if line < m.HeaderRow {
			continue
		}
		mr.headers = make([]string, len(rec))
		for i, h := range rec {
			mr.headers[i] = strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF"))
		}
		break
	}
	for _, f := range MappingFields {
		want := m.Columns[f.Name]
		if want == "" {
			continue
		}
		found := -1
		for i, h := range mr.headers {
			if strings.EqualFold(h, want) {
				found = i
				break
			}
		}
		if found < 0 {
			return nil, fmt.Errorf("column %q (%s) is not in the header row %d (%s): %w", want, f.Name, m.HeaderRow,
				strings.Join(mr.headers, ", "), ErrInvalid)
		}
		mr.index[f.Name] = found
	}
	return mr, nil
}

// Next returns the next good line, a *statement.RowError for a bad row, or
// io.EOF; any other error is fatal and returned again by later calls.
func (r *MappedReader) Next() (statement.Line, error) {
	for r.err == nil {
		rec, numeric, line, err := r.next()
		var re *statement.RowError
		if errors.As(err, &re) {
			return statement.Line{}, re
		}
		if err != nil {
			r.err = err
			break
		}
		if r.blank(rec) {
			continue
		}
		return r.line(rec, numeric, line)
	}
	return statement.Line{}, r.err
}

// blank: no mapped field has a value (an empty row, a spacer).
func (r *MappedReader) blank(rec []string) bool {
	for _, i := range r.index {
		if i < len(rec) && strings.TrimSpace(rec[i]) != "" {
			return false
		}
	}
	return true
}

// line maps one row to a statement line.
func (r *MappedReader) line(rec []string, numeric []bool, lineNo int) (statement.Line, error) {
	m := r.m
	get := func(f string) (string, bool) {
		i, ok := r.index[f]
		if !ok || i >= len(rec) {
			return "", false
		}
		return strings.TrimSpace(rec[i]), i < len(numeric) && numeric[i]
	}
	bad := func(f, value, reason string) (statement.Line, error) {
		col := m.Columns[f]
		if col == "" {
			col = f
		} else if !strings.EqualFold(col, f) {
			reason = f + ": " + reason
		}
		if len(value) > 64 {
			value = value[:64] + "…"
		}
		return statement.Line{}, &statement.RowError{Line: lineNo, Column: col, Value: value, Reason: reason}
	}
	l := statement.Line{LineNo: lineNo}
	l.OrderNo, _ = get(statement.ColOrderNo)
	l.ProviderOrderID, _ = get(statement.ColProviderOrderID)
	l.PartID, _ = get(statement.ColPartID)

	var kindFromSign providers.OrderKind
	switch m.AmountSign {
	case SignDebitCredit:
		cv, cn := get(FieldCredit)
		dv, dn := get(FieldDebit)
		credit, reason := parseAmount(cv, m.DecimalComma, cn)
		if reason != "" && reason != "required" {
			return bad(FieldCredit, cv, reason)
		}
		debit, reason := parseAmount(dv, m.DecimalComma, dn)
		if reason != "" && reason != "required" {
			return bad(FieldDebit, dv, reason)
		}
		switch {
		case !credit.IsZero() && !debit.IsZero():
			return bad(FieldCredit, cv, "both credit and debit hold an amount")
		case !credit.IsZero():
			l.Amount, kindFromSign = credit.Abs(), providers.KindDeposit
		case !debit.IsZero():
			l.Amount, kindFromSign = debit.Abs(), providers.KindPayout
		default:
			f := FieldCredit
			if _, ok := r.index[f]; !ok {
				f = FieldDebit
			}
			return bad(f, "", "credit or debit is required")
		}
	default:
		v, num := get(statement.ColAmount)
		a, reason := parseAmount(v, m.DecimalComma, num)
		if reason != "" {
			return bad(statement.ColAmount, v, reason)
		}
		if m.AmountSign == SignPositive && a.IsNegative() {
			return bad(statement.ColAmount, v, "a sign is not allowed (the mapping says amounts are positive)")
		}
		if a.IsZero() {
			return bad(statement.ColAmount, v, "must not be zero")
		}
		kindFromSign = providers.KindDeposit
		if a.IsNegative() {
			kindFromSign = providers.KindPayout
		}
		l.Amount = a.Abs()
	}

	if _, ok := r.index[statement.ColKind]; ok {
		kv, _ := get(statement.ColKind)
		k, found := m.KindValues[strings.ToLower(kv)]
		if !found {
			switch strings.ToLower(kv) {
			case string(providers.KindDeposit), string(providers.KindPayout):
				k, found = providers.OrderKind(strings.ToLower(kv)), true
			}
		}
		if !found && kv == "" && m.DefaultKind != "" {
			k, found = m.DefaultKind, true
		}
		if !found {
			return bad(statement.ColKind, kv, orReq(kv, "not deposit or payout, nor a word the mapping knows"))
		}
		l.Kind = k
	} else if m.AmountSign == SignPositive {
		l.Kind = m.DefaultKind
	} else {
		l.Kind = kindFromSign
	}

	if _, ok := r.index[statement.ColStatus]; ok {
		sv, _ := get(statement.ColStatus)
		st, found := m.StatusValues[strings.ToLower(sv)]
		if !found && validStatus(strings.ToLower(sv)) {
			st, found = providers.Status(strings.ToLower(sv)), true
		}
		if !found && sv == "" && m.DefaultStatus != "" {
			st, found = m.DefaultStatus, true
		}
		if !found {
			return bad(statement.ColStatus, sv, orReq(sv, "not a status, nor a word the mapping knows"))
		}
		l.Status = st
	} else {
		l.Status = m.DefaultStatus
	}

	for _, opt := range []struct {
		f   string
		dst *decimal.NullDecimal
	}{{statement.ColFee, &l.Fee}, {statement.ColRequested, &l.Requested}} {
		v, num := get(opt.f)
		if v == "" {
			continue
		}
		d, reason := parseAmount(v, m.DecimalComma, num)
		if reason != "" {
			return bad(opt.f, v, reason)
		}
		*opt.dst = decimal.NullDecimal{Decimal: d.Abs(), Valid: true}
	}

	if _, ok := r.index[statement.ColCurrency]; ok {
		l.Currency, _ = get(statement.ColCurrency)
		l.Currency = strings.ToUpper(l.Currency)
		if l.Currency == "" {
			l.Currency = m.DefaultCurrency
		}
	} else {
		l.Currency = m.DefaultCurrency
	}

	dv, dnum := get(statement.ColSettledAt)
	t, reason := r.parseTime(dv, dnum)
	if reason != "" {
		return bad(statement.ColSettledAt, dv, reason)
	}
	l.SettledAt = t

	if err := l.Validate(); err != nil {
		var re *statement.RowError
		if errors.As(err, &re) {
			f := re.Column
			if _, mapped := r.index[f]; f == statement.ColOrderNo && !mapped {
				f = statement.ColProviderOrderID
			}
			return bad(f, re.Value, re.Reason)
		}
		return statement.Line{}, err
	}
	if l.PartID != "" {
		key, tag := l.OrderNo, "n"
		if key == "" {
			key, tag = l.ProviderOrderID, "p"
		}
		k := string(l.Kind) + "\x00" + tag + key + "\x00" + l.PartID
		if first, seen := r.parts[k]; seen {
			return bad(statement.ColPartID, l.PartID, fmt.Sprintf("part id repeated for %s %s (first on line %d)", l.Kind, key, first))
		}
		r.parts[k] = lineNo
	}
	return l, nil
}

func orReq(v, reason string) string {
	if v == "" {
		return "required"
	}
	return reason
}

// parseTime reads a settlement time: an XLSX date cell (a serial number), or
// text in the mapping's date format (default layouts without one), in its
// time zone unless the text has an offset.
func (r *MappedReader) parseTime(v string, numeric bool) (time.Time, string) {
	if v == "" {
		return time.Time{}, "required"
	}
	if numeric {
		serial, err := strconv.ParseFloat(v, 64)
		if err == nil && serial > 0 && serial < 2958466 {
			t, err := excelize.ExcelDateToTime(serial, false)
			if err == nil {
				// Rounded to the second: a serial's fraction is a binary float.
				t = t.Round(time.Second)
				return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, r.loc).UTC(), ""
			}
		}
	}
	if r.layout != "" {
		t, err := time.ParseInLocation(r.layout, v, r.loc)
		if err != nil {
			return time.Time{}, "not a date in the format " + r.m.DateFormat
		}
		return t.UTC(), ""
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), ""
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, r.loc); err == nil {
			return t.UTC(), ""
		}
	}
	return time.Time{}, "not an RFC 3339 time, YYYY-MM-DD HH:mm:ss or YYYY-MM-DD (set the mapping's date format)"
}

// parseAmount reads an amount as exports write them: a sign before or after
// it, parentheses for a negative, thousands separators, a currency code or
// symbol around it; with decimalComma the comma is the point. A numeric
// XLSX cell holds a binary float written in decimal: its shortest decimal
// form is the amount (1234.56, never 1234.5599999999999).
func parseAmount(v string, decimalComma, numeric bool) (decimal.Decimal, string) {
	if v == "" {
		return decimal.Decimal{}, "required"
	}
	if len(v) > statement.MaxFieldChars {
		return decimal.Decimal{}, "longer than 128 characters"
	}
	if numeric {
		f, err := strconv.ParseFloat(v, 64)
		if err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return decimal.NewFromFloat(f), ""
		}
	}
	s := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '\u00a0' || r == '\u202f' || r == '\'' {
			return -1
		}
		if r == '\u2212' {
			return '-'
		}
		return r
	}, v)
	neg := false
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		neg, s = true, s[1:len(s)-1]
	}
	// A currency code or symbol around the number, and signs on either side.
	isNum := func(r rune) bool { return r >= '0' && r <= '9' || r == '.' || r == ',' }
	start := strings.IndexFunc(s, isNum)
	end := strings.LastIndexFunc(s, isNum)
	if start < 0 {
		return decimal.Decimal{}, "not an amount"
	}
	pre, num, post := s[:start], s[start:end+1], s[end+1:]
	for _, side := range []string{pre, post} {
		for _, r := range side {
			switch {
			case r == '-':
				if neg {
					return decimal.Decimal{}, "not an amount: two signs"
				}
				neg = true
			case r == '+':
			case unicode.IsLetter(r) || unicode.Is(unicode.Sc, r):
			default:
				return decimal.Decimal{}, "not an amount"
			}
		}
	}
	if decimalComma {
		num = strings.ReplaceAll(num, ".", "")
		num = strings.Replace(num, ",", ".", 1)
	} else {
		num = strings.ReplaceAll(num, ",", "")
	}
	if strings.Count(num, ".") > 1 || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") ||
		strings.IndexFunc(num, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }) >= 0 {
		return decimal.Decimal{}, "not an amount"
	}
	d, err := decimal.NewFromString(num)
	if err != nil {
		return decimal.Decimal{}, "not an amount"
	}
	if neg {
		d = d.Neg()
	}
	return d, ""
}

// csvRows reads CSV records with the physical line each starts on. Rows
// may have any number of fields (a bank's preamble does not match its table).
func csvRows(r io.Reader, delim rune) func() ([]string, []bool, int, error) {
	cr := csv.NewReader(stripBOM(r))
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	return func() ([]string, []bool, int, error) {
		rec, err := cr.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, pe.Line, &statement.RowError{Line: pe.Line, Reason: "malformed CSV: " + pe.Err.Error()}
			}
			if errors.Is(err, io.EOF) {
				return nil, nil, 0, io.EOF
			}
			return nil, nil, 0, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		return rec, nil, line, nil
	}
}

func stripBOM(r io.Reader) io.Reader {
	var b [3]byte
	n, err := io.ReadFull(r, b[:])
	if n == 3 && string(b[:]) == "\uFEFF" {
		return r
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return io.MultiReader(bytes.NewReader(b[:n]), errReader{err})
	}
	return io.MultiReader(bytes.NewReader(b[:n]), r)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// maxXLSXUnzip bounds what an XLSX file may unpack to (a zip bomb).
const maxXLSXUnzip = 512 << 20

// xlsxRows reads a sheet's rows with their row numbers, and which cells
// are numbers (or dates) rather than text.
func xlsxRows(r io.Reader, sheet string) (func() ([]string, []bool, int, error), error) {
	f, err := excelize.OpenReader(r, excelize.Options{RawCellValue: true, UnzipSizeLimit: maxXLSXUnzip, UnzipXMLSizeLimit: 64 << 20})
	if err != nil {
		return nil, fmt.Errorf("not an XLSX file: %w", ErrInvalid)
	}
	if sheet == "" {
		list := f.GetSheetList()
		if len(list) == 0 {
			return nil, fmt.Errorf("the workbook has no sheet: %w", ErrInvalid)
		}
		sheet = list[0]
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, fmt.Errorf("sheet %q: %w", sheet, ErrInvalid)
	}
	n := 0
	return func() ([]string, []bool, int, error) {
		if !rows.Next() {
			_ = rows.Close()
			if err := rows.Error(); err != nil {
				return nil, nil, 0, fmt.Errorf("read sheet %q: %w", sheet, err)
			}
			return nil, nil, 0, io.EOF
		}
		n++
		rec, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, nil, n, fmt.Errorf("read sheet %q row %d: %w", sheet, n, err)
		}
		numeric := make([]bool, len(rec))
		for i, v := range rec {
			if v == "" {
				continue
			}
			axis, _ := excelize.CoordinatesToCellName(i+1, n)
			t, err := f.GetCellType(sheet, axis)
			numeric[i] = err == nil && (t == excelize.CellTypeUnset || t == excelize.CellTypeNumber || t == excelize.CellTypeDate)
		}
		return rec, numeric, n, nil
	}, nil
}

// StatementPreview is what a file would import as, before anything is
// imported: its headers, its first good lines and every bad row.
type StatementPreview struct {
	// Headers are the file's column headers.
	Headers []string
	// Lines are the first good lines (their LineNo the file's).
	Lines []statement.Line
	// Good and Bad count the file's good lines and bad rows.
	Good, Bad int
	// BadRows are the bad rows (the first 1000), with their line numbers.
	BadRows []statement.RowError
}

// PreviewStatement reads a whole file as an import would (through m, or as
// tally's statement format when m is nil) and keeps its first n good lines
// and its bad rows; it stores nothing. A file that cannot be read at all (a
// header lacking a column) is an error wrapping ErrInvalid; its headers are
// still returned when the first row could be read.
func PreviewStatement(r io.Reader, m *Mapping, n int) (StatementPreview, error) {
	var p StatementPreview
	var src lineSource
	if m != nil {
		mr, err := m.Open(r)
		if err != nil {
			return p, err
		}
		p.Headers, src = mr.Headers(), mr
	} else {
		var head bytes.Buffer
		rd, err := statement.NewReader(io.TeeReader(r, &limitedBuffer{b: &head, n: statement.MaxRowBytes}))
		if rec, cerr := csv.NewReader(stripBOM(bytes.NewReader(head.Bytes()))).Read(); cerr == nil || len(rec) > 0 {
			for _, h := range rec {
				p.Headers = append(p.Headers, strings.TrimSpace(h))
			}
		}
		if err != nil {
			return p, fmt.Errorf("%w: %w", err, ErrInvalid)
		}
		src = rd
	}
	for {
		l, err := src.Next()
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		var re *statement.RowError
		if errors.As(err, &re) {
			p.Bad++
			if len(p.BadRows) < maxMappedErrors {
				p.BadRows = append(p.BadRows, *re)
			}
			continue
		}
		if err != nil {
			return p, err
		}
		p.Good++
		if len(p.Lines) < n {
			p.Lines = append(p.Lines, l)
		}
	}
}

// limitedBuffer keeps the first n bytes written to it.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
