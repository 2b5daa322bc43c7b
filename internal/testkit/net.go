package testkit

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// FreePort returns a loopback TCP port that was free a moment ago: it
// listens on 127.0.0.1:0 and closes the listener again, so nothing
// listens on the port when FreePort returns. It never returns a port it
// has returned before in this process (the kernel may hand a port just
// closed out again), so two calls give two different ports.
func FreePort(t testing.TB) int {
	t.Helper()
	var taken []net.Listener // held open so that the next try gets another port
	defer func() {
		for _, l := range taken {
			l.Close()
		}
	}()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		handedOut.Lock()
		fresh := !handedOut.ports[port]
		if fresh {
			handedOut.ports[port] = true
		}
		handedOut.Unlock()
		if fresh {
			l.Close()
			return port
		}
		taken = append(taken, l)
	}
	t.Fatal("finding a free port: 100 tries all gave ports handed out before")
	return 0
}

// handedOut holds the ports FreePort has returned.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreeAddr returns "127.0.0.1:port" for a port from FreePort.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// ServeLoopback listens on 127.0.0.1 and serves each connection it
// accepts on a goroutine of its own, until the test ends; it returns the
// listener's address. When the test ends the listener closes, stop (if
// not nil) is called to end the connections still served, and the
// goroutines are waited for.
func ServeLoopback(t testing.TB, serve func(net.Conn), stop func()) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		if stop != nil {
			stop()
		}
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(nc)
			}()
		}
	}()
	return ln.Addr().String()
}
