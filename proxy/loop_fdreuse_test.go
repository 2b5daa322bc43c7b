package proxy

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tollgate/internal/testkit"
)

// gateHandler is a slog handler that blocks the goroutine logging the
// access line of path until release is closed (a deterministic pause
// between endRoute and closeSession).
type gateHandler struct {
	path    string
	entered chan struct{}
	release chan struct{}
}

func (h *gateHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *gateHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *gateHandler) WithGroup(string) slog.Handler            { return h }
func (h *gateHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "access" {
		return nil
	}
	hit := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "path" && a.Value.String() == h.path {
			hit = true
		}
		return true
	})
	if hit {
		close(h.entered)
		<-h.release
	}
	return nil
}

// TestLoopTunnelCloseKeepsReusedFD: a 101 tunnel closes the client socket
// itself (relay.go pipeBoth) before serveSession's closeSession runs
// reactor.forget. A new connection may get the same fd number meanwhile
// and be adopted by the same loop; forget must not touch the epoll set by
// fd (it used to EPOLL_CTL_DEL it, and the new connection then never got
// an event and hung).
func TestLoopTunnelCloseKeepsReusedFD(t *testing.T) {
	origin := originFunc(t, func(c net.Conn, r *bufio.Reader) {
		for {
			line, err := r.ReadString('\n')
			if err != nil || skipHead(r) != nil {
				return
			}
			if strings.Contains(line, "/ws") {
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
				io.Copy(c, r) // echo until the client side ends
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	h := &gateHandler{path: "/ws", entered: make(chan struct{}), release: make(chan struct{})}
	e, addr := newLogEngine(t, origin, `
server: {listen: "127.0.0.1:0", access_log: true}
admin: {listen: ""}
upstreams: {app: {targets: ["ORIGIN"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: app}]
`, h)
	if len(e.reactor.loops) != 1 {
		t.Skip("needs a single event loop")
	}
	released := false
	defer func() {
		if !released {
			close(h.release)
		}
	}()

	ws, wsR := dialT(t, addr)
	io.WriteString(ws, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	if got := statusOf(t, wsR); got != "101" {
		t.Fatalf("upgrade: %s", got)
	}
	e.mu.Lock()
	var old *session
	for s := range e.sessions {
		old = s
	}
	e.mu.Unlock()
	fd := old.fd

	// Client sockets made now, connected later: connecting allocates no
	// descriptor on this side, so the gateway's accept gets the lowest free
	// fd numbers.
	ta := ws.RemoteAddr().(*net.TCPAddr)
	var socks []int
	for i := 0; i < 8; i++ {
		sfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, sfd)
	}
	defer func() {
		for _, sfd := range socks {
			if sfd >= 0 {
				unix.Close(sfd)
			}
		}
	}()

	ws.Close() // the tunnel ends; pipeBoth closes the gateway's client socket
	select {
	case <-h.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("tunnel's access line never logged")
	}
	// old's fd number is free now, its session not yet forgotten. Connect
	// until a new connection gets that fd number on the gateway's side.
	var reused net.Conn
	var reusedR *bufio.Reader
	for i, sfd := range socks {
		sa := &unix.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ta.IP.To4())
		if err := unix.Connect(sfd, sa); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, "the connection to park", func() bool { return e.reactor.parkedCount() == i+1 })
		hit := false
		e.mu.Lock()
		for s := range e.sessions {
			if s != old && s.fd == fd {
				hit = true
			}
		}
		e.mu.Unlock()
		if hit {
			f := os.NewFile(uintptr(sfd), "client")
			c, err := net.FileConn(f) // dups: the gateway already holds fd
			f.Close()
			socks[i] = -1
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			reused, reusedR = c, bufio.NewReader(c)
			break
		}
	}
	if reused == nil {
		t.Skip("no new connection got the tunnel's fd number")
	}
	parked := e.reactor.parkedCount()
	// Control: the new connection works before the old session is forgotten.
	io.WriteString(reused, "GET /before HTTP/1.1\r\nHost: a\r\n\r\n")
	reused.SetReadDeadline(time.Now().Add(2 * time.Second))
	if err := readResponse(reusedR); err != nil {
		t.Fatalf("new connection before the old one was forgotten: %v", err)
	}
	testkit.Eventually(t, "the new connection to park again", func() bool { return e.reactor.parkedCount() == parked })
	close(h.release)
	released = true
	testkit.Eventually(t, "the tunnel's session to be forgotten", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		_, ok := e.sessions[old]
		return !ok
	})

	io.WriteString(reused, "GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
	reused.SetReadDeadline(time.Now().Add(2 * time.Second))
	if err := readResponse(reusedR); err != nil {
		t.Fatalf("connection that reused the tunnel's fd number: %v (its epoll registration was deleted by the old session's forget)", err)
	}
}
