// Package callbacks takes provider callbacks in and applies them: the ingress
// verifies a delivery with its provider account's secret and stores it in the
// inbox with its process_callback job, in one transaction shared with the
// deliveries arriving at the same time (intake's group commit), before the
// provider is answered; a rejected delivery is counted per account and hour
// and kept only as one of the hour's samples. The process_callback workers
// apply stored callbacks through the order state machine (package orders),
// in group transactions where they can (group.go) and alone where they
// cannot; requeue_callbacks finds the callbacks whose jobs were lost.
//
// The package owns the callback_inbox and callback_rejections tables. Its
// background goroutines (intake's committers, the group loops) start in New
// and stop in Close.
package callbacks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/db/callbacksdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/orders"
)

// Errors callers tell apart.
var (
	// ErrUnknownAccount: a callback URL that routes to no provider account (no
	// account has that callback key).
	ErrUnknownAccount = errors.New("unknown provider account")
	// ErrClosed: the Service is closed; nothing was stored or applied. The
	// ingress answers 503 (the provider retries), a job retries.
	ErrClosed = errors.New("callbacks service closed")
)

// Queue is how stored callbacks get their process_callback job in the same
// transaction as the inbox rows; package jobs implements it with River.
type Queue interface {
	ProcessCallback(ctx context.Context, tx pgx.Tx, inboxIDs ...int64) error
}

// DefaultRejectedSamplesPerHour is how many rejected callback deliveries per
// provider account and hour are kept as samples unless Options say otherwise.
const DefaultRejectedSamplesPerHour = 20

// Options configure a Service.
type Options struct {
	// RejectedSamplesPerHour is how many rejected deliveries (bad signature,
	// unparsable) per provider account and UTC hour keep their request in the
	// callback inbox as samples; beyond it they are only counted. Zero means
	// DefaultRejectedSamplesPerHour; negative keeps none.
	RejectedSamplesPerHour int
	// NoGroups applies every stored callback in a transaction of its own
	// instead of sharing one with the callbacks processed at the same time
	// (see Process); for tests and comparisons.
	NoGroups bool
	// Applied, when set, is told of every verified callback applied to its
	// order, after its transaction committed: how long since the callback's
	// first delivery was received (its inbox row's received_at), i.e. the
	// callback-to-ledger latency (/metrics). It must not block.
	Applied func(sinceReceived time.Duration)
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Service takes callbacks in and applies them.
type Service struct {
	pool      *pgxpool.Pool
	q         *callbacksdb.Queries
	orders    *orders.Service
	merchants *merchants.Service
	disc      *discrepancies.Store
	queue     Queue
	opts      Options

	intake intake // group commit of verified callbacks
	group  group  // group application of stored callbacks

	// ctx runs the loops' transactions; Close cancels it when it cannot
	// wait for them.
	ctx    context.Context
	cancel context.CancelFunc
	// mu is held (read) while a callback is handed to a loop, and (write) by
	// Close while it stops taking them, so that nothing is handed to a loop
	// that has stopped.
	mu     sync.RWMutex
	closed bool
	loops  sync.WaitGroup
}

// New returns a Service and starts its loops: intake's committers and, unless
// Options.NoGroups, the group loops. Close stops them. q queues the stored
// callbacks' jobs (package jobs' Queue, built before the Service).
func New(pool *pgxpool.Pool, o *orders.Service, m *merchants.Service, d *discrepancies.Store, q Queue, opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RejectedSamplesPerHour == 0 {
		opts.RejectedSamplesPerHour = DefaultRejectedSamplesPerHour
	}
	s := &Service{pool: pool, q: callbacksdb.New(pool), orders: o, merchants: m, disc: d, queue: q, opts: opts}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.intake.start(s)
	if !opts.NoGroups {
		s.group.start(s)
	}
	return s
}

// Close stops taking callbacks in: Ingest and Process return ErrClosed from
// then on. It waits until the callbacks already handed to its loops are
// stored or applied; when ctx ends first, the transactions still running are
// cancelled, their callers get the error (the ingress answers 503, a job
// retries), and Close returns it. Close the Service after the HTTP server
// and the workers that use it.
func (s *Service) Close(ctx context.Context) error {
	// A hand-in waiting for room gives up when ctx ends, so that Close can
	// take mu.
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.intake.ch)
		if s.group.ch != nil {
			close(s.group.ch)
		}
	}
	s.mu.Unlock()
	s.loops.Wait()
	forced := !stop()
	s.cancel()
	if forced {
		return fmt.Errorf("close callbacks: pending callbacks cancelled: %w", ctx.Err())
	}
	return nil
}

// handIn runs send, which hands work to a loop, unless the Service is closed.
func (s *Service) handIn(send func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return send()
}

// Stats counts, since the service started, the stored callbacks applied in a
// group transaction and those applied each in its own (see Process); a
// callback that needed nothing counts in neither.
type Stats struct {
	Grouped, Alone int64
}

// Stats says how this process applied its stored callbacks.
func (s *Service) Stats() Stats {
	return Stats{Grouped: s.group.grouped.Load(), Alone: s.group.alone.Load()}
}
