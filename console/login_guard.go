package console

import (
	"context"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits of POST /console/login per client address (Options.ClientAddr). Each
// attempt checks a password with argon2id (19 MiB, tens of milliseconds), and
// an unknown email is never locked by package staff: without this limit,
// sign-ins would be a cheap denial of service and a way to spray passwords
// over many accounts. The limit spends on every attempt, so a client's burst
// of typos is not refused, a script is.
const (
	// loginBurst attempts are allowed at once from a client address.
	loginBurst = 10
	// loginEvery is how often one more attempt is allowed after the burst.
	loginEvery = 3 * time.Second
	// maxLoginClients bounds the addresses tracked at once (a limiter is
	// about 100 bytes). Idle addresses (limiter full again, the same as
	// never seen) are forgotten; past the bound, new addresses share one
	// limiter, so a flood from that many addresses is still bounded.
	maxLoginClients = 50_000
	// purgeEvery is how often signing in also deletes the sessions that
	// ended (nothing else deletes them).
	purgeEvery = time.Hour
	// purgeTimeout bounds one purge.
	purgeTimeout = time.Minute
)

// loginGuard is the sign-in's limiter by client address, and the clock of
// the expired sessions' purge.
type loginGuard struct {
	limit  rate.Limit
	burst  int
	max    int
	mu     sync.Mutex
	byAddr map[string]*rate.Limiter
	// overflow is shared by the addresses that arrive while byAddr is full.
	overflow  *rate.Limiter
	lastSweep time.Time
	lastPurge time.Time
}

func newLoginGuard() *loginGuard {
	return &loginGuard{limit: rate.Every(loginEvery), burst: loginBurst, max: maxLoginClients,
		byAddr: map[string]*rate.Limiter{}, overflow: rate.NewLimiter(rate.Every(loginEvery), loginBurst)}
}

// allow spends one sign-in attempt of a client address at now. When the
// address has none left it spends nothing and returns how long until it has.
func (g *loginGuard) allow(client string, now time.Time) (time.Duration, bool) {
	key := clientKey(client)
	g.mu.Lock()
	defer g.mu.Unlock()
	lim := g.byAddr[key]
	if lim == nil {
		full := len(g.byAddr) >= g.max
		if now.Sub(g.lastSweep) >= time.Minute || (full && now.Sub(g.lastSweep) >= time.Second) {
			g.sweepLocked(now)
			full = len(g.byAddr) >= g.max
		}
		if full {
			lim = g.overflow
		} else {
			lim = rate.NewLimiter(g.limit, g.burst)
			g.byAddr[key] = lim
		}
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return loginEvery, false
	}
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now)
		return wait, false
	}
	return 0, true
}

// sweepLocked forgets the addresses whose limiter is full again: they are
// exactly as an address never seen.
func (g *loginGuard) sweepLocked(now time.Time) {
	g.lastSweep = now
	for k, lim := range g.byAddr {
		if lim.TokensAt(now) >= float64(g.burst) {
			delete(g.byAddr, k)
		}
	}
}

// clients is how many addresses are tracked (for tests).
func (g *loginGuard) clients() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.byAddr)
}

// purgeDue reports whether the expired sessions should be purged now (at
// most once per purgeEvery), and if so counts it done.
func (g *loginGuard) purgeDue(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.lastPurge.IsZero() && now.Sub(g.lastPurge) < purgeEvery {
		return false
	}
	g.lastPurge = now
	return true
}

// clientKey is what attempts are counted by: an IPv4 address, or the /64 an
// IPv6 address is in (one machine commonly has a whole /64). Anything else
// (a test's address, an unparsable one) counts as itself.
func clientKey(client string) string {
	a, err := netip.ParseAddr(client)
	if err != nil {
		return client
	}
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// retryAfterSeconds is a wait in whole seconds for Retry-After, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// purgeSessions deletes the sessions that ended, in the background, at most
// once per purgeEvery: a sign-in is when sessions are made, so it is also
// when the ones that ended are cleared away. Errors are logged.
func (c *Console) purgeSessions() {
	if !c.guard.purgeDue(c.opts.Now()) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
		defer cancel()
		n, err := c.deps.Staff.PurgeSessions(ctx)
		if err != nil {
			c.log.Error("console: purge expired sessions", "error", err)
			return
		}
		c.log.Info("console: expired sessions purged", "count", n)
	}()
}
