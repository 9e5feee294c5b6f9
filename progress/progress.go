// Package progress shows how far a long command has got: a statement
// import, a big reconciliation run, a report export.
//
// On a terminal it draws a live bar (github.com/schollz/progressbar) that
// redraws at most ten times a second. Anywhere else, a CI log or a file, it
// prints a plain line at most every PlainInterval, and one final line from
// Finish, so that logs stay readable:
//
//	statement import: 120000/500000 (24%), 23950/s, 5s elapsed, ~16s left
//	statement import: 500000/500000 (100%) in 20.9s, 23923/s
//
// A total of zero or less means the total is unknown: the lines show the
// count and the rate only. Finish prints the final line on a terminal too,
// after clearing the bar, so both show the same outcome.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// PlainInterval is the least time between two progress lines when the output
// is not a terminal.
const PlainInterval = 5 * time.Second

// Bar is the progress of one command. Its methods are safe for concurrent
// use, so workers can Add from their own goroutines.
type Bar struct {
	w      io.Writer
	label  string
	now    func() time.Time
	start  time.Time
	every  time.Duration // PlainInterval, shorter in tests
	isLive bool          // drawing a live bar on a terminal

	count atomic.Int64
	// nextLine is when plain mode may print again (UnixNano), read without
	// the lock so that Add costs an atomic add and a clock read.
	nextLine atomic.Int64

	mu       sync.Mutex
	total    int64
	finished bool
	live     *progressbar.ProgressBar // the terminal's bar when isLive
}

// New starts the progress of a command doing total things (orders, rows,
// bytes), labelled label in every line. A total of zero or less means the
// total is not known yet (see SetTotal). The bar is live when w is an
// *os.File on a terminal (and TERM is not "dumb"), plain otherwise.
func New(w io.Writer, total int64, label string) *Bar {
	return newBar(w, total, label, isTerminal(w), time.Now, PlainInterval)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
}

func newBar(w io.Writer, total int64, label string, live bool, now func() time.Time, every time.Duration) *Bar {
	b := &Bar{w: w, label: label, now: now, every: every, isLive: live, total: max(total, 0)}
	b.start = now()
	b.nextLine.Store(b.start.Add(every).UnixNano())
	if live {
		b.live = b.newLive(b.total)
	}
	return b
}

// newLive makes the terminal bar: a bar with a count, rate and time left for
// a known total, a spinner with a count and rate for an unknown one. It is
// cleared when finished, for Finish's line to take its place.
func (b *Bar) newLive(total int64) *progressbar.ProgressBar {
	if total <= 0 {
		total = -1 // the library's unknown length
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.label),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		// Rendering before the library starts its spinner goroutine
		// sets the start time that goroutine reads without a lock.
		progressbar.OptionSetRenderBlankState(true),
	)
}

// Add records n more things done.
func (b *Bar) Add(n int64) {
	count := b.count.Add(n)
	if b.isLive || b.now().UnixNano() >= b.nextLine.Load() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.finished {
			return
		}
		if b.live != nil {
			_ = b.live.Add64(n) // only "exceeds max" when more is done than announced
			return
		}
		b.plainLine(count)
	}
}

// plainLine prints a progress line unless another goroutine just did.
// b.mu is held.
func (b *Bar) plainLine(count int64) {
	now := b.now()
	if now.UnixNano() < b.nextLine.Load() {
		return
	}
	b.nextLine.Store(now.Add(b.every).UnixNano())
	elapsed := now.Sub(b.start)
	var line strings.Builder
	b.writeCount(&line, count)
	rate := perSecond(count, elapsed)
	fmt.Fprintf(&line, ", %s, %s elapsed", formatRate(rate), elapsed.Round(time.Second))
	if b.total > 0 && count < b.total && rate > 0 {
		left := time.Duration(float64(b.total-count) / rate * float64(time.Second))
		fmt.Fprintf(&line, ", ~%s left", left.Round(time.Second))
	}
	b.println(line.String())
}

// SetTotal changes the total, for a command that learns it once started (a
// provider listing that reports its size on the first page). Zero or less
// makes it unknown.
func (b *Bar) SetTotal(total int64) {
	total = max(total, 0)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished || total == b.total {
		return
	}
	known := b.total > 0
	b.total = total
	if b.live == nil {
		return
	}
	if known && total > 0 {
		b.live.ChangeMax64(total)
		return
	}
	// The library's bar cannot switch between a known and an unknown
	// length: replace it, carrying the count over (its rate and elapsed
	// time restart; the final line still counts from New).
	_ = b.live.Finish() // clears it and stops its spinner
	b.live = b.newLive(total)
	count := b.count.Load()
	if total > 0 {
		count = min(count, total)
	}
	_ = b.live.Add64(count)
}

// Finish ends the progress: it clears the live bar and prints the final
// line, with the count reached, the time taken and the rate. Only the first
// call prints; Add and SetTotal do nothing afterwards. Call it on failure
// too (defer it), so that a terminal is not left with a half-drawn bar.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	if b.live != nil {
		_ = b.live.Finish()
	}
	count := b.count.Load()
	elapsed := b.now().Sub(b.start)
	var line strings.Builder
	b.writeCount(&line, count)
	fmt.Fprintf(&line, " in %s, %s", elapsed.Round(100*time.Millisecond), formatRate(perSecond(count, elapsed)))
	b.println(line.String())
}

// writeCount writes "label: count/total (pct%)", or "label: count" for an
// unknown total.
func (b *Bar) writeCount(line *strings.Builder, count int64) {
	if b.label != "" {
		line.WriteString(b.label)
		line.WriteString(": ")
	}
	if b.total <= 0 {
		fmt.Fprintf(line, "%d", count)
		return
	}
	fmt.Fprintf(line, "%d/%d (%d%%)", count, b.total, count*100/b.total)
}

// println writes one line; a failing writer (a closed log) is not the
// command's failure, so its error is dropped.
func (b *Bar) println(line string) {
	_, _ = io.WriteString(b.w, line+"\n")
}

// perSecond is count per second of elapsed, 0 before any time has passed.
func perSecond(count int64, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(count) / elapsed.Seconds()
}

// formatRate shows a rate with one decimal below 10 a second, none above.
func formatRate(rate float64) string {
	if rate < 10 {
		return fmt.Sprintf("%.1f/s", rate)
	}
	return fmt.Sprintf("%.0f/s", rate)
}
