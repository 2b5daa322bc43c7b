package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"tollgate/conf"
)

// dnsCheckTimeout bounds the lookups of `-check`.
const dnsCheckTimeout = 3 * time.Second

// runCheck validates the config and prints "ok" or every error. A valid
// config may still draw warnings on stderr, which do not fail the check:
// conf.Warnings (no routes, clients no route can identify) and upstream
// host names that do not resolve from here. A name that does not resolve
// is a warning, not an error, because -check often runs elsewhere than
// the gateway (a CI job, a laptop) and names inside a container network
// or a service registry resolve only there; the running gateway logs
// and counts each failed lookup (cause "dns") and answers 502.
func runCheck(src *source, stdout, stderr io.Writer) int {
	cfg, err := src.load()
	if err != nil {
		printConfigErrors(stderr, err)
		return exitBadConfig
	}
	for _, w := range conf.Warnings(cfg) {
		fmt.Fprintln(stderr, "warning:", w.Error())
	}
	for _, w := range unresolvedTargets(cfg) {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintln(stdout, "ok")
	return exitOK
}

// unresolvedTargets looks up every target host that is a name (not an IP
// address), in parallel, and describes those that do not resolve, in
// config order.
func unresolvedTargets(cfg *conf.Config) []string {
	type lookup struct {
		path, host string
		err        error
	}
	var todo []*lookup
	for _, name := range cfg.UpstreamOrder {
		for i, t := range cfg.Upstreams[name].Targets {
			host, _, err := net.SplitHostPort(t.Addr)
			if err != nil || net.ParseIP(host) != nil {
				continue
			}
			todo = append(todo, &lookup{path: fmt.Sprintf("upstreams.%s.targets[%d]", name, i), host: host})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), dnsCheckTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, l.err = net.DefaultResolver.LookupHost(ctx, l.host)
		}()
	}
	wg.Wait()
	var out []string
	for _, l := range todo {
		if l.err != nil {
			out = append(out, fmt.Sprintf("%s: %s: host %q does not resolve from here (%v); "+
				"requests to it are answered 502 until it does", cfg.Path, l.path, l.host, l.err))
		}
	}
	return out
}
