package proxy

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// A port another socket listens on is refused, whether that socket
// shares with SO_REUSEPORT (a second tollgate) or not; a free port and
// port 0 pass, and the gateway's own listeners still share their port.
func TestCheckPortFree(t *testing.T) {
	shared, err := listenReusePort("127.0.0.1:0", 2) // as another tollgate would
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, l := range shared {
			l.Close()
		}
	}()
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, addr := range []string{shared[0].Addr().String(), plain.Addr().String()} {
		err := checkPortFree(addr)
		var be *BindError
		if !errors.As(err, &be) || !strings.Contains(err.Error(), "already in use") {
			t.Errorf("checkPortFree(%s) = %v; want a BindError saying the port is in use", addr, err)
		}
	}
	_, port, _ := net.SplitHostPort(shared[0].Addr().String())
	if err := checkPortFree(":" + port); err == nil {
		t.Errorf("checkPortFree(:%s): the wildcard address overlaps a loopback listener", port)
	}
	if err := checkPortFree("127.0.0.1:0"); err != nil {
		t.Errorf("port 0: %v", err)
	}
	free := plain.Addr().String()
	plain.Close()
	if err := checkPortFree(free); err != nil {
		t.Errorf("a port closed again: %v", err)
	}
}
