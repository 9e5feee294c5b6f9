package console_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tallyhq/tally/console"
	"github.com/tallyhq/tally/db/testdb"
	"github.com/tallyhq/tally/discrepancies"
	"github.com/tallyhq/tally/ledger"
	"github.com/tallyhq/tally/merchants"
	"github.com/tallyhq/tally/secrets"
	"github.com/tallyhq/tally/staff"
)

// clock is a test's clock, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newSiteClock is newSite with a clock moved by hand, and the client address
// taken from the X-Test-Client header (the connection's peer without one).
func newSiteClock(t *testing.T) (*site, *clock) {
	t.Helper()
	pool := testdb.New(t)
	st := staff.New(pool, staff.Options{})
	l := ledger.New(pool)
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ms := merchants.New(pool, box, merchants.Options{Ledger: l})
	clk := &clock{now: time.Now()}
	c := console.New(console.Deps{Staff: st, Pool: pool, Ledger: l, Discrepancies: discrepancies.New(), Merchants: ms},
		console.Options{Logger: slog.New(slog.DiscardHandler), Now: clk.Now, ClientAddr: func(r *http.Request) string {
			if a := r.Header.Get("X-Test-Client"); a != "" {
				return a
			}
			return "127.0.0.1"
		}})
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return &site{t: t, pool: pool, staff: st, merchants: ms, console: c, srv: srv}, clk
}

// TestLoginAttemptsLimitedPerClient: a client address gets 10 sign-in
// attempts at once, then one every 3 seconds; past them it is answered 429
// with Retry-After and the login page's message before any password is
// checked (even the right one), while other addresses sign in as usual. An
// IPv6 client is counted by its /64.
func TestLoginAttemptsLimitedPerClient(t *testing.T) {
	t.Parallel()
	s, clk := newSiteClock(t)
	s.user("ann@example.com", staff.Accountant)
	login := func(client, email, password string) answer {
		t.Helper()
		return s.do("POST", "/console/login", "", url.Values{"email": {email}, "password": {password}}, "X-Test-Client", client)
	}
	const spray = "203.0.113.7"
	for i := range 10 {
		// Unknown emails: package staff locks no account for them.
		if a := login(spray, fmt.Sprintf("nobody%d@example.com", i), "wrong password 12"); a.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i+1, a.status)
		}
	}
	limited := func(a answer, retry string) {
		t.Helper()
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != retry ||
			!strings.Contains(a.body, "Too many sign-in attempts from your address: try again in "+retry+" seconds.") ||
			!strings.Contains(a.body, `action="/console/login"`) {
			t.Fatalf("limited attempt: %d Retry-After %q\n%s", a.status, a.header.Get("Retry-After"), a.body)
		}
		for _, c := range (&http.Response{Header: a.header}).Cookies() {
			if c.Name == console.CookieName {
				t.Fatalf("a limited attempt got a session cookie")
			}
		}
	}
	limited(login(spray, "nobody@example.com", "wrong password 12"), "3")
	// The right password too: nothing is checked past the limit.
	limited(login(spray, "ann@example.com", "chosen password 22"), "3")

	// Another address is not affected.
	if a := login("198.51.100.1", "ann@example.com", "chosen password 22"); a.status != http.StatusSeeOther {
		t.Fatalf("other client: %d", a.status)
	}

	// One more attempt every 3 seconds.
	clk.advance(2 * time.Second)
	limited(login(spray, "ann@example.com", "chosen password 22"), "1")
	clk.advance(time.Second)
	if a := login(spray, "ann@example.com", "chosen password 22"); a.status != http.StatusSeeOther {
		t.Fatalf("after 3 s: %d", a.status)
	}
	limited(login(spray, "ann@example.com", "chosen password 22"), "3")

	// IPv6: the addresses of one /64 share their attempts.
	for i := range 10 {
		if a := login(fmt.Sprintf("2001:db8:1:2::%x", i+1), "nobody@example.com", "wrong password 12"); a.status != http.StatusUnauthorized {
			t.Fatalf("v6 attempt %d: %d", i+1, a.status)
		}
	}
	limited(login("2001:db8:1:2:ffff::1", "nobody@example.com", "wrong password 12"), "3")
	if a := login("2001:db8:1:3::1", "nobody@example.com", "wrong password 12"); a.status != http.StatusUnauthorized {
		t.Fatalf("other /64: %d", a.status)
	}
}

// TestLoginPurgesEndedSessions: a sign-in deletes the sessions that ended,
// in the background, at most once an hour.
func TestLoginPurgesEndedSessions(t *testing.T) {
	t.Parallel()
	s, clk := newSiteClock(t)
	ctx := context.Background()
	bob, _ := s.user("bob@example.com", staff.Viewer)
	s.user("cat@example.com", staff.Viewer)
	sessions := func(userID int64) int {
		t.Helper()
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM staff_sessions WHERE user_id = $1", userID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitSessions := func(userID int64, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for sessions(userID) != want {
			if time.Now().After(deadline) {
				t.Fatalf("user %d: %d sessions, want %d", userID, sessions(userID), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	expire := func(userID int64) {
		t.Helper()
		if _, err := s.pool.Exec(ctx, "UPDATE staff_sessions SET expires_at = now() - interval '1 minute' WHERE user_id = $1", userID); err != nil {
			t.Fatal(err)
		}
	}
	expire(bob.ID)
	if a := s.do("POST", "/console/login", "", url.Values{"email": {"cat@example.com"}, "password": {"chosen password 22"}}); a.status != http.StatusSeeOther {
		t.Fatalf("login: %d", a.status)
	}
	waitSessions(bob.ID, 0)

	// An hour later, the next sign-in (even a refused one) purges again.
	if _, _, err := s.staff.Login(ctx, "bob@example.com", "chosen password 22", "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	expire(bob.ID)
	clk.advance(time.Hour)
	if a := s.do("POST", "/console/login", "", url.Values{"email": {"cat@example.com"}, "password": {"wrong password 12"}}); a.status != http.StatusUnauthorized {
		t.Fatalf("login: %d", a.status)
	}
	waitSessions(bob.ID, 0)
}
