package e2e_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/tallyhq/tally/tallytest"
)

// TestMain runs the tests, or, re-executed by a crash test with
// tallytest.WorkerProcessDB set, a tally worker process for it to kill.
func TestMain(m *testing.M) {
	if os.Getenv(tallytest.WorkerProcessDB) != "" {
		if err := tallytest.RunWorkerProcess(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
