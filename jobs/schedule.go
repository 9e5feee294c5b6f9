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
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/tallyhq/tally/db/jobsdb"
)

// Task is a scheduled task: every Every, the leader enqueues Args as a River job
// unique per period, so that a second scheduler (or a restart) firing in the same
// window inserts nothing.
type Task struct {
	Name  string
	Every time.Duration
	Args  river.JobArgs
	// Opts are extra insert options (queue, max attempts).
	Opts *river.InsertOpts
}

// Schedule is the gocron scheduler of tally's periodic work.
type Schedule struct {
	scheduler gocron.Scheduler
	elector   *Elector
}

// NewSchedule builds the schedule of tasks; only the process holding the
// scheduler's advisory lock enqueues anything.
func NewSchedule(pool *pgxpool.Pool, client *river.Client[pgx.Tx], tasks []Task, logger *slog.Logger) (*Schedule, error) {
	el := NewElector(pool, "tally-scheduler", logger)
	s, err := gocron.NewScheduler(gocron.WithLogger(logger.With("component", "gocron")), gocron.WithDistributedElector(el))
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	for _, t := range tasks {
		t := t
		_, err := s.NewJob(gocron.DurationJob(t.Every), gocron.NewTask(func(ctx context.Context) {
			if err := Enqueue(ctx, client, t, time.Now()); err != nil {
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

// Enqueue inserts a task's job for the period containing now; a job already
// inserted for that period makes it a no-op.
func Enqueue(ctx context.Context, client *river.Client[pgx.Tx], t Task, now time.Time) error {
	opts := river.InsertOpts{}
	if t.Opts != nil {
		opts = *t.Opts
	}
	period := t.Every
	if period < time.Second {
		period = time.Second // River's smallest uniqueness period
	}
	opts.UniqueOpts = river.UniqueOpts{ByArgs: true, ByPeriod: period}
	_, err := client.Insert(ctx, t.Args, &opts)
	return err
}

// Start starts the schedule.
func (s *Schedule) Start() { s.scheduler.Start() }

// Stop stops the schedule and releases leadership.
func (s *Schedule) Stop() error {
	err := s.scheduler.Shutdown()
	s.elector.Release()
	return err
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
