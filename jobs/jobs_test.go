package jobs

import (
	"testing"
	"time"
)

// The webhook retry schedule is what the README and the comments promise:
// 15 attempts, 2 s doubling to an hour apart, about four hours in all.
func TestWebhookRetriesLastAboutFourHours(t *testing.T) {
	if got := (NotifyMerchantArgs{}).InsertOpts().MaxAttempts; got != 15 {
		t.Fatalf("webhook attempts = %d, want 15", got)
	}
	var total time.Duration
	for attempt := 1; attempt < webhookAttempts; attempt++ { // no wait after the last attempt
		d := backoff(attempt, webhookRetryFirst, webhookRetryMax)
		if attempt == 1 && d != 2*time.Second {
			t.Fatalf("first retry after %s, want 2s", d)
		}
		if d > time.Hour {
			t.Fatalf("retry %d after %s, more than an hour", attempt, d)
		}
		total += d
	}
	// 2 s + 4 s + ... + 2048 s, then three hours at the one-hour cap.
	if want := 4094*time.Second + 3*time.Hour; total != want {
		t.Fatalf("webhook retries span %s, want %s", total, want)
	}
	if total < 4*time.Hour || total > 4*time.Hour+15*time.Minute {
		t.Fatalf("webhook retries span %s, not about four hours", total)
	}
}
