package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestNumericCellsSplitWrites feeds worksheet XML to numericCells in pieces of
// every size, so that markers and closing tags fall across writes.
func TestNumericCellsSplitWrites(t *testing.T) {
	const marker = markerPrefix + "00ff:"
	in := `<row r="2"><c r="A2" t="inlineStr"><is><t>tally-amount-other:1</t></is></c>` +
		`<c r="B2" s="3" t="inlineStr"><is><t>` + marker + `-0.00000001</t></is></c>` +
		`<c r="C2" t="inlineStr"><is><t>plain</t></is></c>` +
		`<c r="D2" s="4" t="inlineStr"><is><t>` + marker + `12345678901234567890.5</t></is></c></row>`
	want := `<row r="2"><c r="A2" t="inlineStr"><is><t>tally-amount-other:1</t></is></c>` +
		`<c r="B2" s="3" t="n"><v>-0.00000001</v></c>` +
		`<c r="C2" t="inlineStr"><is><t>plain</t></is></c>` +
		`<c r="D2" s="4" t="n"><v>12345678901234567890.5</v></c></row>`
	for size := 1; size <= len(in); size++ {
		var out bytes.Buffer
		n := &numericCells{w: &out, open: []byte(inlineOpen + marker)}
		for rest := in; rest != ""; {
			k := min(size, len(rest))
			if m, err := n.Write([]byte(rest[:k])); err != nil || m != k {
				t.Fatalf("size %d: Write = %d, %v", size, m, err)
			}
			rest = rest[k:]
		}
		if err := n.flush(); err != nil {
			t.Fatalf("size %d: flush: %v", size, err)
		}
		if out.String() != want {
			t.Fatalf("size %d:\n got %s\nwant %s", size, out.String(), want)
		}
		if n.numbers != 2 {
			t.Fatalf("size %d: %d numbers converted, want 2", size, n.numbers)
		}
	}
}

func TestNumericCellsUnterminated(t *testing.T) {
	var out bytes.Buffer
	n := &numericCells{w: &out, open: []byte(inlineOpen + "m:")}
	_, _ = n.Write([]byte(`<c r="A1" t="inlineStr"><is><t>m:1.5`))
	if err := n.flush(); err == nil || !strings.Contains(err.Error(), "inside a numeric cell") {
		t.Errorf("flush = %v, want an error", err)
	}
}
