package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tollgate/proxy/http1"
	"tollgate/upstream"
)

// Every error toward an upstream maps to one failure, and every failure
// to one status the gateway answers with.
func TestUpstreamErrorsMapToStatuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		want   failure
		status int
	}{
		{"refused", &upstream.DialError{Addr: "a", Err: syscall.ECONNREFUSED}, failConnect, 502},
		{"connect timeout", &upstream.DialError{Addr: "a", Err: os.ErrDeadlineExceeded}, failConnectTimeout, 504},
		{"no such host", &upstream.DialError{Addr: "x.invalid:80", Err: &net.OpError{Op: "dial", Net: "tcp",
			Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}}, failDNS, 502},
		{"lookup timed out", &upstream.DialError{Addr: "x.example:80", Err: &net.OpError{Op: "dial", Net: "tcp",
			Err: &net.DNSError{Err: "i/o timeout", Name: "x.example", IsTimeout: true}}}, failDNS, 502},
		{"no target", upstream.ErrNoTarget, failUnavailable, 503},
		{"pool exhausted", fmt.Errorf("acquire: %w", upstream.ErrPoolExhausted), failUnavailable, 503},
		{"bad response", http1.ErrBadResponse, failBadResponse, 502},
		{"head too large", http1.ErrHeadTooLarge, failBadResponse, 502},
		{"bare LF", http1.ErrBareLF, failBadResponse, 502},
		{"read timeout", os.ErrDeadlineExceeded, failTimeout, 504},
		{"closed", io.EOF, failReset, 502},
		{"reset", syscall.ECONNRESET, failReset, 502},
		{"HTTP/2 stream refused", fmt.Errorf("stream: %w", upstream.ErrStreamRefused), failRefused, 502},
	} {
		f := classifyUpstream(tc.err)
		if f != tc.want || failureInfo[f].status != tc.status {
			t.Errorf("%s: failure %d (status %d), want %d (status %d)", tc.name, f, failureInfo[f].status, tc.want, tc.status)
		}
	}
}

// Every failure the gateway answers itself has a status and, when it
// sends a body, a contract error code; the sentinels have what they need.
func TestFailureTableIsComplete(t *testing.T) {
	for f := failBadRequest; f < failure(len(failureInfo)); f++ {
		info := failureInfo[f]
		switch f {
		case failClientGone:
			if info.status != 499 {
				t.Errorf("client gone: status %d, want 499", info.status)
			}
		case failRetryStatus:
		default:
			if info.status < 400 || info.code == "" || info.message == "" {
				t.Errorf("failure %d: %+v", f, info)
			}
		}
	}
}

// A try's failure tells the target's breaker what happened; failures the
// target is not to blame for count as successes.
func TestOutcomeOfATry(t *testing.T) {
	for _, tc := range []struct {
		f      failure
		status int
		want   upstream.Outcome
	}{
		{failNone, 200, upstream.Outcome{Status: 200}},
		{failRetryStatus, 503, upstream.Outcome{Status: 503}},
		{failConnect, 0, upstream.Outcome{ConnectFailure: true}},
		{failDNS, 0, upstream.Outcome{ConnectFailure: true}},
		{failConnectTimeout, 0, upstream.Outcome{ConnectFailure: true, Timeout: true}},
		{failTimeout, 0, upstream.Outcome{Timeout: true}},
		{failReset, 0, upstream.Outcome{Reset: true}},
		{failBadResponse, 0, upstream.Outcome{Reset: true}},
		{failUnavailable, 0, upstream.Outcome{Timeout: true}},
		{failClientGone, 0, upstream.Outcome{}},
		{failBadRequest, 0, upstream.Outcome{}},
		{failBodyTooLarge, 0, upstream.Outcome{}},
	} {
		if got := outcomeOf(tc.f, tc.status); got != tc.want {
			t.Errorf("outcomeOf(%d, %d) = %+v, want %+v", tc.f, tc.status, got, tc.want)
		}
	}
}

// retryConf has two targets and retries on every kind of failure.
const retryConf = `
server: {listen: "127.0.0.1:0"}
admin: {listen: ""}
upstreams:
  app:
    targets: ["ORIGIN", "127.0.0.1:1"]
    retries: {attempts: 2, on: [connect_failure, timeout, reset, "502", "503"]}
routes: [{name: all, match: {path_prefix: /}, upstream: app, timeout: 5s}]
`

