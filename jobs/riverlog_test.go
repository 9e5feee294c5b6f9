package jobs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestRiverLoggerKeepsWarnings: River's periodic info lines (its producers'
// counts) stay out of the process's log; its warnings and errors reach it,
// marked component=river.
func TestRiverLoggerKeepsWarnings(t *testing.T) {
	var buf bytes.Buffer
	l := riverLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Info("producer: Heartbeat", "num_completed_jobs", 0, "num_jobs_running", 0, "queue", "default")
	l.Debug("producer: Fetching jobs")
	l.With("queue", "default").Info("producer: Run loop started")
	l.WithGroup("g").Warn("elector: lost leadership", "x", 1)
	l.Error("producer: error fetching jobs")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "component=river") ||
		!strings.Contains(lines[0], "g.x=1") || !strings.Contains(lines[1], "level=ERROR") {
		t.Fatalf("river's log = %q, want only its warning and its error", buf.String())
	}
}
