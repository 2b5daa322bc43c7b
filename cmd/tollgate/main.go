// Command tollgate runs the API gateway. It parses flags, loads the
// config, starts the gateway, and owns the signal handling: SIGHUP
// reloads, SIGTERM/SIGINT drain and exit, SIGUSR2 upgrades the binary
// (upgrade.go: a new process takes the listening sockets over, handover.go
// is its side). It is the only place that exits.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	goruntime "runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tollgate/conf"
	"tollgate/proxy"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes of CONTRACT.md section 1.
const (
	exitOK        = 0
	exitBadConfig = 1
	exitBind      = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "sign" {
		return runSign(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("tollgate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file (default ./tollgate.yaml, else the embedded quick start)")
	check := fs.Bool("check", false, "validate the config and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	logLevel := fs.String("log-level", "info", "debug|info|warn|error")
	loops := fs.Int("event-loops", 0, "event loops serving plain-TCP connections (0 = one per CPU)")
	adminAddr := fs.String("admin-addr", "", "admin listener address, replacing admin.listen (default $"+adminAddrEnv+"; \":9901\" in a container)")
	probe := fs.Bool("probe", false, "ask /readyz on the admin listener and exit 0 when ready, 1 otherwise (container health checks)")
	readyWithoutJWKS := fs.Bool("ready-without-jwks", false, "report ready before every JWKS has loaded once")
	pidPath := fs.String("pid-file", "", "write the serving process's PID here (a binary upgrade's new process rewrites it)")
	upgrade := fs.Bool("upgrade", false, "upgrade the binary of the process -pid-file names (SIGUSR2) and wait for the outcome")
	upgradeTimeout := fs.Duration("upgrade-timeout", 30*time.Second, "how long a binary upgrade's new process has to become ready")
	if err := fs.Parse(args); err != nil {
		return exitBadConfig
	}
	if *showVersion {
		fmt.Fprintln(stdout, "tollgate", version)
		return exitOK
	}
	if *upgradeTimeout <= 0 {
		fmt.Fprintln(stderr, "-upgrade-timeout: must be positive")
		return exitBadConfig
	}
	if *upgrade {
		return runUpgrade(pidFile(*pidPath), *upgradeTimeout, stdout, stderr)
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitBadConfig
	}
	src, err := chooseSource(*configPath)
	if err == nil {
		src.adminAddr, err = adminOverride(*adminAddr)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitBadConfig
	}
	switch {
	case *check:
		return runCheck(src, stdout, stderr)
	case *probe:
		return runProbe(src, stdout, stderr)
	case *loops < 0:
		fmt.Fprintln(stderr, "-event-loops: must be at least 0")
		return exitBadConfig
	}
	return serve(src, log, serveFlags{loops: *loops, pidFile: pidFile(*pidPath), upgradeTimeout: *upgradeTimeout,
		readyWithoutJWKS: *readyWithoutJWKS})
}

// serveFlags are the serving process's options beside its config.
type serveFlags struct {
	loops            int
	pidFile          pidFile
	upgradeTimeout   time.Duration
	readyWithoutJWKS bool
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func printConfigErrors(w io.Writer, err error) {
	var el conf.ErrorList
	if errors.As(err, &el) {
		for _, e := range el {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, err)
}

// serve runs the gateway until SIGTERM/SIGINT, or until a binary upgrade
// hands it over to a new process.
func serve(src *source, log *slog.Logger, sf serveFlags) int {
	// Signals are caught from the start: a SIGHUP or SIGUSR2 sent to a
	// process still starting (a binary upgrade's new one, say) must not
	// kill it. They are handled once it serves.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	heir, err := takeHandover(log)
	if err != nil {
		log.Error("binary upgrade: refusing what the old process handed over", "err", err)
		return exitBadConfig
	}
	if heir != nil {
		defer heir.close()
		log.Info("started by a binary upgrade", "old_pid", heir.parent)
	}
	if src.demo {
		stop, err := src.startDemo(log)
		if err != nil {
			log.Error("starting the demo origin", "err", err)
			return exitBind
		}
		defer stop()
	}
	cfg, err := src.load()
	if err != nil {
		printConfigErrors(os.Stderr, err)
		return exitBadConfig
	}
	rt, err := newRuntime(log)
	if err != nil {
		log.Error("starting", "err", err)
		return exitBadConfig
	}
	defer rt.close()
	g, results := newGateway(src, log, rt, sf, heir)
	if err := g.Start(cfg); err != nil {
		log.Error("starting", "err", err)
		var be *proxy.BindError
		if errors.As(err, &be) {
			return exitBind
		}
		return exitBadConfig
	}
	pid := os.Getpid()
	if err := sf.pidFile.write(pid); err != nil {
		log.Error("starting", "err", err)
		g.Shutdown()
		return exitBadConfig
	}
	defer sf.pidFile.removeIfOurs(pid)
	if heir != nil {
		results.WithLabelValues("ok").Inc()
		heir.ready()
		log.Info("binary upgrade: serving; the old process drains and exits", "old_pid", heir.parent)
	}
	exe, err := os.Executable() // the path at start: an upgrade puts the new build there
	if err != nil {
		log.Warn("binary upgrades impossible: cannot find this process's executable", "err", err)
	}
	up := &upgrader{log: log, g: g, limiter: rt.limiter, pid: sf.pidFile, timeout: sf.upgradeTimeout,
		exe: exe, args: os.Args[1:], results: results, succeeded: make(chan struct{})}
	if handOver := waitForSignals(g, log, sigs, up); handOver {
		err = g.HandOver()
	} else {
		err = g.Shutdown()
	}
	if err != nil {
		log.Warn("shutdown timed out; remaining connections were closed", "err", err)
	}
	log.Info("tollgate stopped")
	return exitOK
}

// newGateway makes the gateway, with one event loop per CPU by default,
// as nginx runs one worker per CPU (the Go runtime's GOMAXPROCS: CPUs, a
// container's CPU quota, or the environment). Each loop blocks in
// epoll_wait on a thread of its own and keeps its P while it serves, so
// the loops get Ps of their own beside those for workers and the runtime.
// A process started by a binary upgrade (heir) adopts the old one's
// sockets and, before it accepts, waits for its health checks and takes
// the limiter state over.
func newGateway(src *source, log *slog.Logger, rt *runtime, sf serveFlags, heir *heir) (*proxy.Gateway, *prometheus.CounterVec) {
	cpus := goruntime.GOMAXPROCS(0)
	loops := sf.loops
	if loops == 0 {
		loops = cpus
	}
	goruntime.GOMAXPROCS(cpus + loops)
	results := newUpgradeResults()
	var g *proxy.Gateway
	opts := proxy.Options{
		Logger: log, Load: src.load, Filters: rt.filters, Commit: rt.commit, EventLoops: loops,
		Observer: rt.limiter, Collectors: append(rt.collectors(), results), Version: version,
		Quotas: rt.limiter,
	}
	if !sf.readyWithoutJWKS {
		opts.Ready = rt.ready
	}
	if heir != nil {
		opts.Inherited = heir.sockets
		opts.BeforeServe = func() {
			heir.awaitHealthChecks(g)
			heir.importState(rt.limiter)
		}
	}
	g = proxy.New(opts)
	return g, results
}

// waitForSignals handles signals until one says stop (false) or a binary
// upgrade succeeded (true). Signals that come while the gateway then
// drains are logged and ignored, except a second SIGTERM/SIGINT, which
// ends the process at once.
func waitForSignals(g *proxy.Gateway, log *slog.Logger, sigs chan os.Signal, up *upgrader) bool {
	defer func() {
		signal.Reset(syscall.SIGTERM, syscall.SIGINT)
		go func() {
			for s := range sigs {
				log.Warn("signal ignored while shutting down", "signal", s.String())
			}
		}()
	}()
	for {
		select {
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				g.Reload()
			case syscall.SIGUSR2:
				up.begin()
			default:
				log.Info("shutting down", "signal", s.String())
				up.abort()
				return false
			}
		case <-up.succeeded:
			return true
		}
	}
}
