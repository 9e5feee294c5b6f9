package jobs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Job states Stats counts: River's states of jobs not yet completed or
// cancelled (available is "queued").
const (
	StateAvailable = "available"
	StateScheduled = "scheduled"
	StateRunning   = "running"
	StateRetryable = "retryable"
	StateDiscarded = "discarded"
)

// KindState is the count of jobs of one kind in one state.
type KindState struct {
	Kind  string
	State string
	Count int64
	// Oldest is, for available jobs, when the oldest of them became
	// available (its scheduled_at): the kind's queue latency is now minus
	// it. Zero for the other states.
	Oldest time.Time
	// OldestCreated is when the oldest job of the kind and state was
	// queued (its created_at).
	OldestCreated time.Time
}

// Stats is a snapshot of the queue, for /metrics.
type Stats struct {
	// At is when the snapshot was taken (by the database's clock).
	At time.Time
	// Kinds has one line per kind and state that has jobs.
	Kinds []KindState
}

// statsSQL counts River's unfinished (and discarded) jobs by kind and state.
// River's own table: its schema is River's migrations, not tally's, so the
// query is not sqlc's. The states are the leading column of River's
// river_job_prioritized_fetching_index (available) and of
// river_job_state_and_finalized_at_index (discarded), so completed jobs,
// which are most of the table, are never read.
const statsSQL = `
SELECT kind, state::text, count(*)::bigint,
       min(scheduled_at) FILTER (WHERE state = 'available'), min(created_at),
       now()
FROM river_job
WHERE state IN ('available', 'scheduled', 'running', 'retryable', 'discarded')
GROUP BY kind, state
ORDER BY kind, state`

// StatsReader counts the jobs of a database by kind and state, at most once
// per its cache interval (a Prometheus scrape every few seconds from
// several processes costs one query each interval).
type StatsReader struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	ttl     time.Duration

	mu   sync.Mutex
	last Stats
	when time.Time
}

// Stats default bounds: a query's timeout and how long a snapshot is reused.
const (
	DefaultStatsTimeout = 2 * time.Second
	DefaultStatsCache   = 5 * time.Second
)

// NewStatsReader reads the queue of pool with the default timeout and cache.
func NewStatsReader(pool *pgxpool.Pool) *StatsReader {
	return &StatsReader{pool: pool, timeout: DefaultStatsTimeout, ttl: DefaultStatsCache}
}

// Stats is the runner's StatsReader's snapshot (see StatsReader.Stats).
func (r *Runner) Stats(ctx context.Context) (Stats, error) {
	return r.stats.Stats(ctx)
}

// Stats counts the jobs by kind and state, or answers the snapshot of the
// last few seconds. The query is bounded by the reader's timeout.
func (s *StatsReader) Stats(ctx context.Context) (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.when.IsZero() && time.Since(s.when) < s.ttl {
		return s.last, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rows, err := s.pool.Query(ctx, statsSQL)
	if err != nil {
		return Stats{}, fmt.Errorf("job stats: %w", err)
	}
	defer rows.Close()
	var st Stats
	for rows.Next() {
		var k KindState
		var oldest *time.Time
		if err := rows.Scan(&k.Kind, &k.State, &k.Count, &oldest, &k.OldestCreated, &st.At); err != nil {
			return Stats{}, fmt.Errorf("job stats: %w", err)
		}
		if oldest != nil {
			k.Oldest = *oldest
		}
		st.Kinds = append(st.Kinds, k)
	}
	if err := rows.Err(); err != nil {
		return Stats{}, fmt.Errorf("job stats: %w", err)
	}
	if st.At.IsZero() {
		st.At = time.Now()
	}
	s.last, s.when = st, time.Now()
	return st, nil
}
