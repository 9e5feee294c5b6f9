package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"riverqueue.com/riverui"
)

// UI is River's own web UI (riverqueue.com/riverui) over this process's
// River client: jobs by state, their arguments and errors, queues (pause,
// resume), retry and cancel. It is built here so that River stays in
// package jobs; the caller mounts it under its prefix and puts its own
// authorization in front, as River's handler has none when embedded (the
// console serves it to admins only).
type UI struct {
	h      *riverui.Handler
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	log    *slog.Logger
}

// NewUI builds River's UI for paths under prefix ("/console/admin/river"),
// over the Queue's client: it lists and acts on the jobs of every process
// sharing the database. Its background work (River's cache of job counts,
// a count every 10 s) starts with the first request, so that a process
// whose UI nobody opens runs none; Close stops it.
func NewUI(q *Queue, prefix string, logger *slog.Logger) (*UI, error) {
	if logger == nil {
		logger = slog.Default()
	}
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(q.client, nil),
		Logger:    logger.With("component", "riverui"),
		Prefix:    prefix,
		// Job arguments are ids (orders, callbacks, runs), never secrets,
		// but keep the list short: arguments show on a job's page.
		JobListHideArgsByDefault: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: river UI: %w", ErrRiver, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &UI{h: h, ctx: ctx, cancel: cancel, log: logger}, nil
}

// ServeHTTP serves River's UI and its API under the prefix.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.once.Do(func() {
		if err := u.h.Start(u.ctx); err != nil {
			u.log.Warn("river UI: start", "error", err)
		}
	})
	u.h.ServeHTTP(w, r)
}

// Close stops the UI's background work (before the pool closes).
func (u *UI) Close() { u.cancel() }
