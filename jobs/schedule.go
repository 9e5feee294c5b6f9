package jobs

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/tallyhq/tally/db/jobsdb"
)

// Task is a scheduled task: every Every, the leader enqueues Args (one of this
// package's job kinds) as a River job unique per period, so that a second
// scheduler (or a restart) firing in the same window inserts nothing
// (Queue.EnqueueTask).
type Task struct {
	Name  string
	Every time.Duration
	Args  river.JobArgs
	// Opts are extra insert options (queue, max attempts).
	Opts *river.InsertOpts
}

// Schedule is the gocron scheduler of tally's periodic work. Its goroutines
// start in NewSchedule: Stop it even when it never started.
type Schedule struct {
	scheduler gocron.Scheduler
	elector   *Elector

	mu      sync.Mutex
	stopped bool
}

// NewSchedule builds the schedule of tasks, which it enqueues through q; only
// the process holding the scheduler's advisory lock enqueues anything.
func NewSchedule(pool *pgxpool.Pool, q *Queue, tasks []Task, logger *slog.Logger) (*Schedule, error) {
	el := NewElector(pool, "tally-scheduler", logger)
	s, err := gocron.NewScheduler(gocron.WithLogger(logger.With("component", "gocron")), gocron.WithDistributedElector(el))
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	for _, t := range tasks {
		t := t
		_, err := s.NewJob(gocron.DurationJob(t.Every), gocron.NewTask(func(ctx context.Context) {
			if err := q.EnqueueTask(ctx, t); err != nil {
				logger.Warn("scheduled task not enqueued", "task", t.Name, "error", err)
			}
		}), gocron.WithName(t.Name), gocron.WithSingletonMode(gocron.LimitModeReschedule),
			gocron.WithStartAt(gocron.WithStartImmediately()))
		if err != nil {
			return nil, fmt.Errorf("schedule %s: %w", t.Name, err)
		}
	}
	return &Schedule{scheduler: s, elector: el}, nil
}

// Start starts the schedule (a stopped schedule stays stopped).
func (s *Schedule) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.scheduler.Start()
	}
}

// Stop stops the schedule for good and releases leadership; stopping it again
// does nothing.
func (s *Schedule) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	err := s.scheduler.Shutdown()
	s.elector.Release()
	if err != nil {
		return fmt.Errorf("stop the schedule: %w", err)
	}
	return nil
}

// Elector makes one process the leader through a PostgreSQL session advisory
// lock held on a dedicated connection. When that connection dies, the lock is
// gone and another process takes over. Session locks do not survive PgBouncer in
// transaction mode: point DATABASE_URL at PostgreSQL itself.
type Elector struct {
	pool   *pgxpool.Pool
	key    int64
	logger *slog.Logger

	mu   sync.Mutex
	conn *pgxpool.Conn
}

// ErrNotLeader is returned by IsLeader on every process but the leader.
var ErrNotLeader = errors.New("not the scheduler leader")

// NewElector returns an elector over the advisory lock named name.
func NewElector(pool *pgxpool.Pool, name string, logger *slog.Logger) *Elector {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &Elector{pool: pool, key: int64(h.Sum64() >> 1), logger: logger}
}

// IsLeader returns nil when this process holds (or just took) the lock.
func (e *Elector) IsLeader(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		if err := e.conn.Ping(ctx); err == nil {
			return nil
		}
		e.logger.Warn("scheduler leader lost its lock connection")
		e.conn.Release()
		e.conn = nil
	}
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire elector connection: %w", err)
	}
	got, err := jobsdb.New(conn).TryAdvisoryLock(ctx, e.key)
	if err != nil {
		conn.Release()
		return fmt.Errorf("try advisory lock: %w", err)
	}
	if !got {
		conn.Release()
		return ErrNotLeader
	}
	e.logger.Info("this process is now the scheduler leader")
	e.conn = conn
	return nil
}

// Release gives up leadership and returns the connection to the pool.
func (e *Elector) Release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = jobsdb.New(e.conn).AdvisoryUnlock(ctx, e.key)
	e.conn.Release()
	e.conn = nil
}
