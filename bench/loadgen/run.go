package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"
)

// options are the command line's settings.
type options struct {
	url      string
	conns    int
	duration time.Duration
	timeout  time.Duration
	headers  [][2]string
	sign     signOptions
	tls      tlsOptions
}

// target is what every connection sends to: the dial address, the Host
// header and request-target, and the TLS client configuration (nil for
// http).
type target struct {
	addr, host, path, scheme string
	tls                      *tls.Config
}

// result sums up a run.
type result struct {
	requests     int
	duration     time.Duration
	p50, p99     time.Duration
	socketErrors int
	non2xx       int
	tlsState     string // "TLS 1.3 TLS_AES_128_GCM_SHA256" or ""
}

// String is the human line, then the RESULT line for scripts.
func (r result) String() string {
	rate := 0.0
	if r.duration > 0 {
		rate = float64(r.requests) / r.duration.Seconds()
	}
	tlsNote := ""
	if r.tlsState != "" {
		tlsNote = ", " + r.tlsState
	}
	return fmt.Sprintf("%d requests in %.2fs: %.0f req/s, p50 %v, p99 %v, socket errors %d, non-2xx %d%s\n"+
		"RESULT %d %d %d %d %d %d\n",
		r.requests, r.duration.Seconds(), rate, r.p50, r.p99, r.socketErrors, r.non2xx, tlsNote,
		r.requests, r.duration.Microseconds(), r.p50.Microseconds(), r.p99.Microseconds(), r.socketErrors, r.non2xx)
}

// parseTarget checks the URL and builds the TLS configuration for https.
func parseTarget(raw string, t tlsOptions) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("-url: want http://host:port/path or https://…, got %q", raw)
	}
	tg := &target{host: u.Host, path: u.RequestURI(), scheme: u.Scheme, addr: u.Host}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		tg.addr = net.JoinHostPort(u.Hostname(), port)
	}
	if u.Scheme == "https" {
		if tg.tls, err = t.config(u.Hostname()); err != nil {
			return nil, err
		}
	} else if t.set() {
		return nil, fmt.Errorf("-ca, -cert, -key and -server-name need an https URL")
	}
	return tg, nil
}

// run dials every connection, then keeps them busy for o.duration.
func run(o options) (result, error) {
	if o.conns < 1 || o.duration <= 0 || o.timeout <= 0 {
		return result{}, fmt.Errorf("-c, -d and -timeout must be positive")
	}
	tg, err := parseTarget(o.url, o.tls)
	if err != nil {
		return result{}, err
	}
	sg, err := newSigner(o.sign)
	if err != nil {
		return result{}, err
	}
	clients := make([]*client, o.conns)
	for i := range clients {
		clients[i] = newClient(tg, o.headers, sg, o.timeout)
		if err := clients[i].dial(); err != nil {
			closeAll(clients[:i])
			return result{}, fmt.Errorf("connection %d of %d: %w", i+1, o.conns, err)
		}
	}
	state := clients[0].tlsState()
	start := time.Now()
	end := start.Add(o.duration)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.loop(end) }()
	}
	wg.Wait()
	elapsed := time.Since(start)
	closeAll(clients)
	return summarize(clients, elapsed, state), nil
}

func closeAll(cs []*client) {
	for _, c := range cs {
		c.close()
	}
}

// summarize merges the clients' counts and latencies.
func summarize(cs []*client, elapsed time.Duration, state string) result {
	r := result{duration: elapsed, tlsState: state}
	var lat []time.Duration
	for _, c := range cs {
		r.socketErrors += c.socketErrors
		r.non2xx += c.non2xx
		lat = append(lat, c.latencies...)
	}
	r.requests = len(lat)
	slices.Sort(lat)
	r.p50, r.p99 = percentile(lat, 50), percentile(lat, 99)
	return r
}

// percentile returns the p-th percentile of sorted (nearest rank), 0 for
// none.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return sorted[i-1]
}
