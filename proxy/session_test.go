package proxy

import (
	"net"
	"net/netip"
	"testing"
)

// addrConn is a net.Conn whose remote address is set by the test.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// TestPeerOf: a TCP peer's address is taken as it is, an IPv4-mapped one
// unmapped, one of another kind parsed from its text, and an address that
// is not host:port gives the zero peer.
func TestPeerOf(t *testing.T) {
	cases := []struct {
		remote net.Addr
		want   string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4242}, "127.0.0.1:4242"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 80}, "10.1.2.3:80"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 443}, "[::1]:443"},
		{&net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 53}, "192.0.2.7:53"},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, netip.AddrPort{}.String()},
	}
	for _, c := range cases {
		if got := peerOf(addrConn{remote: c.remote}).String(); got != c.want {
			t.Errorf("peerOf(%v) = %s, want %s", c.remote, got, c.want)
		}
	}
	var c net.Conn = addrConn{remote: cases[0].remote}
	if n := testing.AllocsPerRun(100, func() { peerOf(c) }); n != 0 {
		t.Errorf("peerOf of a TCP peer allocates %v times", n)
	}
}
