package report

import (
	"encoding/csv"
	"io"

	"github.com/tallyhq/tally/recon"
)

// sectionHeader is the first field of every CSV header row.
const sectionHeader = "Section"

// writeCSV writes every section as a block of one stream: a header row whose
// first field is "Section" and the others the columns' headers, then the
// section's rows, each led by the section's title. A section without rows still has its header. encoding/csv quotes per
// RFC 4180 and buffers its output, so rows go out as they are made. Amounts
// take the scales of cur.
func writeCSV(w io.Writer, s *recon.Summary, cur Currencies) error {
	cw := csv.NewWriter(w)
	record := make([]string, 0, 16)
	for _, sec := range sections {
		record = append(record[:0], sectionHeader)
		for _, c := range sec.columns {
			record = append(record, c.header)
		}
		if err := cw.Write(record); err != nil {
			return err
		}
		err := sec.rows(s, func(cells []cell) error {
			record = append(record[:0], sec.title)
			for _, c := range cells {
				record = append(record, c.csv(cur))
			}
			return cw.Write(record)
		})
		if err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
