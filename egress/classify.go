package egress

import "net/netip"

// Class is what kind of address an IP is, as far as the egress policy cares.
// Every class but Public is refused unless the operator allows it.
type Class string

// Address classes.
const (
	// Public is a globally routable unicast address: always allowed.
	Public Class = "public"
	// Unspecified is 0.0.0.0/8 ("this network") or ::.
	Unspecified Class = "unspecified"
	// Loopback is 127.0.0.0/8 or ::1: tally's own machine.
	Loopback Class = "loopback"
	// Private is RFC 1918 (10/8, 172.16/12, 192.168/16), RFC 4193 unique
	// local fc00::/7, or the deprecated site-local fec0::/10.
	Private Class = "private"
	// SharedNAT is carrier-grade NAT space, 100.64.0.0/10 (RFC 6598).
	SharedNAT Class = "cgnat"
	// LinkLocal is 169.254.0.0/16 or fe80::/10.
	LinkLocal Class = "link-local"
	// Multicast is 224.0.0.0/4 or ff00::/8.
	Multicast Class = "multicast"
	// Metadata is a cloud instance metadata or host service address
	// (169.254.169.254, fd00:ec2::254, 100.100.100.200, 168.63.129.16, ...):
	// credentials live there, so only an allow entry naming the exact
	// address lets tally reach it.
	Metadata Class = "metadata"
	// Reserved is everything else that is not a public unicast address:
	// broadcast and 240/4, documentation and benchmarking ranges, IETF
	// protocol assignments, deprecated IPv4-compatible IPv6, Teredo, and
	// IPv6 outside 2000::/3.
	Reserved Class = "reserved"
)

// metadataAddrs are the instance metadata and host service addresses of the
// big clouds. Several sit inside ranges refused anyway (link-local, unique
// local); they are named so that a wide allow entry (169.254.0.0/16) does not
// open them.
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true, // AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack IMDS
	netip.MustParseAddr("169.254.169.253"): true, // AWS VPC DNS
	netip.MustParseAddr("169.254.170.2"):   true, // AWS ECS task metadata and credentials
	netip.MustParseAddr("169.254.170.23"):  true, // AWS EKS pod identity agent
	netip.MustParseAddr("100.100.100.200"): true, // Alibaba Cloud metadata
	netip.MustParseAddr("168.63.129.16"):   true, // Azure WireServer (a public address)
	netip.MustParseAddr("fd00:ec2::254"):   true, // AWS IMDS over IPv6
	netip.MustParseAddr("fd00:ec2::23"):    true, // AWS EKS pod identity agent over IPv6
	netip.MustParseAddr("fd20:ce::254"):    true, // GCP metadata over IPv6
}

type rangeClass struct {
	p netip.Prefix
	c Class
}

// v4Ranges and v6Ranges are tried in order; the first match wins.
var v4Ranges = []rangeClass{
	{netip.MustParsePrefix("0.0.0.0/8"), Unspecified},
	{netip.MustParsePrefix("127.0.0.0/8"), Loopback},
	{netip.MustParsePrefix("10.0.0.0/8"), Private},
	{netip.MustParsePrefix("172.16.0.0/12"), Private},
	{netip.MustParsePrefix("192.168.0.0/16"), Private},
	{netip.MustParsePrefix("100.64.0.0/10"), SharedNAT},
	{netip.MustParsePrefix("169.254.0.0/16"), LinkLocal},
	{netip.MustParsePrefix("224.0.0.0/4"), Multicast},
	{netip.MustParsePrefix("240.0.0.0/4"), Reserved}, // includes 255.255.255.255
	{netip.MustParsePrefix("192.0.0.0/24"), Reserved},
	{netip.MustParsePrefix("192.0.2.0/24"), Reserved},
	{netip.MustParsePrefix("192.88.99.0/24"), Reserved},
	{netip.MustParsePrefix("198.18.0.0/15"), Reserved},
	{netip.MustParsePrefix("198.51.100.0/24"), Reserved},
	{netip.MustParsePrefix("203.0.113.0/24"), Reserved},
}

var v6Ranges = []rangeClass{
	{netip.MustParsePrefix("::/128"), Unspecified},
	{netip.MustParsePrefix("::1/128"), Loopback},
	{netip.MustParsePrefix("fc00::/7"), Private},
	{netip.MustParsePrefix("fec0::/10"), Private},
	{netip.MustParsePrefix("fe80::/10"), LinkLocal},
	{netip.MustParsePrefix("ff00::/8"), Multicast},
	{netip.MustParsePrefix("2001::/32"), Reserved}, // Teredo: the IPv4 inside is obfuscated
	{netip.MustParsePrefix("2001:db8::/32"), Reserved},
}

// Embedded IPv4 addresses: a NAT64 or 6to4 address reaches the IPv4 address
// inside it, so it is classified as that address.
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	global6    = netip.MustParsePrefix("2000::/3")
)

// Classify says what kind of address ip is. An IPv4-mapped IPv6 address
// (::ffff:127.0.0.1) is its IPv4 address; a NAT64 (64:ff9b::/96,
// 64:ff9b:1::/48) or 6to4 (2002::/16) address is classified by the IPv4
// address it leads to. The zone of an IPv6 address is ignored. The zero Addr
// is Unspecified.
func Classify(ip netip.Addr) Class {
	if !ip.IsValid() {
		return Unspecified
	}
	ip = ip.Unmap().WithZone("")
	if metadataAddrs[ip] {
		return Metadata
	}
	if ip.Is4() {
		for _, r := range v4Ranges {
			if r.p.Contains(ip) {
				return r.c
			}
		}
		return Public
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip), nat64Local.Contains(ip):
		return embedded(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case sixToFour.Contains(ip):
		return embedded(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	for _, r := range v6Ranges {
		if r.p.Contains(ip) {
			return r.c
		}
	}
	if !global6.Contains(ip) {
		// IPv4-compatible (::a.b.c.d), IPv4-translated, discard-only and the
		// unassigned rest: nothing a provider or a merchant lives at.
		return Reserved
	}
	return Public
}

// embedded classifies the IPv4 address inside a translation address.
func embedded(v4 netip.Addr) Class {
	return Classify(v4)
}
