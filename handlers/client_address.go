package handlers

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// clientAddress returns how the client's address is found. Behind
// trustedHops proxies (Heroku's router is one), each proxy appends the
// address it was connected from to X-Forwarded-For, so the client's is the
// entry trustedHops from the right: everything to the left of it came from
// the client and may be made up, whatever it looks like (a private address
// in there proves nothing). With no trusted proxy, or no header, it is the
// address of the connection itself.
func clientAddress(trustedHops int) echo.IPExtractor {
	return func(r *http.Request) string {
		direct := directAddress(r)
		if trustedHops <= 0 {
			return direct
		}
		var hops []string
		for _, h := range r.Header.Values(echo.HeaderXForwardedFor) {
			for a := range strings.SplitSeq(h, ",") {
				hops = append(hops, strings.TrimSpace(a))
			}
		}
		if len(hops) == 0 {
			return direct
		}
		// Fewer entries than trusted proxies: the client reached an inner
		// proxy directly, and the leftmost entry is what that proxy saw.
		if a, ok := parseAddr(hops[max(0, len(hops)-trustedHops)]); ok {
			return a.String()
		}
		return direct
	}
}

func directAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if a, ok := parseAddr(host); ok {
		return a.String()
	}
	return host
}

// parseAddr reads an address as proxies write it: bare, or with a port.
func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// addressKey is the flood-control key of a client address. An IPv6 client
// is usually given a whole /64 by its provider, and can take a new address
// in it at will, so the /64 is counted as one address.
func addressKey(addr string) string {
	a, ok := parseAddr(addr)
	if !ok {
		return "ip:" + addr
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// AddressKey is the key under which flood control and connection limits
// count a client address (see addressKey).
func AddressKey(addr string) string { return addressKey(addr) }

// clientKey is the flood-control key of the request's client.
func clientKey(c echo.Context) string { return addressKey(c.RealIP()) }
