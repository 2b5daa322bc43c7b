package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
)

// upgradeGrace is how much longer `tollgate -upgrade` waits than the
// serving process gives its new process.
const upgradeGrace = 5 * time.Second

// runUpgrade is `tollgate -upgrade -pid-file F`: it sends SIGUSR2 to the
// process F names and waits for the outcome, which the PID file tells: a
// new version naming another live process (ready: exit 0), or naming the
// same one again (the attempt failed and the old process keeps serving:
// exit 1, its log says why). No outcome within the timeout is exit 1 too.
func runUpgrade(pf pidFile, timeout time.Duration, stdout, stderr io.Writer) int {
	if pf == "" {
		fmt.Fprintln(stderr, "-upgrade: needs -pid-file (the file the serving process writes)")
		return exitBadConfig
	}
	old, before, err := pf.read()
	if err != nil {
		fmt.Fprintln(stderr, "-upgrade:", err)
		return exitBadConfig
	}
	if err := syscall.Kill(old, syscall.SIGUSR2); err != nil {
		fmt.Fprintf(stderr, "-upgrade: signalling pid %d: %v\n", old, err)
		return exitBadConfig
	}
	deadline := time.Now().Add(timeout + upgradeGrace)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if pf.current() == before {
			continue
		}
		pid, _, err := pf.read()
		if err != nil {
			continue // between versions, or being replaced
		}
		if pid == old {
			fmt.Fprintf(stderr, "upgrade failed: pid %d keeps serving; its log says why\n", old)
			return exitBadConfig
		}
		if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
			continue // named but gone: the old process rewrites the file
		}
		fmt.Fprintf(stdout, "upgraded: pid %d serves; pid %d drains and exits\n", pid, old)
		return exitOK
	}
	fmt.Fprintf(stderr, "upgrade: no outcome within %v; see the log of pid %d\n", timeout+upgradeGrace, old)
	return exitBadConfig
}
