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

// readCSV splits a CSV report into its sections' rows, keyed by the column
// names of the header row before them.
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
		if rec[0] == "section" {
			header = rec[1:]
			continue
		}
		if header == nil {
			t.Fatalf("row %q before any header", rec)
		}
		sec := rec[0]
		if len(rec)-1 != len(header) {
			t.Fatalf("%s row has %d fields, header %d", sec, len(rec)-1, len(header))
		}
		row := map[string]string{}
		for i, name := range header {
			row[name] = rec[i+1]
		}
		tables[sec] = append(tables[sec], row)
	}
	return tables
}

// csvHeaders returns every header row of a CSV report, without "section".
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
		if rec[0] == "section" {
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
				if !slices.Equal(headers[i], wc.columns) {
					t.Errorf("section %d (%s) header %q, want %q", i, wc.section, headers[i], wc.columns)
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
	want := []string{"section", "run", "section", "section", "section", "section", "ledger", "section", "section"}
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
		"run,9007199254740993,\"商户·Acme, \"\"Ltd\"\"\",full,,2026-11-20T16:00:00Z,2026-11-21T16:00:00Z,failed,2026-11-22T01:02:03.123456789Z,2026-11-22T01:07:09Z,\"provider cxpay: timeout,\nretrying \"\"later\"\"\"\n",
		"orders,cxpay-main,cxpay,CNY,1200,1198,0.30,2,12345678901234567890.00,1,4,query\n",
		"orders,btc-wallet,cpay,BTC,3,3,0.00012345,0,0.00000000,0,0,statement\n",
		"orders,usdt-tron,usdtcnpay,USDT,10,9,1000.00000100,1,-0.50000000,0,0,statement\n",
		"notes,\"statement 3: 2 bad rows,\nskipped\"\n",
		"discrepancies,btc-wallet,BTC,unknown_order,1,1,3,-0.00000001\n",
		"balances,cxpay-main,CNY,1000000.00,999999.99,0.011,-0.001,0.01,true\n",
		"balances,odd,XYZ,1.23456789012345678901,1,0,0.23456789012345678901,0,false\n",
		"ledger,false,42,84,account assets:provider:cxpay:CNY: sum 0.01 ≠ 0\n",
		"findings,1,amount_mismatch,high,open,cxpay-main,77,ORD-77,CNY,100.00,99.50,-0.50,\"payer paid less, \"\"short\"\" by 0.50,\nsee ticket 🙂\",true,false,false\n",
		"findings,2,unknown_order,medium,open,btc-wallet,,,BTC,,,0.00000001,訂單不存在 =SUM(A1),false,true,false\n",
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
	if want := "orders,cxpay-main,cxpay,CNY,1200,1198,0.3,2,12345678901234567890,1,4,query\n"; !strings.Contains(buf.String(), want) {
		t.Fatalf("CSV lacks %q:\n%s", want, buf.String())
	}
}
