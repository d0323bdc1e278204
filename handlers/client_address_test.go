package handlers

import (
	"net/http"
	"testing"
)

func TestClientAddressSkipsExactlyTheTrustedHops(t *testing.T) {
	tests := []struct {
		name   string
		hops   int
		remote string
		xff    []string
		want   string
	}{
		{"no proxy: the header is the client's word", 0, "198.51.100.9:4000", []string{"203.0.113.7"}, "198.51.100.9"},
		{"one hop", 1, "10.1.2.3:4000", []string{"203.0.113.7"}, "203.0.113.7"},
		// The client wrote the first two entries; the router appended the last.
		{"spoofed entries left of a private one", 1, "10.1.2.3:4000", []string{"1.2.3.4, 10.0.0.1, 203.0.113.7"}, "203.0.113.7"},
		{"spoofed header line before the router's", 1, "10.1.2.3:4000", []string{"1.2.3.4", "203.0.113.7"}, "203.0.113.7"},
		{"a private client address is still the client", 1, "10.1.2.3:4000", []string{"8.8.8.8, 192.168.1.20"}, "192.168.1.20"},
		{"two hops", 2, "10.1.2.3:4000", []string{"1.2.3.4, 203.0.113.7, 10.9.9.9"}, "203.0.113.7"},
		{"fewer entries than hops", 2, "10.1.2.3:4000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"no header", 1, "10.1.2.3:4000", nil, "10.1.2.3"},
		{"garbage where the router's entry should be", 1, "10.1.2.3:4000", []string{"203.0.113.7, nonsense"}, "10.1.2.3"},
		{"IPv6 with port", 1, "10.1.2.3:4000", []string{"[2001:db8::1]:5555"}, "2001:db8::1"},
		{"IPv4 mapped in IPv6", 1, "10.1.2.3:4000", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddress(tt.hops)(r); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestIPv6ClientsAreCountedPer64(t *testing.T) {
	same := []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2:abcd::99"}
	for _, a := range same[1:] {
		if addressKey(a) != addressKey(same[0]) {
			t.Errorf("%s and %s are one /64 but keys %q and %q", a, same[0], addressKey(a), addressKey(same[0]))
		}
	}
	if addressKey("2001:db8:1:3::1") == addressKey(same[0]) {
		t.Error("another /64 shares the key")
	}
	if addressKey("203.0.113.7") == addressKey("203.0.113.8") {
		t.Error("IPv4 addresses share a key")
	}
}
