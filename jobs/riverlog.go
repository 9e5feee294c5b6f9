package jobs

import (
	"context"
	"log/slog"
)

// RiverLogLevel is the least level of River's own log lines that reach the
// process's log. River logs its producers' periodic counts and its leader's
// maintenance at info, which would otherwise be about half of a quiet
// `tally serve`'s log; tally logs what its jobs do itself, so River's lines are
// kept only from warn up (a failed fetch, a lost leader, a job that panicked).
const RiverLogLevel = slog.LevelWarn

// riverLogger is the logger River is given: the process's logger with
// component=river, quiet below RiverLogLevel.
func riverLogger(l *slog.Logger) *slog.Logger {
	return slog.New(minLevel{h: l.Handler(), min: RiverLogLevel}).With("component", "river")
}

// minLevel drops the records of a handler below a level.
type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}

func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h: m.h.WithAttrs(as), min: m.min}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h: m.h.WithGroup(name), min: m.min}
}
