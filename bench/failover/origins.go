package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// origin is one target: a loopback HTTP server that names itself in
// X-Origin and fails on command.
type origin struct {
	name    string
	addr    string
	mode    string // "500" or "reset"
	srv     *http.Server
	failing atomic.Bool
}

// startOrigins starts n origins named o1…on.
func startOrigins(n int, mode string) ([]*origin, error) {
	var out []*origin
	for i := 1; i <= n; i++ {
		o, err := startOrigin(fmt.Sprintf("o%d", i), mode)
		if err != nil {
			stopOrigins(out)
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func startOrigin(name, mode string) (*origin, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("origin %s: %w", name, err)
	}
	o := &origin{name: name, addr: l.Addr().String(), mode: mode}
	o.srv = &http.Server{Handler: http.HandlerFunc(o.serve), ReadHeaderTimeout: 5 * time.Second}
	go o.srv.Serve(l)
	return o, nil
}

// serve answers "ok", or fails the whole request (health checks included)
// while failing is set.
func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("X-Origin", o.name)
	if !o.failing.Load() {
		_, _ = io.WriteString(w, "ok")
		return
	}
	if o.mode == "reset" {
		resetConn(w)
		return
	}
	w.WriteHeader(http.StatusInternalServerError)
}

// resetConn closes the request's connection with an RST.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func stopOrigins(os []*origin) {
	for _, o := range os {
		_ = o.srv.Close()
	}
}
