package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/tallyhq/tally/recon"
)

// writeJSON writes exactly what json.MarshalIndent(s, "", "  ") would, plus a
// final newline, without holding the whole document in memory: the findings,
// the only part that grows with the data, are marshalled one at a time.
// Findings is the last field of recon.Summary, so the document is everything
// else with an empty findings array, opened up to take them.
func writeJSON(w io.Writer, s *recon.Summary) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := writeJSONTo(bw, s); err != nil {
		return err
	}
	return bw.Flush()
}

func writeJSONTo(w io.Writer, s *recon.Summary) error {
	if len(s.Findings) == 0 {
		return writeJSONWhole(w, s)
	}
	head := *s
	head.Findings = []recon.Finding{}
	doc, err := json.MarshalIndent(&head, "", "  ")
	if err != nil {
		return err
	}
	const tail = "\"findings\": []\n}"
	if !bytes.HasSuffix(doc, []byte(tail)) {
		// Findings is no longer the last field: correct but not streamed.
		return writeJSONWhole(w, s)
	}
	prefix := doc[:len(doc)-len(tail)+len(`"findings": [`)]
	if _, err := w.Write(prefix); err != nil {
		return err
	}
	for i := range s.Findings {
		sep := ",\n    "
		if i == 0 {
			sep = "\n    "
		}
		item, err := json.MarshalIndent(&s.Findings[i], "    ", "  ")
		if err != nil {
			return fmt.Errorf("finding %d: %w", s.Findings[i].DiscrepancyID, err)
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(item); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "\n  ]\n}\n")
	return err
}

func writeJSONWhole(w io.Writer, s *recon.Summary) error {
	doc, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(doc, '\n'))
	return err
}
