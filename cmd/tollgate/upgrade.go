package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tollgate/limiter"
	"tollgate/proxy"
)

// upgrader runs the binary upgrades of the serving process (SIGUSR2): it
// starts the executable again — the file this process was started from,
// which now holds the new build — with the same arguments, handing it the
// listening sockets (descriptors, not a second bind), a pipe for the
// limiter state and a control pipe. The new process loads its config,
// asks for the limiter state, starts serving, rewrites the PID file and
// says "ready"; only then does this process stop accepting and drain
// (Gateway.HandOver). A new process that exits, says nothing within the
// timeout (it is killed) or cannot be started leaves this one serving,
// with the reason logged, and a later SIGUSR2 tries again. One attempt at
// a time; none after one succeeded.
type upgrader struct {
	log     *slog.Logger
	g       *proxy.Gateway
	limiter *limiter.Limiter
	pid     pidFile
	timeout time.Duration
	exe     string
	args    []string
	results *prometheus.CounterVec

	// succeeded is closed when a new process is ready: this one hands over.
	succeeded chan struct{}

	mu      sync.Mutex
	running bool        // an attempt is under way (or succeeded)
	stopped bool        // shutting down: no new attempt
	child   *os.Process // the attempt's new process until it is ready
}

// newUpgradeResults returns tollgate_upgrades_total: failed attempts are
// counted by the process that goes on serving, a successful one by the
// new process, which serves afterwards.
func newUpgradeResults() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_upgrades_total",
		Help: "Binary upgrades (SIGUSR2): ok counted by the new process, error by the old one, which keeps serving.",
	}, []string{"result"})
}

// begin starts an attempt unless one is under way; it does not wait.
func (u *upgrader) begin() {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case u.stopped:
		u.log.Warn("binary upgrade ignored: shutting down")
		return
	case u.running:
		u.log.Warn("binary upgrade ignored: one is already under way")
		return
	}
	u.running = true
	go u.attempt()
}

// abort stops a new process that is not ready yet (this process is
// shutting down) and refuses later attempts.
func (u *upgrader) abort() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stopped = true
	if u.child != nil {
		u.log.Warn("binary upgrade abandoned: shutting down; stopping the new process", "pid", u.child.Pid)
		u.child.Kill()
	}
}

// attempt runs one upgrade to its end.
func (u *upgrader) attempt() {
	defer func() {
		if v := recover(); v != nil {
			u.failed(fmt.Errorf("panic: %v", v))
		}
	}()
	u.log.Info("binary upgrade: starting the new process", "executable", u.exe)
	pid, err := u.run()
	if err != nil {
		u.failed(err)
		return
	}
	u.mu.Lock()
	u.child = nil // it serves now: abort must leave it alone
	u.mu.Unlock()
	u.log.Info("binary upgrade: the new process is ready; handing over", "pid", pid)
	close(u.succeeded)
}

// failed ends an attempt that did not succeed: logged, counted, and the
// PID file rewritten with this process's PID (the new process may have
// written its own), which is how `tollgate -upgrade` learns the outcome.
func (u *upgrader) failed(err error) {
	u.log.Error("binary upgrade failed; this process keeps serving", "err", err)
	u.results.WithLabelValues("error").Inc()
	if werr := u.pid.write(os.Getpid()); werr != nil {
		u.log.Error("binary upgrade: rewriting the PID file", "err", werr)
	}
	u.mu.Lock()
	u.running, u.child = false, nil
	u.mu.Unlock()
}

