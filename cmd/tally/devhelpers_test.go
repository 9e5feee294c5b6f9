package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestServerCommandsNeedDatabaseURL: serve, worker and migrate never find or
// start a database on their own: without DATABASE_URL or --database-url they
// fail at once, naming DATABASE_URL (a misconfigured deploy must not serve an
// empty throwaway database).
func TestServerCommandsNeedDatabaseURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0"},
		{"worker", "--public-url", "https://tally.example"},
		{"migrate", "up"},
		{"migrate", "down"},
	} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"--log-level", "error"}, args...))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		err := root.ExecuteContext(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Errorf("tally %s without a database: %v, want an error naming DATABASE_URL", strings.Join(args, " "), err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("tally %s took %s to refuse, want at once", strings.Join(args, " "), took)
		}
	}
}
