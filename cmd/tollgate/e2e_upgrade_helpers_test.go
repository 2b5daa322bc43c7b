package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// upgradable is a tollgate started from its own copy of the binary, with a
// PID file, whose binary upgrades the test drives: the processes it is
// served by over time are the one the test started and those upgrades
// started (not the test's children: they are watched by PID).
type upgradable struct {
	gateway        // the first process; addr, admin, config, logs
	bin     string // the binary the processes run (replaced to test upgrades)
	pidPath string // the PID file
	mu      sync.Mutex
	pids    []int // every PID the PID file named, in order
}

// startUpgradable starts a copy of the binary with -pid-file and the given
// extra flags, and waits until it is ready. Its stdout and stderr go
// through a pipe every later process inherits, so the log has every
// process's lines and ends when the last one exits.
func startUpgradable(t *testing.T, cfg string, flags ...string) *upgradable {
	t.Helper()
	dir := t.TempDir()
	u := &upgradable{bin: filepath.Join(dir, "tollgate"), pidPath: filepath.Join(dir, "tollgate.pid")}
	u.gateway = gateway{t: t, addr: testkit.FreeAddr(t), admin: testkit.FreeAddr(t), logs: &testkit.LogBuffer{}, done: make(chan struct{})}
	u.config = filepath.Join(dir, "tollgate.yaml")
	u.writeConfig(cfg)
	u.installBinary(binPath)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(u.logs, r) // until every process holding w is gone
	args := append([]string{"-config", u.config, "-pid-file", u.pidPath}, flags...)
	u.cmd = exec.Command(u.bin, args...)
	u.cmd.Stdout, u.cmd.Stderr = w, w
	if err := u.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		u.cmd.Wait()
		u.exit = u.cmd.ProcessState.ExitCode()
		close(u.done)
	}()
	t.Cleanup(u.stopAll)
	u.waitReady()
	if !testkit.Poll(5*time.Second, 10*time.Millisecond, func() bool { _, err := os.Stat(u.pidPath); return err == nil }) {
		t.Fatalf("no PID file:\n%s", u.logs.String())
	}
	u.pids = []int{u.servingPID()}
	return u
}

// installBinary puts a copy of src where the processes' executable is,
// by a rename, as a package manager replaces a running binary.
func (u *upgradable) installBinary(src string) {
	u.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		u.t.Fatal(err)
	}
	u.installExecutable(b)
}

// installExecutable puts content (a binary or a script) at the
// processes' executable path, by a rename.
func (u *upgradable) installExecutable(content []byte) {
	u.t.Helper()
	tmp := u.bin + ".new"
	if err := os.WriteFile(tmp, content, 0o755); err != nil {
		u.t.Fatal(err)
	}
	if err := os.Rename(tmp, u.bin); err != nil {
		u.t.Fatal(err)
	}
}

// servingPID returns the PID the PID file names.
func (u *upgradable) servingPID() int {
	u.t.Helper()
	b, err := os.ReadFile(u.pidPath)
	if err != nil {
		u.t.Fatalf("PID file: %v\n%s", err, u.logs.String())
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		u.t.Fatalf("PID file %q: %v", b, err)
	}
	return pid
}

// upgrade runs `tollgate -upgrade -pid-file` (or sends SIGUSR2 itself
// when bySignal) and waits until the PID file names a new process that is
// ready. It returns the old and new PIDs.
func (u *upgradable) upgrade(bySignal bool) (old, cur int) {
	u.t.Helper()
	old = u.servingPID()
	if bySignal {
		if err := syscall.Kill(old, syscall.SIGUSR2); err != nil {
			u.t.Fatal(err)
		}
	} else {
		out, err := exec.Command(binPath, "-upgrade", "-pid-file", u.pidPath).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "upgraded: pid") {
			u.t.Fatalf("tollgate -upgrade: %v\n%s\n%s", err, out, u.logs.String())
		}
	}
	if !testkit.Poll(20*time.Second, 10*time.Millisecond, func() bool { return u.servingPID() != old }) {
		u.t.Fatalf("no new process after the upgrade of pid %d:\n%s", old, u.logs.String())
	}
	cur = u.servingPID()
	u.mu.Lock()
	u.pids = append(u.pids, cur)
	u.mu.Unlock()
	if !testkit.Poll(10*time.Second, 10*time.Millisecond, u.readyz) {
		u.t.Fatalf("not ready after the upgrade to pid %d:\n%s", cur, u.logs.String())
	}
	return old, cur
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitGone waits until pid is no longer alive.
func (u *upgradable) waitGone(pid int, within time.Duration) {
	u.t.Helper()
	if !testkit.Poll(within, 20*time.Millisecond, func() bool { return !alive(pid) }) {
		u.t.Fatalf("pid %d still running after %v:\n%s", pid, within, u.logs.String())
	}
}

// stopAll stops every process the gateway was served by that still runs
// (SIGTERM, then SIGKILL after 10 s), by PID.
func (u *upgradable) stopAll() {
	u.mu.Lock()
	pids := append([]int(nil), u.pids...)
	u.mu.Unlock()
	if len(pids) == 0 && u.cmd.Process != nil {
		pids = []int{u.cmd.Process.Pid}
	}
	for _, p := range pids {
		if alive(p) {
			syscall.Kill(p, syscall.SIGTERM)
		}
	}
	for _, p := range pids {
		if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool { return !alive(p) }) {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	select {
	case <-u.done:
	case <-time.After(5 * time.Second):
	}
	if strings.Contains(u.logs.String(), "WARNING: DATA RACE") {
		u.t.Errorf("the race detector reported a data race in tollgate")
	}
	if u.t.Failed() {
		u.t.Logf("tollgate logs:\n%s", u.logs.String())
	}
}

// readyz reports whether the admin listener answers /readyz with 200.
func (u *upgradable) readyz() bool {
	resp, err := http.Get("http://" + u.admin + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}
