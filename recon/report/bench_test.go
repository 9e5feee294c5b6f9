package report_test

import (
	"io"
	"testing"

	"github.com/tallyhq/tally/recon/report"
)

// BenchmarkWrite100kFindings exports a run with 100,000 findings in each
// format.
func BenchmarkWrite100kFindings(b *testing.B) {
	s := largeSummary(100_000)
	for _, f := range report.Formats {
		b.Run(f.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := report.Write(io.Discard, s, f, currencies); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
