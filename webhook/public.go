package webhook

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// NewPublicClient is NewClient for a server whose tenants name their own
// endpoints: it connects only to public unicast addresses, so an endpoint
// cannot make evbill post to the machine itself, its network or a cloud's
// metadata service. The address is checked as it is dialled, after DNS,
// so a name that resolves to a private address is refused however often
// it changes. It does not use the environment's proxy: the address
// dialled would be the proxy's.
func NewPublicClient() *http.Client {
	c := NewClient()
	tr := c.Transport.(*http.Transport)
	tr.Proxy = nil
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: dialPublicOnly}
	tr.DialContext = d.DialContext
	return c
}

func dialPublicOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !Public(ip) {
		return fmt.Errorf("%s is not a public address: webhooks go only to the internet (EVBILL_WEBHOOK_ALLOW_PRIVATE=1 allows others)", ip)
	}
	return nil
}

// nonPublic are the ranges, besides those netip classifies, that no
// webhook receiver on the internet has: shared address space behind
// carrier-grade NAT, "this network", IETF protocol assignments,
// benchmarking, documentation, and the reserved 240/4; NAT64's well-known
// prefix, whose addresses stand for IPv4 ones that may be private.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// Public reports whether ip is a public unicast address: not loopback,
// private (RFC 1918, IPv6 unique local), link-local, multicast,
// unspecified or one of the special-purpose ranges in nonPublic. An
// IPv4-mapped IPv6 address is judged as its IPv4 address.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
