package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t0.Add(d)
}

// step is, at time at after the start, one call: Add(add), SetTotal(total)
// when setTotal, or Finish when finish; and the line it must print, if any.
type step struct {
	at       time.Duration
	add      int64
	setTotal bool
	total    int64
	finish   bool
	want     string
}

func TestPlainLines(t *testing.T) {
	cases := []struct {
		name  string
		total int64
		label string
		steps []step
	}{
		{
			name: "known total", total: 1000, label: "statement import",
			steps: []step{
				{at: time.Second, add: 100},             // too soon
				{at: 4900 * time.Millisecond, add: 100}, // still too soon
				{at: 5 * time.Second, add: 100, want: "statement import: 300/1000 (30%), 60/s, 5s elapsed, ~12s left"},
				{at: 6 * time.Second, add: 100},
				{at: 9 * time.Second, add: 100}, // 5s after the last line, not after the start
				{at: 10 * time.Second, add: 100, want: "statement import: 600/1000 (60%), 60/s, 10s elapsed, ~7s left"},
				{at: 12500 * time.Millisecond, add: 400},
				{at: 12500 * time.Millisecond, finish: true, want: "statement import: 1000/1000 (100%) in 12.5s, 80/s"},
			},
		},
		{
			name: "unknown total", total: 0, label: "export",
			steps: []step{
				{at: 2 * time.Second, add: 5},
				{at: 20 * time.Second, add: 5, want: "export: 10, 0.5/s, 20s elapsed"},
				{at: 21 * time.Second, finish: true, want: "export: 10 in 21s, 0.5/s"},
			},
		},
		{
			name: "negative total is unknown", total: -1, label: "run",
			steps: []step{
				{at: 6 * time.Second, add: 600, want: "run: 600, 100/s, 6s elapsed"},
				{at: 6 * time.Second, finish: true, want: "run: 600 in 6s, 100/s"},
			},
		},
		{
			name: "total learnt later", total: 0, label: "listing",
			steps: []step{
				{at: 5 * time.Second, add: 50, want: "listing: 50, 10/s, 5s elapsed"},
				{at: 6 * time.Second, setTotal: true, total: 200},
				{at: 10 * time.Second, add: 50, want: "listing: 100/200 (50%), 10/s, 10s elapsed, ~10s left"},
				{at: 11 * time.Second, setTotal: true, total: 0},
				{at: 15 * time.Second, add: 50, want: "listing: 150, 10/s, 15s elapsed"},
				{at: 15 * time.Second, finish: true, want: "listing: 150 in 15s, 10/s"},
			},
		},
		{
			name: "finished early shows what was done", total: 1000, label: "recon",
			steps: []step{
				{at: 2 * time.Second, add: 250},
				{at: 2 * time.Second, finish: true, want: "recon: 250/1000 (25%) in 2s, 125/s"},
			},
		},
		{
			name: "no label", total: 10, label: "",
			steps: []step{
				{at: 5 * time.Second, add: 5, want: "5/10 (50%), 1.0/s, 5s elapsed, ~5s left"},
				{at: 5 * time.Second, finish: true, want: "5/10 (50%) in 5s, 1.0/s"},
			},
		},
		{
			name: "nothing done", total: 10, label: "import",
			steps: []step{
				{at: 0, finish: true, want: "import: 0/10 (0%) in 0s, 0.0/s"},
			},
		},
		{
			name: "only the first Finish prints, Add and SetTotal after it nothing", total: 10, label: "x",
			steps: []step{
				{at: time.Second, add: 10},
				{at: time.Second, finish: true, want: "x: 10/10 (100%) in 1s, 10/s"},
				{at: 2 * time.Second, finish: true},
				{at: 60 * time.Second, add: 10},
				{at: 61 * time.Second, setTotal: true, total: 20},
				{at: 62 * time.Second, finish: true},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: t0}
			var out bytes.Buffer
			b := newBar(&out, tc.total, tc.label, false, clock.Now, PlainInterval)
			for i, s := range tc.steps {
				clock.set(s.at)
				before := out.Len()
				switch {
				case s.finish:
					b.Finish()
				case s.setTotal:
					b.SetTotal(s.total)
				default:
					b.Add(s.add)
				}
				got := strings.TrimSuffix(out.String()[before:], "\n")
				if got != s.want {
					t.Errorf("step %d at %v: printed %q, want %q", i, s.at, got, s.want)
				}
			}
		})
	}
}

// TestConcurrentAdd adds from many goroutines, with a clock that moves 1 ms
// at every reading: every Add is counted, lines stay at most one per
// interval, and the final line has the total.
func TestConcurrentAdd(t *testing.T) {
	var ticks atomic.Int64
	now := func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
	var out syncBuffer
	b := newBar(&out, 0, "orders", false, now, PlainInterval)

	const workers, adds = 8, 2000
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range adds {
				b.Add(1)
			}
		})
	}
	wg.Wait()
	b.Finish()

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	final := lines[len(lines)-1]
	if !strings.HasPrefix(final, "orders: 16000 in ") {
		t.Errorf("final line %q, want 16000 counted", final)
	}
	elapsed := time.Duration(ticks.Load()) * time.Millisecond
	if most := int(elapsed/PlainInterval) + 1; len(lines) > most {
		t.Errorf("%d lines in %v of clock: more than one per %v:\n%s", len(lines), elapsed, PlainInterval, out.String())
	}
	if len(lines) < 2 {
		t.Errorf("no progress line in %v of clock:\n%s", elapsed, out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, so that the race
// detector judges Bar and not the test's writer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// TestNewIsPlainOffTerminal checks that New picks plain lines for a buffer
// and for a file, which is what CI logs are.
func TestNewIsPlainOffTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	for name, w := range map[string]interface {
		Write([]byte) (int, error)
	}{"buffer": &bytes.Buffer{}, "file": f} {
		b := New(w, 10, "import")
		if b.isLive {
			t.Errorf("%s: live bar off a terminal", name)
		}
		b.Add(3)
		b.Finish()
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); !strings.HasPrefix(got, "import: 3/10 (30%) in ") || strings.Count(got, "\n") != 1 || strings.Contains(got, "\r") {
		t.Errorf("file holds %q, want one plain final line", got)
	}
}
