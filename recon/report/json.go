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
// final newline, without holding the whole document in memory: the open items
// and the findings, the parts that grow with the data, are marshalled one at a
// time. They are the last two fields of recon.Summary, so the document is
// everything else with both arrays empty, opened up to take them.
func writeJSON(w io.Writer, s *recon.Summary) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := writeJSONTo(bw, s); err != nil {
		return err
	}
	return bw.Flush()
}

func writeJSONTo(w io.Writer, s *recon.Summary) error {
	if len(s.Findings) == 0 && len(s.OpenItems) == 0 {
		return writeJSONWhole(w, s)
	}
	head := *s
	head.OpenItems, head.Findings = []recon.OpenItem{}, []recon.Finding{}
	doc, err := json.MarshalIndent(&head, "", "  ")
	if err != nil {
		return err
	}
	const tail = "\"open_items\": [],\n  \"findings\": []\n}"
	if !bytes.HasSuffix(doc, []byte(tail)) {
		// They are no longer the last fields: correct but not streamed.
		return writeJSONWhole(w, s)
	}
	if _, err := w.Write(doc[:len(doc)-len(tail)+len(`"open_items": `)]); err != nil {
		return err
	}
	err = writeArray(w, s.OpenItems, func(it *recon.OpenItem) error {
		return fmt.Errorf("open item %d", it.DiscrepancyID)
	})
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, ",\n  \"findings\": "); err != nil {
		return err
	}
	err = writeArray(w, s.Findings, func(f *recon.Finding) error {
		return fmt.Errorf("finding %d", f.DiscrepancyID)
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n}\n")
	return err
}

// writeArray writes items as json.MarshalIndent writes a field's array at
// the second level: null for nil, [] for none, else one item a line. what
// names an item whose marshalling failed.
func writeArray[T any](w io.Writer, items []T, what func(*T) error) error {
	switch {
	case items == nil:
		_, err := io.WriteString(w, "null")
		return err
	case len(items) == 0:
		_, err := io.WriteString(w, "[]")
		return err
	}
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	for i := range items {
		sep := ",\n    "
		if i == 0 {
			sep = "\n    "
		}
		item, err := json.MarshalIndent(&items[i], "    ", "  ")
		if err != nil {
			return fmt.Errorf("%w: %w", what(&items[i]), err)
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(item); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "\n  ]")
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
