// Package egress is the one policy every outbound HTTP request of tally
// passes: provider calls (submit, sync, reconciliation) and merchant webhooks.
// The URLs those requests go to are configuration that merchants influence (a
// provider account's base URL, a webhook URL), so without a policy a merchant
// could make tally call 127.0.0.1, a private network or a cloud metadata
// service on its behalf (server-side request forgery).
//
// The policy is applied when tally connects, to the address it actually
// connects to: the dialer's Control hook sees every IP after DNS resolution,
// so a name that resolves (or re-resolves, DNS rebinding) to a refused
// address is refused too. Loopback, private (RFC 1918, RFC 4193), link-local,
// carrier-grade NAT, multicast, unspecified, reserved and cloud metadata
// addresses are refused unless the operator allows them (AllowList, the
// --egress-allow flag); public addresses are allowed. Clients built here
// follow no redirects, use no proxy from the environment and always verify
// TLS certificates.
//
//	p := egress.New(egress.MustAllowList("127.0.0.1:9000"))
//	client := p.Client(30 * time.Second)
//	_, err := client.Get("http://10.0.0.5/")
//	errors.Is(err, egress.ErrRefused) // true
package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is wrapped by every refusal of the policy (a *RefusedError).
var ErrRefused = errors.New("egress refused")

// RefusedError is a connection the policy refused: which host asked for which
// address, and what kind of address it is.
type RefusedError struct {
	Host  string         // the host name or address of the URL
	Addr  netip.AddrPort // the address tally would have connected to
	Class Class
}

func (e *RefusedError) Error() string {
	host := ""
	if e.Host != "" && e.Host != e.Addr.Addr().String() {
		host = " (" + e.Host + ")"
	}
	return fmt.Sprintf("%v: %s%s is a %s address, which the egress policy does not allow (the operator allows addresses with --egress-allow)",
		ErrRefused, e.Addr, host, e.Class)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Policy decides which addresses tally may connect to. A nil *Policy is the
// default policy: public addresses only.
type Policy struct {
	allow  AllowList
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Option configures a Policy.
type Option func(*Policy)

// WithLookup resolves host names with fn instead of the system resolver; for
// tests (a name that resolves to a loopback address, DNS rebinding).
func WithLookup(fn func(ctx context.Context, host string) ([]netip.Addr, error)) Option {
	return func(p *Policy) { p.lookup = fn }
}

// New returns the policy that allows public addresses and what allow lists.
func New(allow AllowList, opts ...Option) *Policy {
	p := &Policy{allow: allow}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Default is the policy without any operator allowance: public addresses only.
func Default() *Policy { return &Policy{} }

// Allowed is the operator's allow list of the policy.
func (p *Policy) Allowed() AllowList {
	if p == nil {
		return AllowList{}
	}
	return p.allow
}

// Check returns nil when tally may connect to ap on behalf of host (the host
// of the URL, a name or an address), or a *RefusedError: ap is not a public
// address and no allow entry names it (nor host, for a name).
func (p *Policy) Check(host string, ap netip.AddrPort) error {
	a := ap.Addr().Unmap().WithZone("")
	ap = netip.AddrPortFrom(a, ap.Port())
	c := Classify(a)
	if c == Public {
		return nil
	}
	allow := p.Allowed()
	if allow.AllowsAddr(ap, c) {
		return nil
	}
	if _, err := netip.ParseAddr(host); err != nil && host != "" && allow.AllowsHost(host, strconv.Itoa(int(ap.Port()))) {
		return nil
	}
	return &RefusedError{Host: host, Addr: ap, Class: c}
}

// CheckURL checks a URL when it is configured (a base URL, a webhook URL),
// before any connection: an http or https URL with a host, whose host, when
// it is an address or a name every resolver sends to loopback ("localhost",
// "*.localhost"), the policy allows. Other names are checked when tally
// connects. The error wraps ErrRefused for a refused address, ErrBadURL
// otherwise.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("%w: %q is not an absolute http(s) URL", ErrBadURL, raw)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("%w: %q has a bad port", ErrBadURL, raw)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return p.Check(host, netip.AddrPortFrom(a, uint16(n)))
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		if p.Allowed().AllowsHost(name, port) {
			return nil
		}
		return p.Check(host, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n)))
	}
	return nil
}

// ErrBadURL: a configured URL is not an absolute http(s) URL.
var ErrBadURL = errors.New("bad URL")

// dialTimeout bounds one connection attempt of a policy's dialer.
const dialTimeout = 30 * time.Second

// DialContext connects as net.Dialer.DialContext does, refusing (a
// *RefusedError inside the *net.OpError) every address the policy does not
// allow, checked on the resolved address of each attempt.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("egress dial %q: %w", addr, err)
	}
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: unreadable address %q", ErrRefused, address)
			}
			return p.Check(host, ap)
		}}
	if p == nil || p.lookup == nil {
		return d.DialContext(ctx, network, addr)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return d.DialContext(ctx, network, addr)
	}
	ips, err := p.lookup(ctx, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: err.Error(), Name: host, IsNotFound: true}}
	}
	var first error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}}
	}
	return nil, first
}

// Transport is an http.Transport that connects only where the policy allows,
// never through a proxy from the environment (the policy checks the address
// tally itself connects to), and verifies TLS certificates.
func (p *Policy) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// Client is an http.Client under the policy, with the given overall timeout,
// that follows no redirect: a 3xx answer is returned as it is (NoRedirect).
func (p *Policy) Client(timeout time.Duration) *http.Client {
	return &http.Client{Transport: p.Transport(), Timeout: timeout, CheckRedirect: NoRedirect}
}

// NoRedirect is an http.Client CheckRedirect that follows no redirect: a
// redirect could lead a request (and its signed body) anywhere, past the
// checks made on the configured URL.
func NoRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