// run starts the new process and waits until it is ready; it returns its
// PID.
func (u *upgrader) run() (int, error) {
	files, spec, err := u.inheritance()
	defer closeFiles(files)
	if err != nil {
		return 0, err
	}
	stateR, stateW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("state pipe: %w", err)
	}
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		closeFiles([]*os.File{stateR, stateW})
		return 0, fmt.Errorf("control pipe: %w", err)
	}
	defer ctlR.Close()
	var stateOnce sync.Once // the state goes once; never asked for, the pipe is just closed
	sendState := func() { stateOnce.Do(func() { go u.sendState(stateW) }) }
	defer stateOnce.Do(func() { stateW.Close() })
	spec.State, spec.Ctl = 3+len(files), 4+len(files)
	cmd, err := u.command(spec, append(files, stateR, ctlW))
	stateR.Close() // the child's ends: it has its own copies now
	ctlW.Close()
	if err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	quit := make(chan struct{})
	defer close(quit)
	lines := readLines(ctlR, quit)
	timer := time.NewTimer(u.timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return 0, u.endedEarly(cmd.Process, exited)
			}
			switch line {
			case ctlState:
				sendState()
			case ctlReady:
				return pid, nil
			default:
				u.log.Warn("binary upgrade: unknown line from the new process", "pid", pid, "line", line)
			}
		case <-timer.C:
			cmd.Process.Kill()
			return 0, fmt.Errorf("the new process (pid %d) was not ready within %v (-upgrade-timeout); it was killed", pid, u.timeout)
		}
	}
}

// inheritance duplicates the gateway's listening sockets for the new
// process and describes them. Descriptor n of the list is 3+n there.
func (u *upgrader) inheritance() ([]*os.File, handoverSpec, error) {
	socks := u.g.Sockets()
	spec := handoverSpec{Version: handoverVersion, Parent: os.Getpid(), Listen: socks.Listen, AdminListen: socks.AdminListen, Admin: -1}
	var files []*os.File
	for _, l := range socks.Clients {
		f, err := proxy.SocketFile(l)
		if err != nil {
			return files, spec, err
		}
		spec.Clients = append(spec.Clients, 3+len(files))
		files = append(files, f)
	}
	if socks.Admin != nil {
		f, err := proxy.SocketFile(socks.Admin)
		if err != nil {
			return files, spec, err
		}
		spec.Admin = 3 + len(files)
		files = append(files, f)
	}
	return files, spec, nil
}

// command starts the new process with extra as its descriptors 3 onwards.
func (u *upgrader) command(spec handoverSpec, extra []*os.File) (*exec.Cmd, error) {
	if u.exe == "" {
		return nil, errors.New("this process's executable is unknown (see the warning at start)")
	}
	desc, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("describing the handover: %w", err)
	}
	cmd := exec.Command(u.exe, u.args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.ExtraFiles = extra
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, handoverEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, handoverEnv+"="+string(desc))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", u.exe, err)
	}
	u.mu.Lock()
	u.child = cmd.Process
	stopped := u.stopped
	u.mu.Unlock()
	if stopped { // abort ran before the child was known
		cmd.Process.Kill()
	}
	return cmd, nil
}

// sendState writes the limiter state to the new process and closes the
// pipe.
func (u *upgrader) sendState(w *os.File) {
	defer w.Close()
	start := time.Now()
	st, err := u.limiter.ExportState(w)
	if err != nil {
		u.log.Warn("binary upgrade: limiter state not handed over", "err", err)
		return
	}
	if st.Truncated {
		u.log.Warn("binary upgrade: limiter state cut at its size bound; the rest start full", "buckets", st.Buckets)
	}
	u.log.Info("binary upgrade: limiter state sent", "buckets", st.Buckets, "took_ms", time.Since(start).Milliseconds())
}

// endedEarly explains a new process that closed the control pipe without
// saying ready: it exited (its own log lines say why), or it is killed.
func (u *upgrader) endedEarly(p *os.Process, exited <-chan error) error {
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) || err == nil {
			return fmt.Errorf("the new process (pid %d) exited before it was ready (%v); its log lines above say why", p.Pid, describeExit(err))
		}
		return fmt.Errorf("the new process (pid %d) ended before it was ready: %w", p.Pid, err)
	case <-time.After(2 * time.Second):
		p.Kill()
		return fmt.Errorf("the new process (pid %d) closed its control pipe without being ready; it was killed", p.Pid)
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// readLines sends the lines read from r until it ends or quit is closed.
func readLines(r *os.File, quit <-chan struct{}) <-chan string {
	out := make(chan string)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 256), 256)
		for sc.Scan() {
			select {
			case out <- sc.Text():
			case <-quit:
				return
			}
		}
	}()
	return out
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
