package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/tallyhq/tally/recon"
	"github.com/tallyhq/tally/recon/report"
)

func TestParseFormat(t *testing.T) {
	cases := []struct {
		in      string
		want    report.Format
		wantErr bool
	}{
		{"csv", report.CSV, false},
		{"json", report.JSON, false},
		{"xlsx", report.XLSX, false},
		{"XLSX", report.XLSX, false},
		{" Csv ", report.CSV, false},
		{"", "", true},
		{"xls", "", true},
		{"pdf", "", true},
		{".csv", "", true},
	}
	for _, tc := range cases {
		got, err := report.ParseFormat(tc.in)
		if tc.wantErr {
			if !errors.Is(err, report.ErrUnknownFormat) {
				t.Errorf("ParseFormat(%q) = %q, %v; want ErrUnknownFormat", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestContentTypeAndExtension(t *testing.T) {
	cases := []struct {
		f           report.Format
		contentType string
		ext         string
	}{
		{report.CSV, "text/csv; charset=utf-8", ".csv"},
		{report.JSON, "application/json", ".json"},
		{report.XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"},
		{report.Format("pdf"), "", ""},
	}
	for _, tc := range cases {
		if got := report.ContentType(tc.f); got != tc.contentType {
			t.Errorf("ContentType(%q) = %q, want %q", tc.f, got, tc.contentType)
		}
		if got := report.Extension(tc.f); got != tc.ext {
			t.Errorf("Extension(%q) = %q, want %q", tc.f, got, tc.ext)
		}
	}
}

func TestUnknownFormatRefused(t *testing.T) {
	for _, f := range []report.Format{"", "pdf", "CSV"} {
		var buf bytes.Buffer
		err := report.Write(&buf, fullSummary(), f, currencies)
		if !errors.Is(err, report.ErrUnknownFormat) {
			t.Errorf("Write(%q) = %v, want ErrUnknownFormat", f, err)
		}
		if buf.Len() != 0 {
			t.Errorf("Write(%q) wrote %d bytes", f, buf.Len())
		}

		dir := t.TempDir()
		err = report.WriteFile(filepath.Join(dir, "r.pdf"), fullSummary(), f, currencies)
		if !errors.Is(err, report.ErrUnknownFormat) {
			t.Errorf("WriteFile(%q) = %v, want ErrUnknownFormat", f, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("WriteFile(%q) left %d files", f, len(entries))
		}
	}
}

func TestWriteFile(t *testing.T) {
	for _, f := range report.Formats {
		t.Run(f.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "run-42"+report.Extension(f))
			if err := os.WriteFile(path, []byte("an older report"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := report.WriteFile(path, fullSummary(), f, currencies); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if f != report.XLSX { // an XLSX zip holds timestamps
				var want bytes.Buffer
				if err := report.Write(&want, fullSummary(), f, currencies); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Errorf("file differs from Write's output")
				}
			} else if _, err := excelize.OpenReader(bytes.NewReader(got)); err != nil {
				t.Errorf("file is no workbook: %v", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("folder holds %d files, want the report only", len(entries))
			}
			if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
				t.Errorf("report mode %v (%v), want 0600", info.Mode().Perm(), err)
			}
		})
	}
}

func TestWriteFileMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-folder", "r.csv")
	err := report.WriteFile(path, fullSummary(), report.CSV, currencies)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteFile into a missing folder = %v, want ErrNotExist", err)
	}
}

// failingWriter fails once more than limit bytes have been written.
type failingWriter struct{ limit int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		return 0, errDiskFull
	}
	w.limit -= len(p)
	return len(p), nil
}

func TestWriteErrorsPropagate(t *testing.T) {
	for _, f := range report.Formats {
		err := report.Write(&failingWriter{limit: 100}, fullSummary(), f, currencies)
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%s: Write = %v, want the writer's error", f, err)
		}
	}
}

// largeSummary has n findings, as a big run would.
func largeSummary(n int) recon.Summary {
	s := fullSummary()
	s.Findings = make([]recon.Finding, n)
	for i := range s.Findings {
		s.Findings[i] = recon.Finding{
			DiscrepancyID: int64(i + 1), Type: "amount_mismatch", Severity: "high", Status: "open",
			ProviderAccount: "cxpay-main", OrderID: int64(1_000_000 + i), OrderNo: fmt.Sprintf("ORD-%08d", i),
			Currency: "BTC", Expected: "1.00000000", Actual: "0.99999999",
			AmountDelta: decimal.New(int64(-i), -8), Summary: "payer paid less, \"short\"",
		}
	}
	return s
}

// recordingWriter keeps what is written and the largest single write.
type recordingWriter struct {
	bytes.Buffer
	max int
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.max = max(w.max, len(p))
	return w.Buffer.Write(p)
}

// TestLargeSummaryStreams writes largeFindings findings in each format and
// checks that the output leaves in small writes (no format builds the
// document, or the zip, in memory to write it at once) and that the last
// finding arrives intact, past excelize's 16 MiB in-memory chunk.
func TestLargeSummaryStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("a large summary")
	}
	s := largeSummary(largeFindings)
	last := s.Findings[len(s.Findings)-1]
	lastAmount := last.AmountDelta.String()
	cases := []struct {
		f report.Format
		// lastRow tells whether the last finding's id and amount are there.
		lastRow func(out []byte) bool
	}{
		{report.CSV, func(out []byte) bool {
			return bytes.Contains(out, fmt.Appendf(nil, "\nFindings,%d,amount_mismatch,", last.DiscrepancyID))
		}},
		{report.JSON, func(out []byte) bool {
			var got recon.Summary
			if err := json.Unmarshal(out, &got); err != nil || len(got.Findings) != len(s.Findings) {
				return false
			}
			l := got.Findings[len(got.Findings)-1]
			return l.DiscrepancyID == last.DiscrepancyID && l.AmountDelta.Equal(last.AmountDelta)
		}},
		{report.XLSX, func(out []byte) bool {
			// Reading the rows back with excelize takes minutes under -race:
			// look for the last row's cells in the sheet's XML.
			xml := worksheetXML(t, out, "findings")
			lastRow := xml[bytes.LastIndex(xml, []byte("<row ")):]
			return bytes.Count(xml, []byte("<row ")) == len(s.Findings)+1 &&
				bytes.Contains(lastRow, fmt.Appendf(nil, `<c r="A%d"><v>%d</v></c>`, len(s.Findings)+1, last.DiscrepancyID)) &&
				bytes.Contains(lastRow, []byte(`t="n"><v>`+lastAmount+`</v></c>`))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.f.String(), func(t *testing.T) {
			var w recordingWriter
			if err := report.Write(&w, s, tc.f, currencies); err != nil {
				t.Fatal(err)
			}
			if w.Len() < 40*len(s.Findings) {
				t.Fatalf("%d bytes for %d findings: too few", w.Len(), len(s.Findings))
			}
			if w.max > 128<<10 {
				t.Errorf("largest write %d bytes of %d: not streamed", w.max, w.Len())
			}
			if !tc.lastRow(w.Bytes()) {
				t.Errorf("last finding (id %d, amount %s) not found", last.DiscrepancyID, lastAmount)
			}
		})
	}
}
