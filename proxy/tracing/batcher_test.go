package tracing

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"tollgate/internal/testkit"
)

// TestFullQueueDropsAndLogs: while the collector holds an export, ended
// spans fill the queue; those past it are dropped without waiting, and a
// warning says how many once the exporter is free again.
func TestFullQueueDropsAndLogs(t *testing.T) {
	release := make(chan struct{})
	held := make(chan struct{}, 1) // the collector holds an export
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case held <- struct{}{}:
		default:
		}
		<-release // a collector that is slow to answer
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: time.Second}
	go srv.Serve(l)
	defer srv.Close()
	var logs testkit.LogBuffer
	tr := newTracer(t, "http://"+l.Addr().String(), 1, logs.Logger())
	endSpans := func(n int) {
		for range n {
			var r Request
			r.Begin(tr, nil, time.Now(), []byte("GET"), []byte("/"))
			r.End(&Result{Status: 200})
			r.Finish()
		}
	}
	// A full batch wakes the exporter, which the collector then holds.
	// Waiting for that (rather than ending every span at once) keeps the
	// test from depending on when the exporting goroutine first runs: on
	// a loaded machine it may wake late and take thousands of spans along,
	// leaving room in the queue for the rest.
	endSpans(maxBatch)
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("a full batch did not reach the collector within 10 s")
	}
	start := time.Now()
	endSpans(maxQueue + 100)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ending %d spans with the exporter stuck took %v: OnEnd waited", maxQueue+100, d)
	}
	close(release)
	// The exporter may be backing off after a timed-out first export on a
	// loaded machine: the warning comes after its retry.
	if !testkit.Poll(30*time.Second, 20*time.Millisecond, func() bool {
		return strings.Contains(logs.String(), "span queue was full")
	}) {
		t.Fatalf("no drop logged: %q", logs.String())
	}
}
