package statement_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/tallyhq/tally/providers"
	"github.com/tallyhq/tally/recon/statement"
)

func fee(s string) decimal.NullDecimal {
	return decimal.NullDecimal{Decimal: decimal.RequireFromString(s), Valid: true}
}

// sample are lines covering every column's shapes.
func sample() []statement.Line {
	at := time.Date(2025, 3, 1, 12, 30, 0, 250_000_000, time.UTC)
	return []statement.Line{
		{OrderNo: "A1", ProviderOrderID: "P1", Kind: providers.KindDeposit, Status: providers.StatusSucceeded,
			Amount: decimal.RequireFromString("100.50"), Fee: fee("0"), Currency: "USDT", SettledAt: at},
		{OrderNo: "A2", Kind: providers.KindDeposit, Status: providers.StatusFailed,
			Amount: decimal.RequireFromString("0.000001"), Currency: "CNY", SettledAt: at.Add(time.Second)},
		{OrderNo: "W3", ProviderOrderID: "P3", Kind: providers.KindPayout, Status: providers.StatusSucceeded,
			Amount: decimal.RequireFromString("300"), Fee: fee("1.230"), Currency: "USDT", SettledAt: at, PartID: "W3-1"},
		{OrderNo: `quote" and, comma`, ProviderOrderID: "P4", Kind: providers.KindPayout, Status: providers.StatusReversed,
			Amount: decimal.New(5, 2), Fee: fee("0.00000001"), Currency: "BTC", SettledAt: at.In(time.FixedZone("CST", 8*3600))},
		{ProviderOrderID: "wallet-9", Kind: providers.KindDeposit, Status: providers.StatusSucceeded,
			Amount: decimal.RequireFromString("12345678901234567890.12345678"), Currency: "USDT", SettledAt: at},
	}
}

func TestWriterReaderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := statement.NewWriter(&buf)
	in := sample()
	for _, l := range in {
		if err := w.Write(l); err != nil {
			t.Fatalf("Write(%+v): %v", l, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	first := buf.String()
	if !strings.HasPrefix(first, strings.Join(statement.Columns(), ",")+"\n") {
		t.Fatalf("statement does not start with the header:\n%s", first)
	}
	if !strings.Contains(first, "\nA1,P1,deposit,succeeded,100.50,0,USDT,2025-03-01T12:30:00.25Z,,\n") ||
		!strings.Contains(first, "\nA2,,deposit,failed,0.000001,,CNY,") || !strings.Contains(first, ",500,0.00000001,BTC,") {
		t.Fatalf("unexpected rendering:\n%s", first)
	}

	_, out := readAll(t, first)
	if len(out) != len(in) {
		t.Fatalf("read back %d lines, want %d", len(out), len(in))
	}
	var again bytes.Buffer
	w2 := statement.NewWriter(&again)
	for i, l := range out {
		want := in[i]
		if l.LineNo != i+2 {
			t.Errorf("line %d LineNo = %d, want %d", i, l.LineNo, i+2)
		}
		if l.OrderNo != want.OrderNo || l.ProviderOrderID != want.ProviderOrderID || l.Kind != want.Kind || l.Status != want.Status ||
			!l.Amount.Equal(want.Amount) || l.Amount.Exponent() != min(want.Amount.Exponent(), 0) || l.Fee.Valid != want.Fee.Valid ||
			!l.Fee.Decimal.Equal(want.Fee.Decimal) || l.Currency != want.Currency || !l.SettledAt.Equal(want.SettledAt) || l.PartID != want.PartID {
			t.Errorf("line %d = %+v, want %+v", i, l, want)
		}
		if err := w2.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w2.Flush(); err != nil {
		t.Fatal(err)
	}
	if again.String() != first {
		t.Fatalf("writing what was read changed the file:\n%s\nwant\n%s", again.String(), first)
	}
}

func TestWriterRefusesLinesTheReaderWouldNotReturn(t *testing.T) {
	good := sample()[0]
	tests := []struct {
		name   string
		change func(*statement.Line)
		column string
	}{
		{"no order reference", func(l *statement.Line) { l.OrderNo, l.ProviderOrderID = "", "" }, "order_no"},
		{"zero amount", func(l *statement.Line) { l.Amount = decimal.Zero }, "amount"},
		{"negative amount", func(l *statement.Line) { l.Amount = decimal.RequireFromString("-1") }, "amount"},
		{"negative fee", func(l *statement.Line) { l.Fee = fee("-0.01") }, "fee"},
		{"unknown kind", func(l *statement.Line) { l.Kind = "exchange" }, "kind"},
		{"upper-case kind", func(l *statement.Line) { l.Kind = "DEPOSIT" }, "kind"},
		{"unknown status", func(l *statement.Line) { l.Status = "done" }, "status"},
		{"lower-case currency", func(l *statement.Line) { l.Currency = "usdt" }, "currency"},
		{"no currency", func(l *statement.Line) { l.Currency = "" }, "currency"},
		{"no time", func(l *statement.Line) { l.SettledAt = time.Time{} }, "settled_at"},
		{"year 10000", func(l *statement.Line) { l.SettledAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "settled_at"},
		{"line break in an id", func(l *statement.Line) { l.OrderNo = "A\n1" }, "order_no"},
		{"padded part id", func(l *statement.Line) { l.PartID = " p1" }, "part_id"},
		{"overlong provider id", func(l *statement.Line) { l.ProviderOrderID = strings.Repeat("9", 129) }, "provider_order_id"},
		{"overlong amount", func(l *statement.Line) { l.Amount = decimal.New(1, -200) }, "amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := statement.NewWriter(&buf)
			if err := w.Write(good); err != nil {
				t.Fatal(err)
			}
			l := good
			tt.change(&l)
			err := w.Write(l)
			var re *statement.RowError
			if !errors.As(err, &re) || re.Column != tt.column || re.Line != 3 {
				t.Fatalf("Write = %v, want a RowError on line 3 in column %s", err, tt.column)
			}
			if err := l.Validate(); err == nil {
				t.Fatal("Validate accepted the line Write refused")
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(buf.String(), "\n"); n != 2 {
				t.Fatalf("refused line was written: %d lines\n%s", n, buf.String())
			}
		})
	}
}

func TestEmptyStatementIsAHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := statement.NewWriter(&buf).Flush(); err != nil {
		t.Fatal(err)
	}
	// The writer writes every column, the optional requested one included.
	if want := strings.TrimSuffix(header, "\n") + ",requested\n"; buf.String() != want {
		t.Fatalf("empty statement = %q, want %q", buf.String(), want)
	}
	r, err := statement.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
}
