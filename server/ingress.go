package server

import (
	"errors"
	"math"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// IngressOptions bound what the callback ingress takes in. Both kinds of
// limit are token buckets (golang.org/x/time/rate); a delivery a limit
// refuses is answered 503 with Retry-After before anything is read from the
// database or stored, so that a provider's retry brings it again.
type IngressOptions struct {
	// Rate and Burst bound every delivery to one provider account (one
	// callback key), verified or not: a ceiling well above what providers
	// send (a few deliveries per order, retries minutes apart) and above what
	// one tally node acknowledges (about 5,500/s on 2 cores without workers,
	// 1,100/s with them: tally bench callbacks), so that it only stops a
	// replay flood. Defaults 20,000/s and 40,000; a negative Rate turns the
	// limit off.
	Rate  float64
	Burst int
	// RejectRate and RejectBurst bound failed deliveries, per source address
	// (an IPv4 address or an IPv6 /64) and per provider account: an unknown
	// callback key, a method the provider does not use, a body too large, a
	// bad signature. Verified callbacks never spend them. Defaults 10/s and
	// 100; a negative RejectRate turns the limit off.
	RejectRate  float64
	RejectBurst int
	// MaxSources bounds the per-source limiters kept in memory (idle ones are
	// dropped first). Default 10,000.
	MaxSources int
}

// Ingress defaults (tally serve's flags).
const (
	DefaultCallbackRate        = 20000
	DefaultCallbackBurst       = 40000
	DefaultCallbackRejectRate  = 10
	DefaultCallbackRejectBurst = 100
	defaultMaxSources          = 10000
)

func (o IngressOptions) withDefaults() IngressOptions {
	if o.Rate == 0 {
		o.Rate = DefaultCallbackRate
	}
	if o.Burst <= 0 {
		o.Burst = DefaultCallbackBurst
	}
	if o.RejectRate == 0 {
		o.RejectRate = DefaultCallbackRejectRate
	}
	if o.RejectBurst <= 0 {
		o.RejectBurst = DefaultCallbackRejectBurst
	}
	if o.MaxSources <= 0 {
		o.MaxSources = defaultMaxSources
	}
	return o
}

// errRateLimited: a delivery a limit refused; the provider is to retry.
var errRateLimited = errors.New("callback rate limit")

// limitedError is errRateLimited with the time after which a retry passes.
type limitedError struct{ retryAfter time.Duration }

func (e *limitedError) Error() string {
	return errRateLimited.Error() + ": retry after " + e.retryAfter.String()
}

func (e *limitedError) Unwrap() error { return errRateLimited }

// ingress holds the callback ingress's limiters.
type ingress struct {
	deliveries *buckets // per provider account id: every delivery
	accountBad *buckets // per provider account id: failed deliveries
	sourceBad  *buckets // per source address: failed deliveries
}

func newIngress(o IngressOptions) *ingress {
	o = o.withDefaults()
	in := &ingress{}
	if o.Rate > 0 {
		in.deliveries = newBuckets(rate.Limit(o.Rate), o.Burst, o.MaxSources)
	}
	if o.RejectRate > 0 {
		in.accountBad = newBuckets(rate.Limit(o.RejectRate), o.RejectBurst, o.MaxSources)
		in.sourceBad = newBuckets(rate.Limit(o.RejectRate), o.RejectBurst, o.MaxSources)
	}
	return in
}

// delivery spends one delivery of the account's budget.
func (in *ingress) delivery(accountID int64) error {
	if in.deliveries == nil {
		return nil
	}
	return take(time.Now(), in.deliveries.get(strconv.FormatInt(accountID, 10)))
}

// failure spends one failed delivery of the source's and (when known, not
// zero) the account's budgets: both, or neither when either is spent.
func (in *ingress) failure(source string, accountID int64) error {
	if in.sourceBad == nil {
		return nil
	}
	lims := []*rate.Limiter{in.sourceBad.get(source)}
	if accountID != 0 {
		lims = append(lims, in.accountBad.get(strconv.FormatInt(accountID, 10)))
	}
	return take(time.Now(), lims...)
}

// sourceSpent reports whether a source has no failed delivery left now (a
// look, nothing spent): such a source gets no lookup of a key tally has not
// seen.
func (in *ingress) sourceSpent(source string) error {
	if in.sourceBad == nil {
		return nil
	}
	lim := in.sourceBad.get(source)
	now := time.Now()
	if lim.TokensAt(now) >= 1 {
		return nil
	}
	return &limitedError{retryAfter: time.Duration(float64(time.Second) / float64(lim.Limit()))}
}

// take spends one token of every limiter, or of none: when one of them has
// none now, the reservations are cancelled and the error says when to retry.
func take(now time.Time, lims ...*rate.Limiter) error {
	rs := make([]*rate.Reservation, 0, len(lims))
	var wait time.Duration
	for _, l := range lims {
		r := l.ReserveN(now, 1)
		if !r.OK() {
			wait = max(wait, time.Second)
		} else {
			wait = max(wait, r.DelayFrom(now))
		}
		rs = append(rs, r)
	}
	if wait == 0 {
		return nil
	}
	for _, r := range rs {
		r.CancelAt(now)
	}
	return &limitedError{retryAfter: wait}
}

// retryAfterSeconds is a Retry-After value: whole seconds, at least one.
func retryAfterSeconds(err error) string {
	var le *limitedError
	d := time.Second
	if errors.As(err, &le) {
		d = le.retryAfter
	}
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// buckets are token buckets by key, at most max of them: when full, those
// idle long enough to have refilled are dropped (a fresh bucket is the same),
// then any.
type buckets struct {
	limit rate.Limit
	burst int
	max   int
	mu    sync.Mutex
	m     map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

func newBuckets(limit rate.Limit, burst, max int) *buckets {
	return &buckets{limit: limit, burst: burst, max: max, m: map[string]*bucket{}}
}

func (b *buckets) get(key string) *rate.Limiter {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.m[key]; ok {
		e.used = now
		return e.lim
	}
	if len(b.m) >= b.max {
		full := time.Duration(float64(b.burst) / float64(b.limit) * float64(time.Second))
		for k, e := range b.m {
			if now.Sub(e.used) > full {
				delete(b.m, k)
			}
		}
		for k := range b.m {
			if len(b.m) < b.max {
				break
			}
			delete(b.m, k)
		}
	}
	e := &bucket{lim: rate.NewLimiter(b.limit, b.burst), used: now}
	b.m[key] = e
	return e.lim
}

// sourceOf is the rate-limit key of a client address (ClientAddr): the IPv4
// address, or the /64 of an IPv6 one (one host's share of addresses).
func sourceOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
