package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"tollgate/limiter"
	"tollgate/proxy"
)

// handoverEnv names the environment variable through which a binary
// upgrade tells the new process what it inherits: its value is a
// handoverSpec in JSON. Its descriptors are the exec.Cmd.ExtraFiles of the
// old process (3 onwards).
const handoverEnv = "TOLLGATE_HANDOVER"

// handoverVersion is the version of handoverSpec this build writes and
// reads.
const handoverVersion = 1

// Lines of the control pipe, from the new process to the old one.
const (
	ctlState = "state" // send the limiter state now (the new process is about to serve)
	ctlReady = "ready" // serving; the old process may stop
)

// stateTimeout bounds the new process's wait for the limiter state.
const stateTimeout = 10 * time.Second

// handoverSpec describes what a new process inherits from the old one.
type handoverSpec struct {
	Version     int    `json:"version"`
	Parent      int    `json:"parent"`       // PID of the old process
	Listen      string `json:"listen"`       // server.listen the client sockets were bound for
	Clients     []int  `json:"clients"`      // client listening sockets, one per accept loop
	AdminListen string `json:"admin_listen"` // admin.listen the admin socket was bound for
	Admin       int    `json:"admin"`        // admin listening socket; -1: none
	State       int    `json:"state"`        // pipe the limiter state arrives on
	Ctl         int    `json:"ctl"`          // pipe the new process writes ctlState and ctlReady to
}

// maxInheritedFD bounds the descriptors a handover may name: 3 onwards,
// at most 64 client sockets (the event loops' bound) and three more.
const maxInheritedFD = 3 + 64 + 3

// check refuses a spec this process cannot trust.
func (s *handoverSpec) check() error {
	if s.Version != handoverVersion {
		return fmt.Errorf("version %d, this build reads %d", s.Version, handoverVersion)
	}
	if len(s.Clients) == 0 || len(s.Clients) > 64 {
		return fmt.Errorf("%d client sockets", len(s.Clients))
	}
	fds := append(slices.Clone(s.Clients), s.State, s.Ctl)
	if s.Admin != -1 {
		fds = append(fds, s.Admin)
	}
	seen := map[int]bool{}
	for _, fd := range fds {
		if fd < 3 || fd >= maxInheritedFD || seen[fd] {
			return fmt.Errorf("descriptor %d out of range or repeated", fd)
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return fmt.Errorf("descriptor %d: %w", fd, err)
		}
		seen[fd] = true
	}
	return nil
}

// heir is the new process's side of a binary upgrade: the sockets it
// adopts and the pipes to the old process.
type heir struct {
	log     *slog.Logger
	parent  int
	sockets *proxy.Sockets
	state   *os.File
	ctl     *os.File
}

// takeHandover returns what this process inherits when a binary upgrade
// started it (nil, nil otherwise). The environment variable is removed so
// that it does not leak to a process this one starts in turn. Any doubt
// about what was inherited is an error: the process must exit rather than
// serve on sockets it does not understand (the old one keeps serving).
func takeHandover(log *slog.Logger) (*heir, error) {
	raw, ok := os.LookupEnv(handoverEnv)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(handoverEnv)
	var spec handoverSpec
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("%s: %w", handoverEnv, err)
	}
	if err := spec.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", handoverEnv, err)
	}
	h := &heir{log: log, parent: spec.Parent, sockets: &proxy.Sockets{Listen: spec.Listen, AdminListen: spec.AdminListen}}
	for _, fd := range spec.Clients {
		unix.CloseOnExec(fd)
		l, err := proxy.FileListener(os.NewFile(uintptr(fd), fmt.Sprintf("client socket %d", fd)))
		if err != nil {
			h.close()
			return nil, err
		}
		h.sockets.Clients = append(h.sockets.Clients, l)
	}
	if spec.Admin != -1 {
		unix.CloseOnExec(spec.Admin)
		l, err := proxy.FileListener(os.NewFile(uintptr(spec.Admin), fmt.Sprintf("admin socket %d", spec.Admin)))
		if err != nil {
			h.close()
			return nil, err
		}
		h.sockets.Admin = l
	}
	h.state, h.ctl = pipeEnd(spec.State, "state pipe"), pipeEnd(spec.Ctl, "control pipe")
	return h, nil
}

// pipeEnd makes a file of an inherited pipe descriptor, non-blocking so
// that reads can have a deadline.
func pipeEnd(fd int, name string) *os.File {
	unix.CloseOnExec(fd)
	unix.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), name)
}

// close releases whatever the heir still holds.
func (h *heir) close() {
	h.sockets.Close()
	if h.state != nil {
		h.state.Close()
	}
	if h.ctl != nil {
		h.ctl.Close()
	}
}

// importState asks the old process for its limiter state and seeds l with
// it, just before this process starts serving. Whatever goes wrong is
// logged and the buckets start full: a lost handover must not stop the
// upgrade.
func (h *heir) importState(l *limiter.Limiter) {
	defer h.state.Close()
	if err := h.tell(ctlState); err != nil {
		h.log.Warn("limiter state not handed over; buckets start full", "err", err)
		return
	}
	h.state.SetReadDeadline(time.Now().Add(stateTimeout))
	st, err := l.ImportState(bufio.NewReader(h.state))
	if err != nil {
		h.log.Warn("limiter state not handed over; buckets start full", "err", err)
		return
	}
	h.log.Info("limiter state handed over", "buckets", st.Buckets, "applied", st.Applied)
}

// ready tells the old process that this one serves, and lets go of the
// pipes and of the sockets it did not adopt.
func (h *heir) ready() {
	if err := h.tell(ctlReady); err != nil {
		h.log.Warn("could not tell the old process that this one is ready", "pid", h.parent, "err", err)
	}
	h.close()
}

// tell writes one control line to the old process.
func (h *heir) tell(line string) error {
	h.ctl.SetWriteDeadline(time.Now().Add(stateTimeout))
	if _, err := h.ctl.WriteString(line + "\n"); err != nil {
		if errors.Is(err, unix.EPIPE) {
			return fmt.Errorf("the old process (pid %d) is gone", h.parent)
		}
		return fmt.Errorf("control pipe: %w", err)
	}
	return nil
}

// healthWaitMargin is added to the longest health-check timeout to bound
// the new process's wait for its first checks.
const healthWaitMargin = time.Second

// awaitHealthChecks waits (bounded by the longest health_check timeout and
// a margin) until the targets with health checks are in rotation, so the
// new process does not answer 503 for targets the old one was serving.
func (h *heir) awaitHealthChecks(g *proxy.Gateway) {
	var longest time.Duration
	for _, u := range g.Engine().Current().Conf.Upstreams {
		if u != nil && u.HealthCheck != nil {
			longest = max(longest, u.HealthCheck.Timeout)
		}
	}
	if longest == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), longest+healthWaitMargin)
	defer cancel()
	if pending := g.AwaitHealthChecks(ctx); len(pending) > 0 {
		h.log.Warn("binary upgrade: serving before these targets passed a health check", "targets", pending)
	}
}
