package testdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tallyhq/tally/db/localpg"
)

// PoolSize is the size of the pool New and NewWithURL return (pgx's default
// depends on the machine's CPUs; the budget needs a number).
const PoolSize = 4

// Reserve holds n of the test suite's PostgreSQL connection slots until tb
// ends, waiting while other tests (of this process or any other test binary
// of the suite on this machine) hold them. The slots number half of the
// server's max_connections, so that the whole suite, whatever runs in
// parallel, fits in half of the server's connections at any moment and
// leaves the rest to whatever else shares the server. A test that opens a
// pool of its own reserves its size first (New and NewWithURL reserve their
// own pool and pgtestdb's connection to the server).
//
// Slots are files locked with flock(2) in a folder of the temporary
// directory named for the server: a process that dies releases its slots.
func Reserve(tb testing.TB, n int) {
	tb.Helper()
	b := budgetFor(tb)
	if n > b.slots {
		n = b.slots // a pool larger than the budget waits for the whole budget
	}
	gate, err := os.OpenFile(filepath.Join(b.dir, "gate"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		tb.Fatalf("testdb connection budget: %v", err)
	}
	defer gate.Close()
	start := time.Now()
	exclusive := false
	release := func(held []*os.File) {
		tb.Cleanup(func() {
			for _, f := range held {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}
		})
	}
	for {
		// The gate keeps a large request from starving behind small ones: a
		// request that has waited takes it exclusively (one at a time) and
		// keeps it until it has its slots; meanwhile no other request takes
		// one, so the slots finishing tests free gather for it.
		if !exclusive && time.Since(start) > starving {
			exclusive = syscall.Flock(int(gate.Fd()), syscall.LOCK_EX) == nil
		}
		switch {
		case exclusive:
			if held, ok := b.tryLock(n); ok {
				_ = syscall.Flock(int(gate.Fd()), syscall.LOCK_UN)
				release(held)
				return
			}
		case syscall.Flock(int(gate.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil:
			held, ok := b.tryLock(n)
			_ = syscall.Flock(int(gate.Fd()), syscall.LOCK_UN)
			if ok {
				release(held)
				return
			}
		}
		if time.Since(start) > 10*time.Minute {
			tb.Fatalf("testdb: %d of %d connection slots not free for 10 minutes (%s)", n, b.slots, b.dir)
		}
		time.Sleep(time.Duration(10+rand.IntN(30)) * time.Millisecond)
	}
}

// starving is how long a request waits for slots before it takes the gate.
const starving = 500 * time.Millisecond

type budget struct {
	dir   string
	slots int
}

var (
	budgetOnce sync.Once
	theBudget  budget
	budgetErr  error
)

// budgetFor reads the server's max_connections once per process.
func budgetFor(tb testing.TB) budget {
	tb.Helper()
	budgetOnce.Do(func() {
		raw, err := localpg.URL(context.Background(), localpg.Options{})
		if err != nil {
			budgetErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, raw)
		if err != nil {
			budgetErr = fmt.Errorf("connect to read max_connections: %w", err)
			return
		}
		defer conn.Close(ctx)
		var maxConns int
		if err := conn.QueryRow(ctx, "SELECT current_setting('max_connections')::int").Scan(&maxConns); err != nil {
			budgetErr = fmt.Errorf("read max_connections: %w", err)
			return
		}
		cfg := conn.Config()
		name := strings.NewReplacer("/", "_", ":", "_").Replace(fmt.Sprintf("%s-%d", cfg.Host, cfg.Port))
		theBudget = budget{dir: filepath.Join(os.TempDir(), "tally-test-connections", name), slots: max(maxConns/2, 8)}
		budgetErr = os.MkdirAll(theBudget.dir, 0o777)
	})
	if budgetErr != nil {
		tb.Fatalf("testdb connection budget: %v", budgetErr)
	}
	return theBudget
}

// tryLock locks n free slots at once, or none.
func (b budget) tryLock(n int) ([]*os.File, bool) {
	var held []*os.File
	start := rand.IntN(b.slots)
	for i := 0; i < b.slots && len(held) < n; i++ {
		path := filepath.Join(b.dir, fmt.Sprintf("slot-%03d", (start+i)%b.slots))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			continue
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		held = append(held, f)
	}
	if len(held) == n {
		return held, true
	}
	for _, f := range held {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	return nil, false
}