// May a failed try be sent again? Connect failures always (nothing was
// sent); timeouts, resets and retryable statuses only for a request whose
// body can be sent again and whose second copy can do no harm; never past
// the route's deadline or the upstream's retry budget.
func TestMayRetry(t *testing.T) {
	e, _ := newConfEngine(t, rawOrigin(t, "ok"), retryConf)
	rt := e.Current().routes[0]
	future, past := time.Now().Add(time.Minute), time.Now().Add(-time.Second)
	for _, tc := range []struct {
		req      string
		body     bodyState
		f        failure
		deadline time.Time
		want     bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", bodyUnsent, failConnect, future, true},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", bodyUnsent, failTimeout, future, true},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", bodyUnsent, failReset, future, true},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", bodyUnsent, failBadResponse, future, true},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", bodyUnsent, failConnect, past, false},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", bodyUnsent, failBadRequest, future, false},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", bodyInHead, failConnect, future, true},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", bodyInHead, failReset, future, false},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", bodyInHead, failTimeout, future, false},
		{"POST / HTTP/1.1\r\nHost: a\r\nIdempotency-Key: k\r\nContent-Length: 1\r\n\r\n", bodyInHead, failReset, future, true},
		{"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", bodyInHead, failTimeout, future, true},
		{"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", bodyStreamed, failTimeout, future, false},
	} {
		cc := parsedConn(t, e, tc.req)
		cc.body = tc.body
		for range 20 { // room in the 20% retry budget
			rt.up.CountRequest()
		}
		if got := cc.mayRetry(rt, tc.f, tc.deadline); got != tc.want {
			t.Errorf("%q body %d failure %d: mayRetry = %v, want %v", firstLine(tc.req), tc.body, tc.f, got, tc.want)
		}
	}
	cc := parsedConn(t, e, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	spent := 0
	for cc.mayRetry(rt, failConnect, future) && spent < 1000 {
		spent++
	}
	if spent >= 1000 {
		t.Error("the retry budget never ran out")
	}
}

// parsedConn returns a clientConn holding req's parsed head.
func parsedConn(t *testing.T, e *Engine, req string) *clientConn {
	t.Helper()
	cc := newClientConn(e)
	if err := cc.q.ReadHead(bufio.NewReader(strings.NewReader(req)), 64<<10); err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	if err := cc.q.Parse(); err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	return cc
}

// Each try of a request picks a target not tried yet while there is one,
// then tries again among those tried; a retry never stays on the target
// that just failed while another is in rotation.
func TestTargetPickerSpreadsTries(t *testing.T) {
	e, _ := newConfEngine(t, rawOrigin(t, "ok"), retryConf)
	up := e.Current().routes[0].up
	var p targetPicker
	seen := map[string]int{}
	for i := range 4 {
		tgt, tr, err := p.next(up, 0)
		if err != nil {
			t.Fatalf("pick %d: %v", i, err)
		}
		tr.Done(upstream.Outcome{Status: 200})
		seen[tgt.Addr]++
		if i == 1 && len(seen) != 2 {
			t.Fatalf("the second try went to the same target: %v", seen)
		}
	}
	if len(seen) != 2 {
		t.Errorf("tries went to %v, want both targets", seen)
	}
	var exhausted targetPicker
	exhausted.n = maxPicks
	if _, _, err := exhausted.next(up, 0); !errors.Is(err, upstream.ErrNoTarget) {
		t.Errorf("past maxPicks: %v, want ErrNoTarget", err)
	}
}

// Retries run on the loop: a retryable status from one target is held
// while the other is tried; with both failing, the held answer is
// relayed; a target that refuses connections is skipped. Nothing goes to
// a worker.
func TestLoopRetries(t *testing.T) {
	var calls atomic.Int32
	status := func(code string) string {
		return originFunc(t, func(c net.Conn, r *bufio.Reader) {
			for {
				if _, ok := readRequestT(r); !ok {
					return
				}
				calls.Add(1)
				io.WriteString(c, "HTTP/1.1 "+code+" X\r\nContent-Length: 3\r\n\r\n"+code)
			}
		})
	}
	for _, tc := range []struct {
		name, a, b string
		want       string
		calls      int32 // 0: either order takes a different count
	}{
		{"503 then 200", status("503"), status("200"), "200", 0},
		{"503 twice", status("503"), status("503"), "503", 2},
		{"refused then 200", "127.0.0.1:1", status("200"), "200", 1},
	} {
		conf := strings.NewReplacer("ORIGIN_A", tc.a, "ORIGIN_B", tc.b).Replace(`
server: {listen: "127.0.0.1:0"}
admin: {listen: ""}
upstreams:
  app:
    targets: ["ORIGIN_A", "ORIGIN_B"]
    balance: round_robin
    retries: {attempts: 1, on: [connect_failure, "503"]}
routes: [{name: all, match: {path_prefix: /}, upstream: app, timeout: 5s}]
`)
		e, addr := newConfEngine(t, "", conf)
		rt := e.Current().routes[0]
		for range 50 { // room in the 20% retry budget
			rt.up.CountRequest()
		}
		for i := range 4 { // round robin: both orders
			calls.Store(0)
			c, r := dialT(t, addr)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			got := statusOf(t, r)
			if got != tc.want || (tc.calls > 0 && calls.Load() != tc.calls) {
				t.Errorf("%s, request %d: %s after %d calls, want %s after %d", tc.name, i, got, calls.Load(), tc.want, tc.calls)
			}
			c.Close()
		}
		if n := e.handedOff.Load(); n != 0 {
			t.Errorf("%s: %d hand-offs to workers", tc.name, n)
		}
	}
}
