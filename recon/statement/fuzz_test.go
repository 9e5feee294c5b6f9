package statement_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tallyhq/tally/recon/statement"
)

// FuzzReader reads arbitrary bytes as a statement: it must never panic or
// loop, every Line it returns must hold the format's invariants and survive a
// write and a read unchanged, and every RowError must name a line of the file.
func FuzzReader(f *testing.F) {
	seeds := []string{
		header + "A1,,deposit,succeeded,100.50,1.00,USDT,2025-03-01T12:00:00Z,\n",
		header + ",P1,payout,processing,1,,USDT,2025-03-01 12:00:00,p1\n,P1,payout,processing,1,,USDT,2025-03-01 12:00:00,p1\n",
		"\uFEFFsettled_at,amount,kind,status,currency,order_no,fee\r\n2025-03-01T12:00:00+08:00,5,DEPOSIT,Reversed,CNY,\"a,\"\"b\"\"\",0\r\n",
		"note,order_no,kind,status,amount,fee,currency,settled_at\n\"x\ny\",A,deposit,failed,1e3,,USDT,2025-03-01T12:00:00Z\n",
		header + "A1,,deposit,succeeded,-1,,usdt,never,\nA\"2,,\n\"unterminated",
		header + "A1,,deposit,succeeded,1,,USDT,0000-01-01T00:00:00Z,\n",
		"order_no\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := statement.NewReader(bytes.NewReader(data))
		if err != nil {
			var he *statement.HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("NewReader: %v is not a HeaderError", err)
			}
			return
		}
		physical := bytes.Count(data, []byte("\n")) + 1
		for calls := 0; ; calls++ {
			if calls > physical+1 {
				t.Fatalf("more than %d results from a %d-line file", calls, physical)
			}
			l, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var re *statement.RowError
			if errors.As(err, &re) {
				if re.Line < 2 || re.Line > physical || re.Reason == "" {
					t.Fatalf("RowError %+v outside lines 2..%d or without a reason", re, physical)
				}
				continue
			}
			if err != nil {
				if !errors.Is(err, statement.ErrRowTooLong) {
					t.Fatalf("fatal error %v", err)
				}
				return
			}
			checkLine(t, l, physical)
		}
	})
}

// checkLine asserts a returned Line's invariants and its round trip.
func checkLine(t *testing.T, l statement.Line, physical int) {
	t.Helper()
	if l.LineNo < 2 || l.LineNo > physical {
		t.Fatalf("LineNo %d outside 2..%d", l.LineNo, physical)
	}
	if !l.Amount.IsPositive() || (l.Fee.Valid && l.Fee.Decimal.IsNegative()) {
		t.Fatalf("amount %s / fee %v out of range", l.Amount, l.Fee)
	}
	switch l.Kind {
	case "deposit", "payout":
	default:
		t.Fatalf("kind %q", l.Kind)
	}
	if !l.Status.Valid() || l.Currency == "" || l.SettledAt.IsZero() || (l.OrderNo == "" && l.ProviderOrderID == "") {
		t.Fatalf("invalid line %+v", l)
	}
	if err := l.Validate(); err != nil {
		t.Fatalf("a line the reader returned fails Validate: %v", err)
	}
	var buf bytes.Buffer
	w := statement.NewWriter(&buf)
	if err := w.Write(l); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := statement.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	back, err := r.Next()
	if err != nil {
		t.Fatalf("reading back %q: %v", buf.String(), err)
	}
	if back.OrderNo != l.OrderNo || back.ProviderOrderID != l.ProviderOrderID || back.Kind != l.Kind || back.Status != l.Status ||
		!back.Amount.Equal(l.Amount) || back.Fee.Valid != l.Fee.Valid || !back.Fee.Decimal.Equal(l.Fee.Decimal) ||
		back.Currency != l.Currency || !back.SettledAt.Equal(l.SettledAt) || back.PartID != l.PartID {
		t.Fatalf("round trip changed %+v into %+v", l, back)
	}
}
