package testkit

import (
	"net"
	"strconv"
	"testing"
)

// FreePort returns a loopback TCP port that was free a moment ago: it
// listens on 127.0.0.1:0 and closes the listener again, so nothing
// listens on the port when FreePort returns.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns "127.0.0.1:port" for a port from FreePort.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}
