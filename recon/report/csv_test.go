package report_test

import (
	"bytes"
	"encoding/csv"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tallyhq/tally/recon/report"
)

// readCSV splits a CSV report into its sections' rows, keyed by the JSON
// names of the columns of the header row before them.
func readCSV(t *testing.T, data []byte) map[string][]map[string]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	tables := map[string][]map[string]string{}
	var header []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read CSV: %v", err)
		}
		if rec[0] == "Section" {
			header = rec[1:]
			continue
		}
		if header == nil {
			t.Fatalf("row %q before any header", rec)
		}
		wc, ok := sectionByTitle(rec[0])
		if !ok {
			t.Fatalf("row of an unknown section %q", rec[0])
		}
		if !slices.Equal(header, wc.headers) {
			t.Fatalf("%s rows under the header %q, want %q", wc.sheet, header, wc.headers)
		}
		sec := wc.section
		if len(rec)-1 != len(header) {
			t.Fatalf("%s row has %d fields, header %d", sec, len(rec)-1, len(header))
		}
		row := map[string]string{}
		for i, name := range wc.columns {
			row[name] = rec[i+1]
		}
		tables[sec] = append(tables[sec], row)
	}
	return tables
}

// csvHeaders returns every header row of a CSV report, without "Section".
func csvHeaders(t *testing.T, data []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read CSV: %v", err)
	}
	var headers [][]string
	for i, rec := range recs {
		if rec[0] == "Section" {
			headers = append(headers, rec[1:])
		} else if len(headers) == 0 {
			t.Fatalf("record %d %q before the first header", i, rec)
		}
	}
	return headers
}

func TestCSVRoundTrip(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			want := fx.summary()
			var buf bytes.Buffer
			if err := report.Write(&buf, want, report.CSV, currencies); err != nil {
				t.Fatal(err)
			}
			requireSameSummary(t, want, summaryFromTables(t, readCSV(t, buf.Bytes())))

			headers := csvHeaders(t, buf.Bytes())
			if len(headers) != len(wantColumns) {
				t.Fatalf("%d sections, want %d", len(headers), len(wantColumns))
			}
			for i, wc := range wantColumns {
				if !slices.Equal(headers[i], wc.headers) {
					t.Errorf("section %d (%s) header %q, want %q", i, wc.section, headers[i], wc.headers)
				}
			}
		})
	}
}

// TestCSVSectionOrder checks that sections come in the documented order, each
// row led by its section name, and that empty sections keep their header.
func TestCSVSectionOrder(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Write(&buf, emptySummary(), report.CSV, currencies); err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(&buf)
	r.FieldsPerRecord = -1 // sections have different widths
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range recs {
		got = append(got, rec[0])
	}
	want := []string{"Section", "Run", "Section", "Section", "Section", "Section", "Ledger", "Section", "Section", "Section", "Section"}
	if !slices.Equal(got, want) {
		t.Errorf("first fields %q, want %q", got, want)
	}
}

// TestCSVText pins the exact text of awkward fields: amounts with their
// currency's decimals and never rounded, quoting of commas, quotes and
// newlines, times in UTC.
func TestCSVText(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Write(&buf, fullSummary(), report.CSV, currencies); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Run,9007199254740993,\"商户·Acme, \"\"Ltd\"\"\",full,,2026-11-20T16:00:00Z,2026-11-21T16:00:00Z,failed,2026-11-22T01:02:03.123456789Z,2026-11-22T01:07:09Z,\"provider cxpay: timeout,\nretrying \"\"later\"\"\"\n",
		"Orders,cxpay-main,cxpay,CNY,1200,1198,0.30,2,12345678901234567890.00,1,4,query\n",
		"Orders,btc-wallet,cpay,BTC,3,3,0.00012345,0,0.00000000,0,0,statement\n",
		"Orders,usdt-tron,usdtcnpay,USDT,10,9,1000.00000100,1,-0.50000000,0,0,statement\n",
		"Notes,\"statement 3: 2 bad rows,\nskipped\"\n",
		"Discrepancies,btc-wallet,BTC,unknown_order,1,1,3,-0.00000001\n",
		"Balances,cxpay-main,CNY,1000000.00,999999.99,0.011,-0.001,0.01,true\n",
		"Balances,odd,XYZ,1.23456789012345678901,1,0,0.23456789012345678901,0,false\n",
		"Ledger,false,42,84,account assets:provider:cxpay:CNY: sum 0.01 ≠ 0\n",
		"Findings,1,amount_mismatch,high,open,cxpay-main,77,ORD-77,CNY,100.00,99.50,-0.50,\"payer paid less, \"\"short\"\" by 0.50,\nsee ticket 🙂\",true,false,false\n",
		"Findings,2,unknown_order,medium,open,btc-wallet,,,BTC,,,0.00000001,訂單不存在 =SUM(A1),false,true,false\n",
		"Aging,cxpay-main,CNY,<1d,2,100.50\n",
		"Aging,,,1-7d,1,0\n",
		"Open items,5,amount_mismatch,high,cxpay-main,77,ORD-77,CNY,-100.50,2026-10-01T23:59:59Z,>30d,\"payer paid less, \"\"short\"\"\"\n",
		"Open items,6,ledger_invariant,critical,,,,,2,2026-11-20T04:00:00.5Z,1-7d,2 violations\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("CSV lacks %q\n%s", want, out)
		}
	}
}

// Without the ledger's currencies an amount keeps the digits it has.
func TestCSVWithoutCurrencies(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Write(&buf, fullSummary(), report.CSV, nil); err != nil {
		t.Fatal(err)
	}
	if want := "Orders,cxpay-main,cxpay,CNY,1200,1198,0.3,2,12345678901234567890,1,4,query\n"; !strings.Contains(buf.String(), want) {
		t.Fatalf("CSV lacks %q:\n%s", want, buf.String())
	}
}
