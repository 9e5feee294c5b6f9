package statement_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon/statement"
)

// header is the standard header row.
const header = "order_no,provider_order_id,kind,status,amount,fee,currency,settled_at,part_id\n"

// event is what one call to Next produced: a good line starting on line, or a
// RowError on line in column whose reason contains reason.
type event struct {
	line   int
	column string
	reason string // "" for a good line
}

// readAll reads a statement to the end and returns every event.
func readAll(t *testing.T, file string) ([]event, []statement.Line) {
	t.Helper()
	r, err := statement.NewReader(strings.NewReader(file))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	var events []event
	var lines []statement.Line
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("Next never returned io.EOF")
		}
		l, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *statement.RowError
		switch {
		case errors.As(err, &re):
			events = append(events, event{line: re.Line, column: re.Column, reason: re.Reason})
		case err != nil:
			t.Fatalf("Next: fatal %v", err)
		default:
			events = append(events, event{line: l.LineNo})
			lines = append(lines, l)
		}
	}
	return events, lines
}

func TestReaderReportsBadRows(t *testing.T) {
	const good = "A1,,deposit,succeeded,100.00,1.00,USDT,2025-03-01T12:00:00Z,\n"
	long := strings.Repeat("x", 129)
	tests := []struct {
		name string
		file string
		want []event
	}{
		{"exponent", header + "A1,,deposit,succeeded,1e3,,USDT,2025-03-01T12:00:00Z,\n" + good,
			[]event{{2, "amount", "exponent"}, {3, "", ""}}},
		{"thousands separator", header + `A1,,deposit,succeeded,"1,000.00",,USDT,2025-03-01T12:00:00Z,` + "\n",
			[]event{{2, "amount", "thousands separators"}}},
		{"decimal comma", header + `A1,,deposit,succeeded,"99,5",,USDT,2025-03-01T12:00:00Z,` + "\n",
			[]event{{2, "amount", "decimal commas"}}},
		{"minus sign", header + "A1,,deposit,succeeded,-5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "amount", "sign"}}},
		{"plus sign", header + "A1,,deposit,succeeded,+5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "amount", "sign"}}},
		{"unicode minus", header + "A1,,deposit,succeeded,\u22125,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "amount", "sign"}}},
		{"zero amount", header + "A1,,deposit,succeeded,0.00,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "amount", "must be positive"}}},
		{"leading point", header + "A1,,deposit,succeeded,.5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "amount", "both sides of the point"}}},
		{"trailing point", header + "A1,,deposit,succeeded,5.,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "amount", "both sides of the point"}}},
		{"two points", header + "A1,,deposit,succeeded,5.0.1,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "amount", "not a decimal number"}}},
		{"inner space", header + "A1,,deposit,succeeded,1 000,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "amount", "thousands separators"}}},
		{"blank amount", header + "A1,,deposit,succeeded,  ,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "amount", "required"}}},
		{"negative fee", header + "A1,,deposit,succeeded,5,-0.1,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "fee", "sign"}}},
		{"fee with exponent", header + "A1,,deposit,succeeded,5,1E-2,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "fee", "exponent"}}},
		{"no order reference", header + " , ,deposit,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "order_no", "order_no or provider_order_id is required"}}},
		{"blank kind", header + "A1,,,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "kind", "required"}}},
		{"unknown kind", header + "A1,,refund,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "kind", "deposit or payout"}}},
		{"blank status", header + "A1,,deposit,,5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "status", "required"}}},
		{"unknown status", header + "A1,,deposit,done,5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "status", "must be one of"}}},
		{"blank currency", header + "A1,,deposit,succeeded,5,,,2025-03-01T12:00:00Z,\n",
			[]event{{2, "currency", "required"}}},
		{"lower-case currency", header + "A1,,deposit,succeeded,5,,usdt,2025-03-01T12:00:00Z,\n",
			[]event{{2, "currency", "upper-case"}}},
		{"currency with a dash", header + "A1,,deposit,succeeded,5,,USDT-TRC20,2025-03-01T12:00:00Z,\n",
			[]event{{2, "currency", "upper-case"}}},
		{"blank settled_at", header + "A1,,deposit,succeeded,5,,USDT,,\n",
			[]event{{2, "settled_at", "required"}}},
		{"impossible date", header + "A1,,deposit,succeeded,5,,USDT,2025-13-01T00:00:00Z,\n",
			[]event{{2, "settled_at", "RFC 3339"}}},
		{"day-month-year", header + "A1,,deposit,succeeded,5,,USDT,01/03/2025 12:00:00,\n",
			[]event{{2, "settled_at", "RFC 3339"}}},
		{"year zero", header + "A1,,deposit,succeeded,5,,USDT,0000-01-01T00:00:00Z,\n",
			[]event{{2, "settled_at", "year"}}},
		{"too long", header + long + ",,deposit,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "order_no", "longer than 128"}}},
		{"128 characters are fine", header + long[:128] + ",,deposit,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "", ""}}},
		{"control character", header + "\"A\x01\",,deposit,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "order_no", "control character"}}},
		{"line break in an id", header + "\"A\n1\",,deposit,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n" + good,
			[]event{{2, "order_no", "control character"}, {4, "", ""}}},
		{"invalid UTF-8", header + "A\xff,,deposit,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{2, "order_no", "UTF-8"}}},
		{"too few fields", header + "A1,,deposit,succeeded,5,,USDT\n" + good,
			[]event{{2, "", "7 fields, the header has 9"}, {3, "", ""}}},
		{"too many fields", header + good[:len(good)-1] + ",extra\n" + good,
			[]event{{2, "", "10 fields, the header has 9"}, {3, "", ""}}},
		{"bare quote", header + "A\"1,,deposit,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n" + good,
			[]event{{2, "", "malformed CSV"}, {3, "", ""}}},
		{"broken quoting inside a multi-line row", header + "\"A\n1\"x,,deposit,succeeded,5,,USDT,2025-03-01T12:00:00Z,\n" + good,
			[]event{{3, "", "(in the row starting on line 2)"}, {4, "", ""}}},
		{"unterminated quote", header + good + "\"A1,,deposit\n",
			[]event{{2, "", ""}, {3, "", "malformed CSV"}}},
		{"duplicate part", header +
			"W1,,payout,succeeded,100,,USDT,2025-03-01T12:00:00Z,p1\n" +
			"W1,,payout,succeeded,200,,USDT,2025-03-01T12:01:00Z,p2\n" +
			"W1,,payout,succeeded,200,,USDT,2025-03-01T12:02:00Z,p2\n",
			[]event{{2, "", ""}, {3, "", ""}, {4, "part_id", "first on line 3"}}},
		{"same part id, other orders and kinds", header +
			"W1,,payout,succeeded,100,,USDT,2025-03-01T12:00:00Z,p1\n" +
			"W2,,payout,succeeded,100,,USDT,2025-03-01T12:00:00Z,p1\n" +
			"W1,,deposit,succeeded,100,,USDT,2025-03-01T12:00:00Z,p1\n" +
			",W1,payout,succeeded,100,,USDT,2025-03-01T12:00:00Z,p1\n",
			[]event{{2, "", ""}, {3, "", ""}, {4, "", ""}, {5, "", ""}}},
		{"a bad part is not remembered", header +
			"W1,,payout,succeeded,0,,USDT,2025-03-01T12:00:00Z,p1\n" +
			"W1,,payout,succeeded,100,,USDT,2025-03-01T12:00:00Z,p1\n",
			[]event{{2, "amount", "positive"}, {3, "", ""}}},
		{"first bad field wins", header + "A1,,refund,done,-5,,usdt,never,\n",
			[]event{{2, "kind", "deposit or payout"}}},
		{"blank lines are skipped but counted", header + "\n" + good + "\n\n" + "A2,,deposit,succeeded,x,,USDT,2025-03-01T12:00:00Z,\n",
			[]event{{3, "", ""}, {6, "amount", "not a decimal"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := readAll(t, tt.file)
			if len(got) != len(tt.want) {
				t.Fatalf("events = %+v, want %+v", got, tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.line != w.line || g.column != w.column || (w.reason == "") != (g.reason == "") || !strings.Contains(g.reason, w.reason) {
					t.Errorf("event %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestReaderLineNumbersAcrossMultiLineFields checks that a quoted field holding
// line breaks shifts every later line number, and that an error inside such a
// row names the line its field starts on.
func TestReaderLineNumbersAcrossMultiLineFields(t *testing.T) {
	file := "note,order_no,kind,status,amount,fee,currency,settled_at\n" + // 1
		"\"two\nlines, and a comma\",A1,deposit,succeeded,10,,USDT,2025-03-01T12:00:00Z\n" + // 2-3
		"plain,A2,deposit,succeeded,1e2,,USDT,2025-03-01T12:00:00Z\n" + // 4: bad after the multi-line row
		"\"three\nwhole\nlines\",A3,deposit,succeeded,\n" + // 5-7: first line break
		"\"-5\",,USDT,2025-03-01T12:00:00Z\n" + // 8: the rest of that row, now a short row of its own
		"\"x\",A4,deposit,\"succ\needed\",5,,USDT,2025-03-01T12:00:00Z\n" + // 9-10: bad status starts on 9
		"\"a\nb\",A5,deposit,succeeded,5,,USDT,\"2025-03-01\nT12:00:00Z\"\n" + // 11-13: settled_at starts on 12 and holds a line break
		"ok,A6,deposit,succeeded,6,,USDT,2025-03-01T12:00:00Z\n" // 14
	got, lines := readAll(t, file)
	want := []event{
		{2, "", ""},
		{4, "amount", "exponent"},
		{5, "", "5 fields, the header has 8"},
		{8, "", "4 fields, the header has 8"},
		{9, "status", "must be one of"},
		{12, "settled_at", "RFC 3339"},
		{14, "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("events = %+v, want %+v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.line != w.line || g.column != w.column || !strings.Contains(g.reason, w.reason) || (w.reason == "") != (g.reason == "") {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
	if len(lines) != 2 || lines[0].OrderNo != "A1" || lines[1].OrderNo != "A6" {
		t.Fatalf("good lines = %+v, want A1 and A6", lines)
	}
}

func TestReaderParsesGoodRowsExactly(t *testing.T) {
	// Columns in another order, names in other cases and padded, an extra
	// column, the two time layouts, stated and unstated fees.
	file := " Settled_At ,CURRENCY,Fee,Amount,Status,Kind,Provider_Order_ID,Order_No,memo,Part_ID\n" +
		"2025-03-01T20:30:00.25+08:00,USDT,0,100.50,Succeeded,DEPOSIT,P1,A1,\"hello, world\",\n" +
		"2025-03-01 12:30:05,CNY,,0.000001,failed,deposit,,A2,,\n" +
		"2025-03-01T12:30:05Z,USDT,1.230,300,processing,payout,P3,W3,,W3-1\n" +
		" 2025-03-02T00:00:00Z , BTC , 0.00000001 , 12345678901234567890.12345678 , reversed , deposit , P4 ,,,\n"
	_, lines := readAll(t, file)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	type want struct {
		line                  int
		orderNo, providerID   string
		kind                  providers.OrderKind
		status                providers.Status
		amount, fee, currency string // fee "" = not stated
		settledAt             time.Time
		partID                string
	}
	wants := []want{
		{2, "A1", "P1", providers.KindDeposit, providers.StatusSucceeded, "100.50", "0", "USDT", at("2025-03-01T12:30:00.25Z"), ""},
		{3, "A2", "", providers.KindDeposit, providers.StatusFailed, "0.000001", "", "CNY", at("2025-03-01T12:30:05Z"), ""},
		{4, "W3", "P3", providers.KindPayout, providers.StatusProcessing, "300", "1.230", "USDT", at("2025-03-01T12:30:05Z"), "W3-1"},
		{5, "", "P4", providers.KindDeposit, providers.StatusReversed, "12345678901234567890.12345678", "0.00000001", "BTC", at("2025-03-02T00:00:00Z"), ""},
	}
	if len(lines) != len(wants) {
		t.Fatalf("got %d lines, want %d: %+v", len(lines), len(wants), lines)
	}
	for i, w := range wants {
		l := lines[i]
		if l.LineNo != w.line || l.OrderNo != w.orderNo || l.ProviderOrderID != w.providerID || l.Kind != w.kind ||
			l.Status != w.status || l.Currency != w.currency || !l.SettledAt.Equal(w.settledAt) || l.PartID != w.partID {
			t.Errorf("line %d = %+v, want %+v", i, l, w)
		}
		if l.SettledAt.Location() != time.UTC {
			t.Errorf("line %d settled_at location = %v, want UTC", i, l.SettledAt.Location())
		}
		// The exact decimal: the same value and the same scale as written.
		if got := l.Amount.StringFixed(-l.Amount.Exponent()); got != w.amount || !l.Amount.Equal(decimal.RequireFromString(w.amount)) {
			t.Errorf("line %d amount = %s, want %s", i, got, w.amount)
		}
		switch {
		case w.fee == "" && l.Fee.Valid:
			t.Errorf("line %d fee = %s, want not stated", i, l.Fee.Decimal)
		case w.fee != "" && !l.Fee.Valid:
			t.Errorf("line %d fee not stated, want %s", i, w.fee)
		case w.fee != "" && l.Fee.Decimal.StringFixed(-l.Fee.Decimal.Exponent()) != w.fee:
			t.Errorf("line %d fee = %s, want %s", i, l.Fee.Decimal.StringFixed(-l.Fee.Decimal.Exponent()), w.fee)
		}
	}
}

func TestReaderBOMAndCRLF(t *testing.T) {
	file := "\uFEFForder_no,kind,status,amount,fee,currency,settled_at\r\n" +
		"A1,deposit,succeeded,1.5,,USDT,2025-03-01T12:00:00Z\r\n" +
		"\"A2\",deposit,succeeded,2,0.1,USDT,2025-03-01T12:00:00Z\r\n" +
		"A3,deposit,succeeded,-3,,USDT,2025-03-01T12:00:00Z\r\n" +
		"A4,deposit,succeeded,4,,USDT,2025-03-01T12:00:00Z" // no final line break
	got, lines := readAll(t, file)
	want := []event{{2, "", ""}, {3, "", ""}, {4, "amount", "sign"}, {5, "", ""}}
	if len(got) != len(want) {
		t.Fatalf("events = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].line != want[i].line || got[i].column != want[i].column || !strings.Contains(got[i].reason, want[i].reason) {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if lines[0].OrderNo != "A1" || lines[2].OrderNo != "A4" || lines[2].Amount.String() != "4" {
		t.Fatalf("lines = %+v", lines)
	}
}

func TestNewReaderChecksTheHeader(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		column string // "" with ok: no error
		reason string
		ok     bool
	}{
		{name: "empty file", file: "", reason: "empty"},
		{name: "only a BOM", file: "\uFEFF", reason: "empty"},
		{name: "missing kind", file: "order_no,status,amount,currency,settled_at\n", column: "kind", reason: "missing"},
		{name: "missing amount", file: "order_no,kind,status,currency,settled_at\n", column: "amount", reason: "missing"},
		{name: "missing settled_at", file: "order_no,kind,status,amount,currency\n", column: "settled_at", reason: "missing"},
		{name: "no order reference", file: "kind,status,amount,currency,settled_at\n", column: "order_no", reason: "provider_order_id"},
		{name: "amount twice", file: "order_no,kind,status,amount,currency,settled_at, AMOUNT\n", column: "amount", reason: "named twice (fields 4 and 7)"},
		{name: "malformed", file: "order_no,\"kind\n", reason: "malformed CSV"},
		{name: "only provider_order_id", file: "provider_order_id,kind,status,amount,currency,settled_at\n", ok: true},
		{name: "optional columns may be absent, unknown ones twice", file: "order_no,kind,status,amount,currency,settled_at,x,x\n", ok: true},
		{name: "header alone, no final line break", file: "order_no,kind,status,amount,currency,settled_at", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := statement.NewReader(strings.NewReader(tt.file))
			if tt.ok {
				if err != nil {
					t.Fatalf("NewReader: %v", err)
				}
				if _, err := r.Next(); !errors.Is(err, io.EOF) {
					t.Fatalf("Next on a header alone = %v, want io.EOF", err)
				}
				return
			}
			var he *statement.HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want a *HeaderError", err)
			}
			if he.Column != tt.column || !strings.Contains(he.Reason, tt.reason) {
				t.Fatalf("err = %+v, want column %q reason containing %q", he, tt.column, tt.reason)
			}
			if tt.column != "" && !strings.Contains(err.Error(), tt.column) {
				t.Fatalf("error %q does not name column %s", err, tt.column)
			}
		})
	}
}

// TestReaderStopsAtAnOverlongRow checks that a missing closing quote cannot
// make the reader buffer the rest of the file: it fails with ErrRowTooLong,
// and keeps failing.
func TestReaderStopsAtAnOverlongRow(t *testing.T) {
	good := "A1,,deposit,succeeded,1,,USDT,2025-03-01T12:00:00Z,\n"
	file := header + good + "\"never closed," + strings.Repeat("0123456789,\n", 2*statement.MaxRowBytes/11)
	r, err := statement.NewReader(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if l, err := r.Next(); err != nil || l.OrderNo != "A1" {
		t.Fatalf("first Next = %+v, %v", l, err)
	}
	for i := 0; i < 2; i++ {
		_, err := r.Next()
		var re *statement.RowError
		if !errors.Is(err, statement.ErrRowTooLong) || errors.As(err, &re) || !strings.Contains(err.Error(), "after line 2") {
			t.Fatalf("Next %d = %v, want ErrRowTooLong after line 2, not a RowError", i, err)
		}
	}

	_, err = statement.NewReader(strings.NewReader(strings.Repeat("x", 2*statement.MaxRowBytes)))
	var he *statement.HeaderError
	if !errors.As(err, &he) || !strings.Contains(he.Reason, "longer than") {
		t.Fatalf("overlong header: err = %v, want a HeaderError", err)
	}
}

func TestRowErrorThroughWrapping(t *testing.T) {
	r, err := statement.NewReader(strings.NewReader(header + "A1,,deposit,succeeded,1e3,,USDT,2025-03-01T12:00:00Z,\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	wrapped := errors.Join(errors.New("import cpay-main"), err)
	var re *statement.RowError
	if !errors.As(wrapped, &re) || re.Line != 2 || re.Column != "amount" || re.Value != "1e3" {
		t.Fatalf("errors.As = %+v from %v", re, wrapped)
	}
	if want := `statement line 2: amount "1e3": an exponent is not allowed`; err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
	if b, err := json.Marshal(re); err != nil || string(b) != `{"line":2,"column":"amount","value":"1e3","reason":"an exponent is not allowed"}` {
		t.Fatalf("JSON = %s, %v", b, err)
	}
	long := strings.Repeat("é", 129)
	r, _ = statement.NewReader(strings.NewReader(header + long + ",,deposit,succeeded,1,,USDT,2025-03-01T12:00:00Z,\n"))
	if _, err = r.Next(); !errors.As(err, &re) || len(re.Value) > 64+len("…") || !strings.HasSuffix(re.Value, "…") || !strings.HasPrefix(long, strings.TrimSuffix(re.Value, "…")) {
		t.Fatalf("a long value is reported as %q (%v), want it cut on a character boundary", re.Value, err)
	}
}
