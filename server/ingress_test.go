package server

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestSourceOf(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7:5123":            "203.0.113.7",
		"[2001:db8:1:2:3:4:5:6]:443":  "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:1":    "2001:db8:1:2::/64",
		"[::ffff:198.51.100.1]:80":    "198.51.100.1",
		"not an address":              "not an address",
		"@":                           "@",
		"[2001:db8:9:9::1%eth0]:8080": "2001:db8:9:9::/64",
	} {
		if got := sourceOf(in); got != want {
			t.Errorf("sourceOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// take spends a token of every limiter or of none, and says when to retry.
func TestTakeAllOrNothing(t *testing.T) {
	now := time.Now()
	a, b := rate.NewLimiter(1, 2), rate.NewLimiter(1, 1)
	if err := take(now, a, b); err != nil {
		t.Fatal(err)
	}
	err := take(now, a, b) // b is spent: a keeps its token
	if !errors.Is(err, errRateLimited) || retryAfterSeconds(err) != "1" {
		t.Fatalf("second take: %v (retry after %s)", err, retryAfterSeconds(err))
	}
	if got := a.TokensAt(now); got < 0.99 {
		t.Fatalf("a refused take spent a's token: %v left", got)
	}
	if err := take(now.Add(time.Second), a, b); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	slow := rate.NewLimiter(0.1, 1)
	_ = take(now, slow)
	if got := retryAfterSeconds(take(now, slow)); got != "10" {
		t.Fatalf("Retry-After at 0.1/s: %s, want 10", got)
	}
}

// The failure budgets are per source and per account; a verified delivery's
// budget (delivery) is another; limits off take nothing.
func TestIngressBudgets(t *testing.T) {
	in := newIngress(IngressOptions{Rate: 1, Burst: 3, RejectRate: 1, RejectBurst: 2})
	for i := 0; i < 2; i++ {
		if err := in.failure("198.51.100.1", 7); err != nil {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if err := in.failure("198.51.100.1", 8); err == nil {
		t.Fatal("a third failure from one source passed")
	}
	if err := in.sourceSpent("198.51.100.1"); err == nil {
		t.Fatal("a spent source is not spent")
	}
	if err := in.failure("198.51.100.2", 7); err == nil {
		t.Fatal("a third failure to one account passed")
	}
	if err := in.failure("198.51.100.2", 8); err != nil || in.sourceSpent("198.51.100.3") != nil {
		t.Fatalf("another source and account: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := in.delivery(7); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if err := in.delivery(7); err == nil {
		t.Fatal("a delivery beyond the burst passed")
	}
	off := newIngress(IngressOptions{Rate: -1, RejectRate: -1})
	for i := 0; i < 1000; i++ {
		if off.delivery(1) != nil || off.failure("x", 1) != nil || off.sourceSpent("x") != nil {
			t.Fatal("a limit that is off refused")
		}
	}
}

// buckets keep at most max limiters; a new key past that evicts others.
func TestBucketsBounded(t *testing.T) {
	b := newBuckets(1, 1, 100)
	for i := 0; i < 1000; i++ {
		b.get(strconv.Itoa(i))
		if len(b.m) > 100 {
			t.Fatalf("%d buckets kept, max 100", len(b.m))
		}
	}
}

// BenchmarkIngressVerifiedPath is what the ingress limits add to a verified
// callback: the source's key and the account's delivery budget (a budget
// large enough never to refuse, so that every iteration does the same work).
func BenchmarkIngressVerifiedPath(b *testing.B) {
	in := newIngress(IngressOptions{Rate: 1e12, Burst: 1 << 30})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = sourceOf("203.0.113.7:41234")
			if err := in.delivery(7); err != nil {
				b.Fatal(err)
			}
		}
	})
}
