package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/recon/report"
)

func TestJSONRoundTrip(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			want := fx.summary()
			var buf bytes.Buffer
			if err := report.Write(&buf, want, report.JSON, currencies); err != nil {
				t.Fatal(err)
			}
			var got recon.Summary
			dec := json.NewDecoder(&buf)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			requireSameSummary(t, want, got)
		})
	}
}

// TestJSONIsMarshalIndent checks that the streamed document is byte for byte
// what encoding/json makes of the whole summary, for no, one and many
// findings.
func TestJSONIsMarshalIndent(t *testing.T) {
	many := fullSummary()
	for i := range 50 {
		f := many.Findings[i%len(many.Findings)]
		f.DiscrepancyID = int64(100 + i)
		many.Findings = append(many.Findings, f)
	}
	one := fullSummary()
	one.Findings = one.Findings[:1]
	openOnly := fullSummary()
	openOnly.Findings = nil
	findingsOnly := fullSummary()
	findingsOnly.OpenItems = []recon.OpenItem{}
	cases := []struct {
		name string
		s    recon.Summary
	}{
		{"nil findings", emptySummary()},
		{"open items, nil findings", openOnly},
		{"findings, no open items", findingsOnly},
		{"empty findings", func() recon.Summary { s := emptySummary(); s.Findings = []recon.Finding{}; return s }()},
		{"one finding", one},
		{"full", fullSummary()},
		{"many findings", many},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.MarshalIndent(tc.s, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			var got bytes.Buffer
			if err := report.Write(&got, tc.s, report.JSON, currencies); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("streamed JSON differs from json.MarshalIndent:\n%s\nwant:\n%s", got.Bytes(), want)
			}
		})
	}
}

// TestJSONAmountsAreStrings pins the wire form of amounts: quoted decimal
// strings at the currency's scale (CNY 2, BTC and USDT 8), exact (digits
// beyond the scale kept; a currency the process does not know, XYZ, with the
// digits it has), never JSON numbers.
func TestJSONAmountsAreStrings(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Write(&buf, fullSummary(), report.JSON, currencies); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"matched_amount": "0.30"`,
		`"unmatched_amount": "12345678901234567890.00"`,
		`"amount_delta": "-0.00000001"`,
		`"provider_balance": "1.23456789012345678901"`,
		`"amount_delta": "12345678901234567890.12345600"`,
		`"amount_at_stake": "100.50"`,
		`"first_seen_at": "2026-10-01T23:59:59Z"`,
		`"matched_amount": "1000.00000100"`,
		`"unmatched_amount": "-0.50000000"`,
		`"age": "\u003e30d"`, // encoding/json escapes < and >: ">30d" once decoded
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
}
