package jobs

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
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
	el := NewElector(pool, scheduleLockName, logger)
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

// scheduleLockName names the advisory lock of the schedule's leader.
const scheduleLockName = "tally-scheduler"

// ScheduleLeader reports whether this process leads the schedule now (holds
// the scheduler's advisory lock): false without a schedule. It is what the
// tally_scheduler_leader gauge of the admin listener reads.
func (r *Runner) ScheduleLeader() bool {
	return r.schedule != nil && r.schedule.elector.Leading()
}

// Leader is the database session holding the schedule's leadership: which
// process leads is its ApplicationName (tally serve and tally worker set it
// to their command, pid and host: app.Config.ApplicationName).
type Leader struct {
	// BackendPID is the PostgreSQL backend of the leader's lock connection.
	BackendPID      int32
	ApplicationName string
	// ClientAddr is the leader's address as PostgreSQL sees it ("" over a
	// Unix socket).
	ClientAddr string
	// Since is when the lock connection's session started.
	Since time.Time
}

// ErrNoLeader: no process holds the schedule's leadership now (none runs
// the schedule, or the leader died and no other has ticked since).
var ErrNoLeader = errors.New("no process leads the schedule")

// ScheduleLeaderOf asks the database which session holds the schedule's
// advisory lock, for an operator (and a test) to see which process leads;
// ErrNoLeader when none does.
func ScheduleLeaderOf(ctx context.Context, pool *pgxpool.Pool) (Leader, error) {
	rows, err := jobsdb.New(pool).AdvisoryLockHolder(ctx, lockKey(scheduleLockName))
	if err != nil {
		return Leader{}, fmt.Errorf("schedule leader: %w", err)
	}
	if len(rows) == 0 {
		return Leader{}, ErrNoLeader
	}
	r := rows[0]
	return Leader{BackendPID: r.BackendPid, ApplicationName: r.ApplicationName, ClientAddr: r.ClientAddr, Since: r.BackendStart}, nil
}

// Elector makes one process the leader through a PostgreSQL session advisory
// lock held on a dedicated connection. When that connection dies, the lock is
// gone (PostgreSQL ends the session of a process that died: its socket
// closed) and another process takes over at its next scheduling tick, when
// gocron asks IsLeader again. Session locks do not survive PgBouncer in
// transaction mode: point DATABASE_URL at PostgreSQL itself.
type Elector struct {
	pool   *pgxpool.Pool
	key    int64
	logger *slog.Logger

	mu   sync.Mutex
	conn *pgxpool.Conn
	// leading mirrors conn != nil for Leading, which must not wait for a
	// check in progress (a metrics scrape).
	leading atomic.Bool
}

// ErrNotLeader is returned by IsLeader on every process but the leader.
var ErrNotLeader = errors.New("not the scheduler leader")

// NewElector returns an elector over the advisory lock named name.
func NewElector(pool *pgxpool.Pool, name string, logger *slog.Logger) *Elector {
	return &Elector{pool: pool, key: lockKey(name), logger: logger}
}

// lockKey is the advisory lock key of a name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64() >> 1)
}

// processAttrs name this process in the elector's log lines: which of
// several processes leads.
func processAttrs() []any {
	host, _ := os.Hostname()
	return []any{"pid", os.Getpid(), "host", host}
}

// Leading reports whether this process held the lock at its last check
// (IsLeader).
func (e *Elector) Leading() bool { return e.leading.Load() }

// IsLeader returns nil when this process holds (or just took) the lock. Every
// process of the schedule asks at each of its ticks, so that one takes over
// within a tick of the leader's death.
func (e *Elector) IsLeader(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		if err := e.conn.Ping(ctx); err == nil {
			return nil
		}
		e.logger.Warn("lost schedule leadership: the lock connection failed", processAttrs()...)
		e.conn.Release()
		e.conn = nil
		e.leading.Store(false)
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
	e.logger.Info("became schedule leader", processAttrs()...)
	e.conn = conn
	e.leading.Store(true)
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
	e.leading.Store(false)
	e.logger.Info("released schedule leadership", processAttrs()...)
}
