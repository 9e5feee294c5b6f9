package webhooks

import (
	"testing"
	"time"
)

// TestRetryAfterDoublesWithJitter: each failed attempt waits twice the last,
// up to the cap, within ±20 %, and the waits of one attempt differ (jitter).
func TestRetryAfterDoublesWithJitter(t *testing.T) {
	t.Parallel()
	for attempt, base := range map[int]time.Duration{1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 12: time.Hour, 14: time.Hour} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := retryAfter(attempt, 2*time.Second, time.Hour)
			if lo, hi := time.Duration(float64(base)*0.8), time.Duration(float64(base)*1.2); d < lo || d > hi {
				t.Fatalf("attempt %d waits %s, want within [%s, %s]", attempt, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: %d distinct waits in 50, want jitter", attempt, len(seen))
		}
	}
}
