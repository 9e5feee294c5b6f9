package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tallyhq/tally/db/testdb"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScheduleLeadershipMovesWhenTheLeaderSessionEnds: two processes' electors
// (pools of their own, named by application_name) over one database. One
// leads, the database names it (ScheduleLeaderOf), the other is refused; when
// the leader's session ends (PostgreSQL terminates it, as it does for a
// killed process), the other leads at its next ask and the database names it,
// and the first, asking again, learns it lost.
func TestScheduleLeadershipMovesWhenTheLeaderSessionEnds(t *testing.T) {
	t.Parallel()
	pool, dbURL := testdb.NewWithURLReserving(t, 4)
	ctx := context.Background()
	open := func(name string) *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 2
		cfg.ConnConfig.RuntimeParams["application_name"] = name
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	var logA, logB syncBuffer
	a := NewElector(open("tally worker pid=1 host=a"), scheduleLockName, slog.New(slog.NewTextHandler(&logA, nil)))
	b := NewElector(open("tally worker pid=2 host=b"), scheduleLockName, slog.New(slog.NewTextHandler(&logB, nil)))
	t.Cleanup(a.Release)
	t.Cleanup(b.Release)

	if _, err := ScheduleLeaderOf(ctx, pool); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("before any elector asked: leader error %v, want ErrNoLeader", err)
	}
	if err := a.IsLeader(ctx); err != nil {
		t.Fatalf("a: %v, want the lead", err)
	}
	if err := b.IsLeader(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("b: %v, want ErrNotLeader", err)
	}
	if !a.Leading() || b.Leading() {
		t.Fatalf("Leading: a %v, b %v; want a only", a.Leading(), b.Leading())
	}
	l, err := ScheduleLeaderOf(ctx, pool)
	if err != nil || l.ApplicationName != "tally worker pid=1 host=a" {
		t.Fatalf("leader %+v, %v; want a's session", l, err)
	}
	if !strings.Contains(logA.String(), "became schedule leader") || !strings.Contains(logA.String(), "pid=") {
		t.Fatalf("a's log lacks the leadership line with its pid: %s", logA.String())
	}

	// The leader's session ends.
	var ended bool
	if err := pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, l.BackendPID).Scan(&ended); err != nil || !ended {
		t.Fatalf("terminate the leader's session: %v %v", ended, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for b.IsLeader(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("b never took the lead after a's session ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	l, err = ScheduleLeaderOf(ctx, pool)
	if err != nil || l.ApplicationName != "tally worker pid=2 host=b" {
		t.Fatalf("leader %+v, %v; want b's session", l, err)
	}
	if err := a.IsLeader(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a after its session ended: %v, want ErrNotLeader", err)
	}
	if a.Leading() || !b.Leading() {
		t.Fatalf("Leading: a %v, b %v; want b only", a.Leading(), b.Leading())
	}
	if !strings.Contains(logA.String(), "lost schedule leadership") {
		t.Fatalf("a's log lacks the lost leadership line: %s", logA.String())
	}

	// Released, the lead is free again.
	b.Release()
	if _, err := ScheduleLeaderOf(ctx, pool); !errors.Is(err, ErrNoLeader) {
		t.Fatalf("after b released: leader error %v, want ErrNoLeader", err)
	}
}
