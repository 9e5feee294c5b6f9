package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// After the burst a source is blocked, then allowed one attempt per refill;
// other sources are untouched, and a source whose limiter is full again is
// forgotten.
func TestAuthLimiterBurstThenRate(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newAuthLimiter(10, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l.now = func() time.Time { return now }
	const a, b = "203.0.113.7", "198.51.100.9"
	for i := range 10 {
		if _, blocked := l.blocked(a); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		if became := l.failed(a); became != (i == 9) {
			t.Fatalf("failure %d: became blocked = %v", i+1, became)
		}
	}
	wait, blocked := l.blocked(a)
	if !blocked || wait != time.Second || retryAfter(wait) != 1 {
		t.Fatalf("after the burst: blocked %v for %v", blocked, wait)
	}
	if _, blocked := l.blocked(b); blocked {
		t.Fatal("another source is blocked by a's failures")
	}
	now = now.Add(500 * time.Millisecond)
	if wait, blocked := l.blocked(a); !blocked || wait != 500*time.Millisecond || retryAfter(wait) != 1 {
		t.Fatalf("half a second later: blocked %v for %v", blocked, wait)
	}
	now = now.Add(500 * time.Millisecond)
	if _, blocked := l.blocked(a); blocked {
		t.Fatal("still blocked after a second")
	}
	l.failed(a)
	if _, blocked := l.blocked(a); !blocked {
		t.Fatal("one attempt per second: not blocked after the refill was spent")
	}
	// Concurrent failures that passed the check overdraw: the wait grows.
	l.failed(a)
	l.failed(a)
	if wait, _ := l.blocked(a); wait != 3*time.Second || retryAfter(wait) != 3 {
		t.Fatalf("overdrawn by 2: wait %v", wait)
	}
	// Full again after the burst's refill: forgotten at the next sweep (a
	// new source's first failure, at most once a minute).
	now = now.Add(2 * time.Minute)
	l.failed("192.0.2.1")
	if _, ok := l.sources[a]; ok {
		t.Fatal("a full limiter was not swept")
	}
	if newAuthLimiter(-1, 1, nil) != nil {
		t.Fatal("a negative burst does not disable the limit")
	}
	var off *authLimiter
	if _, blocked := off.blocked(a); blocked || off.failed(a) {
		t.Fatal("a disabled limiter blocks")
	}
}

// X-Forwarded-For is believed only from a trusted proxy, read from the right;
// IPv6 sources are counted by /64.
func TestClientAddr(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "127.0.0.1", " fd00::/8 "})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.7:5555", nil, "203.0.113.7"},
		{"203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"}, // not from a proxy: ignored
		{"127.0.0.1:5555", nil, "127.0.0.1"},
		{"127.0.0.1:5555", []string{"198.51.100.1"}, "198.51.100.1"},
		{"127.0.0.1:5555", []string{"1.1.1.1, 198.51.100.1, 10.1.2.3"}, "198.51.100.1"}, // the client cannot forge past the proxy
		{"127.0.0.1:5555", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},
		{"127.0.0.1:5555", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"127.0.0.1:5555", []string{"garbage, 10.1.2.3"}, "10.1.2.3"},
		{"[fd00::1]:5555", []string{"2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2:3:4:5:6"},
		{"[::ffff:127.0.0.1]:5555", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
	} {
		r := httptest.NewRequest("GET", "/v1/orders", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientAddr(r, trusted); got.String() != c.want {
			t.Errorf("%s %q: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
	if got := sourceKey(netip.MustParseAddr("2001:db8:1:2:3:4:5:6")); got != "2001:db8:1:2::/64" {
		t.Errorf("IPv6 source %s", got)
	}
	if got := sourceKey(netip.MustParseAddr("198.51.100.1")); got != "198.51.100.1" {
		t.Errorf("IPv4 source %s", got)
	}
	if _, err := ParseTrustedProxies([]string{"proxy.example"}); !errors.Is(err, ErrTrustedProxy) {
		t.Errorf("a host name as a proxy: %v", err)
	}
}
