// Command tollgate runs the API gateway. It parses flags, loads the
// config, starts the gateway, and owns the signal handling: SIGHUP
// reloads, SIGTERM/SIGINT drain and exit. It is the only place that exits.
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
	if err := fs.Parse(args); err != nil {
		return exitBadConfig
	}
	if *showVersion {
		fmt.Fprintln(stdout, "tollgate", version)
		return exitOK
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitBadConfig
	}
	src, err := chooseSource(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitBadConfig
	}
	if *check {
		return runCheck(src, stdout, stderr)
	}
	if *loops < 0 {
		fmt.Fprintln(stderr, "-event-loops: must be at least 0")
		return exitBadConfig
	}
	return serve(src, log, *loops)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// runCheck validates the config and prints "ok" or every error.
func runCheck(src *source, stdout, stderr io.Writer) int {
	_, err := src.load()
	if err != nil {
		printConfigErrors(stderr, err)
		return exitBadConfig
	}
	fmt.Fprintln(stdout, "ok")
	return exitOK
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

// serve runs the gateway until SIGTERM/SIGINT.
func serve(src *source, log *slog.Logger, loops int) int {
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
	// One event loop per CPU by default, as nginx runs one worker per CPU
	// (the Go runtime's GOMAXPROCS: CPUs, a container's CPU quota, or the
	// environment). Each loop blocks in epoll_wait on a thread of its own
	// and keeps its P while it serves, so the loops get Ps of their own
	// beside those for workers and the runtime.
	cpus := goruntime.GOMAXPROCS(0)
	if loops == 0 {
		loops = cpus
	}
	goruntime.GOMAXPROCS(cpus + loops)
	g := proxy.New(proxy.Options{
		Logger: log, Load: src.load, Filters: rt.filters, Commit: rt.commit, EventLoops: loops,
		Observer: rt.limiter, Collectors: rt.collectors(),
	})
	if err := g.Start(cfg); err != nil {
		log.Error("starting", "err", err)
		var be *proxy.BindError
		if errors.As(err, &be) {
			return exitBind
		}
		return exitBadConfig
	}
	waitForSignals(g, log)
	if err := g.Shutdown(); err != nil {
		log.Warn("shutdown timed out; remaining connections were closed", "err", err)
	}
	log.Info("tollgate stopped")
	return exitOK
}

func waitForSignals(g *proxy.Gateway, log *slog.Logger) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for s := range sigs {
		if s == syscall.SIGHUP {
			g.Reload()
			continue
		}
		log.Info("shutting down", "signal", s.String())
		return
	}
}
