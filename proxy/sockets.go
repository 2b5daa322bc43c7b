package proxy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"tollgate/conf"
)

// Sockets are the listening sockets of a gateway, as a binary upgrade
// hands them from the running process to the one replacing it: the
// SO_REUSEPORT group of the client listener (one socket per accept loop)
// and the admin listener, with the addresses they were bound for. The new
// process accepts on the very sockets the old one did, so a connection
// waiting in an accept queue is served by one of them and none is refused.
type Sockets struct {
	// Listen is the server.listen the client sockets were bound for.
	Listen string
	// Clients are the client listening sockets (plain TCP, before TLS).
	Clients []net.Listener
	// AdminListen is the admin.listen the admin socket was bound for.
	AdminListen string
	// Admin is the admin listening socket; nil when admin is disabled.
	Admin net.Listener
}

// Close closes every socket left in s (Start takes out those it adopts).
func (s *Sockets) Close() {
	for _, l := range s.Clients {
		l.Close()
	}
	if s.Admin != nil {
		s.Admin.Close()
	}
	s.Clients, s.Admin = nil, nil
}

// Sockets returns the gateway's listening sockets, for a binary upgrade.
// They stay the gateway's: SocketFiles duplicates them.
func (g *Gateway) Sockets() Sockets {
	s := Sockets{Clients: g.sockets, Admin: g.adminLn}
	if snap := g.engine.Current(); snap != nil {
		s.Listen, s.AdminListen = snap.Conf.Server.Listen, snap.Conf.Admin.Listen
	}
	return s
}

// SocketFile returns a duplicate of l's descriptor as a file to pass to a
// child process (exec.Cmd.ExtraFiles). The duplicate is made with fcntl
// rather than (*net.TCPListener).File: passing a File from the net
// package to a child puts the socket (shared with the running listener)
// into blocking mode, and the running accept loop would then block in
// accept(2) where it must wait in the netpoller.
func SocketFile(l net.Listener) (*os.File, error) {
	sc, ok := l.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return nil, fmt.Errorf("listener %s: not a socket", l.Addr())
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.Addr(), err)
	}
	nfd := -1
	var derr error
	err = rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("duplicating listener %s: %w", l.Addr(), err)
	}
	return os.NewFile(uintptr(nfd), "listener "+l.Addr().String()), nil
}

// clientListeners returns the client sockets for cfg: the inherited ones
// when they were bound for the same server.listen (more are bound beside
// them when accept_loops asks for more; none is dropped when it asks for
// fewer, since connections wait in each one's queue), else new ones.
func (g *Gateway) clientListeners(cfg *conf.Config) ([]net.Listener, error) {
	in := g.opts.Inherited
	if in == nil || len(in.Clients) == 0 {
		return bindFresh(cfg.Server.Listen, cfg.Server.AcceptLoops)
	}
	lns := in.Clients
	in.Clients = nil
	if in.Listen != cfg.Server.Listen {
		g.log.Warn("server.listen changed across the upgrade: the inherited sockets are closed and new ones bound",
			"inherited", in.Listen, "listen", cfg.Server.Listen)
		for _, l := range lns {
			l.Close()
		}
		return bindFresh(cfg.Server.Listen, cfg.Server.AcceptLoops)
	}
	if want := cfg.Server.AcceptLoops; want > len(lns) {
		more, err := listenReusePort(lns[0].Addr().String(), want-len(lns))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, more...)
	}
	g.log.Info("adopted the listening sockets of the previous process", "listen", cfg.Server.Listen, "sockets", len(lns))
	return lns, nil
}

// bindFresh binds n SO_REUSEPORT listeners on addr after making sure no
// other process listens there (SO_REUSEPORT would silently share the
// port with it).
func bindFresh(addr string, n int) ([]net.Listener, error) {
	if err := checkPortFree(addr); err != nil {
		return nil, err
	}
	return listenReusePort(addr, n)
}

// adminListener returns the admin socket for addr: the inherited one
// when it was bound for the same admin.listen, else a new one.
func (g *Gateway) adminListener(addr string) (net.Listener, error) {
	if in := g.opts.Inherited; in != nil && in.Admin != nil {
		ln := in.Admin
		in.Admin = nil
		if in.AdminListen == addr {
			return ln, nil
		}
		g.log.Warn("admin.listen changed across the upgrade: the inherited admin socket is closed", "inherited", in.AdminListen, "listen", addr)
		ln.Close()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &BindError{Addr: addr, Err: err}
	}
	return ln, nil
}

// FileListener makes a listener of an inherited socket descriptor; the
// file is closed (the listener holds a duplicate). It refuses anything but
// a listening TCP socket.
func FileListener(f *os.File) (net.Listener, error) {
	defer f.Close()
	acc, err := unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return nil, fmt.Errorf("inherited descriptor %s: %w", f.Name(), err)
	}
	if acc != 1 {
		return nil, fmt.Errorf("inherited descriptor %s: not a listening socket", f.Name())
	}
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("inherited descriptor %s: %w", f.Name(), err)
	}
	if _, ok := l.(*net.TCPListener); !ok {
		l.Close()
		return nil, errors.New("inherited descriptor " + f.Name() + ": not a TCP listener")
	}
	return l, nil
}
