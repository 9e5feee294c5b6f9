package console

import (
	"fmt"
	"testing"
	"time"
)

// TestLoginGuardBounded: the addresses tracked are bounded; idle ones (their
// attempts refilled) are forgotten, and while the map is full new addresses
// share one limiter, so a flood from many addresses is still limited.
func TestLoginGuardBounded(t *testing.T) {
	g := newLoginGuard()
	g.max = 3
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if _, ok := g.allow(fmt.Sprintf("192.0.2.%d", i), now); !ok {
			t.Fatalf("client %d refused", i)
		}
	}
	if n := g.clients(); n != 3 {
		t.Fatalf("%d clients tracked, want 3", n)
	}
	// Full: new addresses share the overflow limiter (burst 10).
	for i := range loginBurst {
		if _, ok := g.allow(fmt.Sprintf("198.51.100.%d", i), now); !ok {
			t.Fatalf("overflow attempt %d refused", i+1)
		}
	}
	wait, ok := g.allow("198.51.100.200", now)
	if ok || wait != loginEvery {
		t.Fatalf("overflow past its burst: ok %v wait %v", ok, wait)
	}
	if n := g.clients(); n != 3 {
		t.Fatalf("%d clients tracked, want 3", n)
	}
	// Once the tracked addresses are idle (limiter full again), they are
	// swept and new addresses get limiters of their own.
	later := now.Add(loginEvery * loginBurst)
	if _, ok := g.allow("203.0.113.1", later); !ok {
		t.Fatal("new client refused after the sweep")
	}
	if n := g.clients(); n != 1 {
		t.Fatalf("%d clients tracked after the sweep, want 1", n)
	}
}

// TestLoginGuardRefusalSpendsNothing: a refused attempt does not lengthen
// the wait.
func TestLoginGuardRefusalSpendsNothing(t *testing.T) {
	g := newLoginGuard()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for range loginBurst {
		g.allow("192.0.2.1", now)
	}
	for range 100 {
		if _, ok := g.allow("192.0.2.1", now); ok {
			t.Fatal("allowed past the burst")
		}
	}
	if _, ok := g.allow("192.0.2.1", now.Add(loginEvery)); !ok {
		t.Fatal("refused attempts lengthened the wait")
	}
}

func TestPurgeDueOncePerHour(t *testing.T) {
	g := newLoginGuard()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {time.Second, false}, {59 * time.Minute, false}, {time.Hour, true}, {time.Hour + time.Minute, false}, {2*time.Hour + time.Minute, true}} {
		if got := g.purgeDue(now.Add(c.at)); got != c.want {
			t.Errorf("at +%v: purge due %v, want %v", c.at, got, c.want)
		}
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":           "192.0.2.1",
		"::ffff:192.0.2.1":    "192.0.2.1",
		"2001:db8:1:2:3::4":   "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::": "2001:db8:1:2::/64",
		"not an address":      "not an address",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}
