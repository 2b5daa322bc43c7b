package upstream

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tollgate/conf"
)

// testServer is a real TCP server on 127.0.0.1 speaking a line protocol:
// every "ping\n" is answered with reply (default "pong\n"). It counts the
// connections it accepted and those that have ended.
type testServer struct {
	addr     string
	ln       net.Listener
	accepted atomic.Int64
	ended    atomic.Int64
	// closeAfter > 0 makes the server close a connection after that many
	// answers, as a keep-alive timeout would.
	closeAfter int
	reply      string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool // close ran: a connection accepted since is closed at once
	wg     sync.WaitGroup
}

// serverOption adjusts a testServer before it starts accepting.
type serverOption func(*testServer)

func closeAfter(n int) serverOption { return func(s *testServer) { s.closeAfter = n } }
func reply(r string) serverOption   { return func(s *testServer) { s.reply = r } }
func newServer(t testing.TB, opts ...serverOption) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &testServer{addr: ln.Addr().String(), ln: ln, reply: "pong\n", conns: map[net.Conn]struct{}{}}
	for _, o := range opts {
		o(s)
	}
	s.wg.Add(1)
	go s.acceptLoop()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		s.mu.Lock()
		if s.closed { // accepted as close ran: close would wait for it for ever
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

func (s *testServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer s.ended.Add(1)
	defer c.Close()
	r := bufio.NewReader(c)
	for n := 1; ; n++ {
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
		if _, err := c.Write([]byte(s.reply)); err != nil {
			return
		}
		if s.closeAfter > 0 && n >= s.closeAfter {
			return
		}
	}
}

func (s *testServer) close() {
	s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// exchange sends one ping on c and reads the first answer line.
func exchange(t testing.TB, c *Conn) {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	if _, err := c.Write([]byte("ping\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := c.R.ReadString('\n')
	if err != nil || line != "pong\n" {
		t.Fatalf("read: %q, %v", line, err)
	}
}

// poolConf is an upstream config with the given pool bounds and targets.
func poolConf(p conf.Pool, addrs ...string) *conf.Upstream {
	u := &conf.Upstream{Pool: p, Timeouts: conf.Timeouts{Connect: time.Second}}
	for _, a := range addrs {
		u.Targets = append(u.Targets, conf.Target{Addr: a, Weight: 1})
	}
	return u
}

// defaultPool mirrors the contract's defaults.
var defaultPool = conf.Pool{MaxConnsPerTarget: 512, MaxIdlePerTarget: 128, IdleTimeout: 90 * time.Second}

// testRegistry returns a registry closed at the end of the test.
func testRegistry(t testing.TB, o registryOptions) *Registry {
	t.Helper()
	r := newRegistry(nil, o)
	t.Cleanup(r.Close)
	return r
}

// singleTarget applies one upstream "u" with one target and returns it.
func singleTarget(t testing.TB, r *Registry, p conf.Pool, addr string) (*Set, *Target) {
	t.Helper()
	s, err := r.Apply(map[string]*conf.Upstream{"u": poolConf(p, addr)})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	t.Cleanup(s.Release)
	return s, s.Get("u").Targets()[0]
}

// mustAcquire acquires with a 5 s deadline or fails the test.
func mustAcquire(t testing.TB, tg *Target) *Conn {
	t.Helper()
	c, err := tg.Acquire(time.Now().Add(5 * time.Second))
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	return c
}

// isExhausted reports whether err is the pool-exhausted sentinel.
func isExhausted(err error) bool { return errors.Is(err, ErrPoolExhausted) }
