package server

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the limit on failed API key attempts (Options.AuthFailureBurst,
// Options.AuthFailureRate).
const (
	DefaultAuthFailureBurst = 10
	DefaultAuthFailureRate  = 1.0 // per second
	// maxAuthSources bounds the sources tracked at once (about 100 bytes
	// each). Sources whose limiter is full again are forgotten first; past
	// the bound, a new source is not limited (and a warning is logged): a
	// flood from that many addresses is a matter for the network in front.
	maxAuthSources = 100_000
)

// ErrTrustedProxy: a trusted proxy that ParseTrustedProxies cannot read.
var ErrTrustedProxy = errors.New("server: invalid trusted proxy")

// authLimiter limits failed API key attempts per source: after burst failures
// a source is answered 429 before any key lookup, until its limiter refills
// at rate per second. Only failures spend; a source's successes and other
// sources' failures never do.
type authLimiter struct {
	limit rate.Limit
	burst int
	log   *slog.Logger
	now   func() time.Time

	mu        sync.Mutex
	sources   map[string]*rate.Limiter
	lastSweep time.Time
	warned    time.Time
}

func newAuthLimiter(burst int, perSecond float64, log *slog.Logger) *authLimiter {
	if burst < 0 || perSecond < 0 {
		return nil // disabled
	}
	if burst == 0 {
		burst = DefaultAuthFailureBurst
	}
	if perSecond == 0 {
		perSecond = DefaultAuthFailureRate
	}
	return &authLimiter{limit: rate.Limit(perSecond), burst: burst, log: log, now: time.Now, sources: map[string]*rate.Limiter{}}
}

// blocked reports whether source may not present a key now and, if so, how
// long until it may.
func (l *authLimiter) blocked(source string) (time.Duration, bool) {
	if l == nil {
		return 0, false
	}
	l.mu.Lock()
	lim := l.sources[source]
	l.mu.Unlock()
	if lim == nil {
		return 0, false
	}
	tokens := lim.TokensAt(l.now())
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second)), true
}

// failed spends one of source's attempts and reports whether it has none
// left now (it just became blocked).
func (l *authLimiter) failed(source string) bool {
	if l == nil {
		return false
	}
	now := l.now()
	l.mu.Lock()
	lim := l.sources[source]
	if lim == nil {
		if len(l.sources) >= maxAuthSources || now.Sub(l.lastSweep) > time.Minute {
			l.sweepLocked(now)
		}
		if len(l.sources) >= maxAuthSources {
			warn := now.Sub(l.warned) > time.Minute
			if warn {
				l.warned = now
			}
			l.mu.Unlock()
			if warn {
				l.log.Warn("API key failures: too many sources to track; new sources are not limited", "sources", maxAuthSources)
			}
			return false
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.sources[source] = lim
	}
	l.mu.Unlock()
	// Concurrent failures that all passed blocked may overdraw the limiter:
	// the debt lengthens the source's wait.
	lim.ReserveN(now, 1)
	return lim.TokensAt(now) < 1
}

// sweepLocked forgets the sources whose limiter is full again: they are
// exactly as a source never seen.
func (l *authLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for src, lim := range l.sources {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.sources, src)
		}
	}
}

// retryAfter is a wait in whole seconds for Retry-After, at least 1.
func retryAfter(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// ClientAddr is the address a request comes from: its connection's peer,
// unless that peer is one of trusted (a TLS-terminating proxy or load
// balancer), in which case X-Forwarded-For is read from the right, skipping
// trusted addresses, and the first address that is not trusted is the
// client's. An X-Forwarded-For from an untrusted peer is ignored: anyone can
// send one.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	addr := peer.Addr().Unmap()
	if err != nil {
		addr, _ = netip.ParseAddr(r.RemoteAddr) // a test's RemoteAddr may lack a port
		addr = addr.Unmap()
	}
	if !isTrusted(addr, trusted) {
		return addr
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			ap, perr := netip.ParseAddrPort(hop)
			if perr != nil {
				return addr // not an address: the last trusted hop is all we know
			}
			a = ap.Addr()
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
		addr = a
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// sourceKey is what failures are counted by: an IPv4 address, or the /64 an
// IPv6 address is in (one machine commonly has a whole /64).
func sourceKey(a netip.Addr) string {
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return a.String()
}

// ParseTrustedProxies reads addresses and CIDR prefixes ("10.0.0.7",
// "10.0.0.0/8", "fd00::/8") for Options.TrustedProxies.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix (10.0.0.7, 10.0.0.0/8): %w", s, ErrTrustedProxy)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
