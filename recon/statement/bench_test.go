package statement_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/recon/statement"
)

// generator streams a statement of n lines without holding it: deposits and
// payouts with stated and unstated fees, and every twentieth order a payout
// settled in two parts (so the duplicate part check has work to do).
type generator struct {
	n, i int
	buf  []byte
	off  int
}

func newGenerator(n int) *generator {
	return &generator{n: n, buf: []byte(header)}
}

var genBase = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func (g *generator) Read(p []byte) (int, error) {
	for g.off == len(g.buf) {
		if g.i == g.n {
			return 0, io.EOF
		}
		g.buf, g.off = g.line(g.buf[:0], g.i), 0
		g.i++
	}
	n := copy(p, g.buf[g.off:])
	g.off += n
	return n, nil
}

// line appends line i of the statement.
func (g *generator) line(b []byte, i int) []byte {
	order := i
	part := ""
	if i%20 >= 18 { // lines 18 and 19 of every 20 are two parts of one payout
		order, part = i-i%20+18, "p"+strconv.Itoa(i%20-17)
	}
	b = append(b, "ORD"...)
	b = strconv.AppendInt(b, int64(order), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, 7_000_000_000+int64(order), 10)
	if part != "" || i%3 == 0 {
		b = append(b, ",payout,succeeded,"...)
	} else {
		b = append(b, ",deposit,succeeded,"...)
	}
	b = strconv.AppendInt(b, int64(10+i%9000), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(10+i%90), 10)
	if i%2 == 0 {
		b = append(b, ",0.35,USDT,"...)
	} else {
		b = append(b, ",,CNY,"...)
	}
	b = genBase.Add(time.Duration(i)*time.Second).AppendFormat(b, time.RFC3339)
	b = append(b, ',')
	b = append(b, part...)
	return append(b, '\n')
}

// drain reads a statement to the end and returns the good lines; any error but
// io.EOF fails the test.
func drain(tb testing.TB, r *statement.Reader, upTo int) int {
	tb.Helper()
	n := 0
	for n < upTo {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatalf("after %d lines: %v", n, err)
		}
		n++
	}
	return n
}

var (
	millionOnce sync.Once
	million     []byte
)

// BenchmarkReader1M reads a statement of 1,000,000 lines (about 80 MB) per
// operation and reports lines/s, and allocations and bytes per line.
func BenchmarkReader1M(b *testing.B) {
	const lines = 1_000_000
	millionOnce.Do(func() {
		var err error
		if million, err = io.ReadAll(newGenerator(lines)); err != nil {
			b.Fatal(err)
		}
	})
	b.SetBytes(int64(len(million)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range b.N {
		r, err := statement.NewReader(bytes.NewReader(million))
		if err != nil {
			b.Fatal(err)
		}
		if n := drain(b, r, lines+1); n != lines {
			b.Fatalf("read %d lines, want %d", n, lines)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(lines*b.N)/time.Since(start).Seconds(), "lines/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(lines*b.N), "allocs/line")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(lines*b.N), "B/line")
}

// TestReaderMemoryIsFlat reads a generated statement as a stream and checks
// that the live heap after 250,000 lines is what it was after 50,000, apart
// from the part ids the duplicate check remembers (one line in ten).
func TestReaderMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 250,000 lines")
	}
	r, err := statement.NewReader(newGenerator(250_000))
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	if n := drain(t, r, 50_000); n != 50_000 {
		t.Fatalf("read %d lines", n)
	}
	early := heap()
	if n := drain(t, r, 200_000); n != 200_000 {
		t.Fatalf("read %d lines", n)
	}
	late := heap()
	// 20,000 more part lines at up to 60 bytes each (a map may double once) is
	// under 2 MB; a reader that kept lines would hold 200,000 x 80 bytes.
	const allowance = 2 << 20
	if late > early+allowance {
		t.Fatalf("heap grew from %d to %d bytes over 200,000 lines; want under %d", early, late, allowance)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last line: %v, want io.EOF", err)
	}
}
