package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrBadAllowEntry: an allow-list entry is neither a network, an address,
// an address with a port, nor a host name (with or without a port).
var ErrBadAllowEntry = errors.New("bad egress allow entry")

// AllowList is what an operator lets tally reach although the policy would
// refuse it (--egress-allow), or which base URL hosts merchants may set
// (--provider-host-allow). Its entries are:
//
//	127.0.0.0/8, fd00::/8        a network (CIDR)
//	10.1.2.3, ::1                one address, any port
//	127.0.0.1:9000, [::1]:9000   one address and port
//	sandbox.internal             a host name, any port
//	sandbox.internal:9000        a host name and port
//	*.corp.example               every name under corp.example (not the name itself)
//
// The zero AllowList allows nothing. Build one with ParseAllowList.
type AllowList struct {
	nets  []netip.Prefix
	addrs []netip.AddrPort
	hosts []hostEntry
}

// hostEntry is a host name entry; port 0 is any port.
type hostEntry struct {
	name     string // lower case, no trailing dot; for a wildcard, the suffix without "*."
	wildcard bool
	port     uint16
}

func (h hostEntry) String() string {
	s := h.name
	if h.wildcard {
		s = "*." + s
	}
	if h.port != 0 {
		s = net.JoinHostPort(s, strconv.Itoa(int(h.port)))
	}
	return s
}

// ParseAllowList reads allow entries; each argument may hold several,
// separated by commas (the value of one --egress-allow flag), and blanks
// around them are ignored. An entry that does not read is an error wrapping
// ErrBadAllowEntry naming it.
func ParseAllowList(values ...string) (AllowList, error) {
	var l AllowList
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			if err := l.add(e); err != nil {
				return AllowList{}, fmt.Errorf("%q: %w", e, err)
			}
		}
	}
	return l, nil
}

// MustAllowList is ParseAllowList for fixed entries; it panics on a bad one.
func MustAllowList(values ...string) AllowList {
	l, err := ParseAllowList(values...)
	if err != nil {
		panic(err)
	}
	return l
}

func (l *AllowList) add(e string) error {
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return fmt.Errorf("%w: not a network such as 10.0.0.0/8", ErrBadAllowEntry)
		}
		if p.Addr().Zone() != "" {
			return fmt.Errorf("%w: a network has no zone", ErrBadAllowEntry)
		}
		l.nets = append(l.nets, unmapPrefix(p).Masked())
		return nil
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(e, "["), "]")); err == nil {
		if a.Zone() != "" {
			return fmt.Errorf("%w: an address with a zone", ErrBadAllowEntry)
		}
		a = a.Unmap()
		l.nets = append(l.nets, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	host, port := e, uint16(0)
	if h, p, err := net.SplitHostPort(e); err == nil {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%w: port %q is not 1 to 65535", ErrBadAllowEntry, p)
		}
		host, port = h, uint16(n)
		if a, err := netip.ParseAddr(host); err == nil {
			if a.Zone() != "" {
				return fmt.Errorf("%w: an address with a zone", ErrBadAllowEntry)
			}
			l.addrs = append(l.addrs, netip.AddrPortFrom(a.Unmap(), port))
			return nil
		}
	} else if strings.Contains(e, ":") {
		return fmt.Errorf("%w: not an address, a network or host:port", ErrBadAllowEntry)
	}
	he := hostEntry{port: port}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		he.wildcard, host = true, rest
	}
	name, ok := hostName(host)
	if !ok {
		return fmt.Errorf("%w: %q is not a host name", ErrBadAllowEntry, host)
	}
	he.name = name
	l.hosts = append(l.hosts, he)
	return nil
}

// hostName normalises a DNS name (lower case, no trailing dot) and reports
// whether it is one: labels of letters, digits, '-' and '_', 1 to 63 each,
// at most 253 in all, not all digits (that would be an address in disguise).
func hostName(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if s == "" || len(s) > 253 {
		return "", false
	}
	digits := true
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z', c == '-', c == '_':
				digits = false
			case c >= '0' && c <= '9':
			default:
				return "", false
			}
		}
	}
	if digits {
		return "", false
	}
	return s, true
}

// unmapPrefix turns an IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) into
// its IPv4 network, as addresses are unmapped before they are checked.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Empty reports whether the list allows nothing.
func (l AllowList) Empty() bool {
	return len(l.nets) == 0 && len(l.addrs) == 0 && len(l.hosts) == 0
}

// String is the list as entries ParseAllowList reads back, comma-separated.
func (l AllowList) String() string {
	var parts []string
	for _, p := range l.nets {
		if p.IsSingleIP() {
			parts = append(parts, p.Addr().String())
		} else {
			parts = append(parts, p.String())
		}
	}
	for _, a := range l.addrs {
		parts = append(parts, a.String())
	}
	for _, h := range l.hosts {
		parts = append(parts, h.String())
	}
	return strings.Join(parts, ",")
}

// AllowsAddr reports whether an entry lets tally connect to ap, an address
// of class c: a network containing it (for a Metadata address, only an entry
// naming that very address), or the address with its port.
func (l AllowList) AllowsAddr(ap netip.AddrPort, c Class) bool {
	a := ap.Addr().Unmap().WithZone("")
	for _, p := range l.nets {
		if !p.Contains(a) {
			continue
		}
		if c != Metadata || p.IsSingleIP() {
			return true
		}
	}
	for _, e := range l.addrs {
		if e.Addr() == a && e.Port() == ap.Port() {
			return true
		}
	}
	return false
}

// AllowsHost reports whether a host name entry matches host (a name, not an
// address) on port (a number; "" matches only entries without a port).
func (l AllowList) AllowsHost(host, port string) bool {
	name, ok := hostName(host)
	if !ok {
		return false
	}
	n, _ := strconv.ParseUint(port, 10, 16)
	for _, h := range l.hosts {
		if h.port != 0 && uint64(h.port) != n {
			continue
		}
		if h.wildcard {
			if strings.HasSuffix(name, "."+h.name) {
				return true
			}
			continue
		}
		if name == h.name {
			return true
		}
	}
	return false
}

// Allows reports whether host:port, as written in a URL, is allowed by an
// entry: for an address, AllowsAddr; for a name, AllowsHost. port is the
// URL's port or the scheme's default.
func (l AllowList) Allows(host, port string) bool {
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return false
		}
		ap := netip.AddrPortFrom(a.Unmap().WithZone(""), uint16(n))
		return l.AllowsAddr(ap, Classify(a))
	}
	return l.AllowsHost(host, port)
}

// Join is l with the entries of o after its own.
func (l AllowList) Join(o AllowList) AllowList {
	return AllowList{
		nets:  append(append([]netip.Prefix(nil), l.nets...), o.nets...),
		addrs: append(append([]netip.AddrPort(nil), l.addrs...), o.addrs...),
		hosts: append(append([]hostEntry(nil), l.hosts...), o.hosts...),
	}
}
