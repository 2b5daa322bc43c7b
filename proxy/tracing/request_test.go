package tracing

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"tollgate/conf"
	"tollgate/internal/testkit"
)

const (
	clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	sampledTP   = "00-" + clientTrace + "-00f067aa0ba902b7-01"
	unsampledTP = "00-" + clientTrace + "-00f067aa0ba902b7-00"
)

// newTracer returns a tracer exporting to endpoint at ratio, shut down at
// the end of the test.
func newTracer(tb testing.TB, endpoint string, ratio float64, log *slog.Logger) *Tracer {
	tb.Helper()
	tr, err := New(conf.Tracing{Endpoint: endpoint, Protocol: conf.TracingHTTP, SampleRatio: ratio, ServiceName: "t"}, log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tr.Shutdown(ctx)
	})
	return tr
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestOffAndUnsampledRecordNothing: no tracer, or a client's unsampled
// traceparent: nothing is started; only the client's trace id is kept,
// for the access log.
func TestOffAndUnsampledRecordNothing(t *testing.T) {
	var r Request
	r.Begin(nil, []byte(sampledTP), time.Now(), []byte("GET"), []byte("/"))
	if r.Sampled() || r.LogAttr().Key != "" {
		t.Fatalf("tracing off: sampled %v, log attr %v", r.Sampled(), r.LogAttr())
	}
	rcv := testkit.StartOTLPReceiver(t)
	tr := newTracer(t, rcv.URL(), 1, discard())
	r.Begin(tr, []byte(unsampledTP), time.Now(), []byte("GET"), []byte("/"))
	if r.Sampled() || r.LogAttr().Value.String() != clientTrace {
		t.Fatalf("unsampled parent: sampled %v, log attr %v", r.Sampled(), r.LogAttr())
	}
	r.End(&Result{Status: 200})
	r.Finish()
	if r.LogAttr().Key != "" {
		t.Fatalf("after Finish: log attr %v", r.LogAttr())
	}
}

// TestSampledParentIsFollowed: a sampled parent is traced even at ratio 0
// (parent based), and its spans reach the receiver under it.
func TestSampledParentIsFollowed(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	tr := newTracer(t, rcv.URL(), 0, discard())
	var r Request
	r.Begin(tr, []byte(sampledTP), time.Now(), []byte("GET"), []byte("/x"))
	if !r.Sampled() {
		t.Fatal("a sampled parent was not followed at ratio 0")
	}
	tp := string(r.TryStart(1, "127.0.0.1:1"))
	r.TryEnd(0, "upstream refused the connection")
	r.WaitStart("auth")
	r.WaitEnd("partner", 0)
	r.End(&Result{Route: "r", Status: 502, Decision: "failed"})
	r.Finish()
	spans := rcv.WaitSpans(t, clientTrace, 3, 10*time.Second)
	byName := map[string]testkit.ReceivedSpan{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	req, try, wait := byName["GET r"], byName[spanTry], byName["auth"]
	if req.ParentID != "00f067aa0ba902b7" || try.ParentID != req.SpanID || wait.ParentID != req.SpanID {
		t.Fatalf("parents: request %q, try %q, wait %q (request span %s)", req.ParentID, try.ParentID, wait.ParentID, req.SpanID)
	}
	if tp != "00-"+clientTrace+"-"+try.SpanID+"-01" {
		t.Errorf("traceparent for the try %s, want the try span %s as parent", tp, try.SpanID)
	}
	if try.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || try.Attr("error.type") != "upstream refused the connection" {
		t.Errorf("failed try: status %v, error.type %q", try.Status, try.Attr("error.type"))
	}
	if wait.Attr("tollgate.client_id") != "partner" || req.Attr("tollgate.decision") != "failed" {
		t.Errorf("wait client %q, decision %q", wait.Attr("tollgate.client_id"), req.Attr("tollgate.decision"))
	}
}

// TestGRPCExport: with protocol grpc, spans reach a real OTLP/gRPC
// receiver.
func TestGRPCExport(t *testing.T) {
	rcv := testkit.StartOTLPGRPCReceiver(t)
	tr, err := New(conf.Tracing{Endpoint: rcv.URL(), Protocol: conf.TracingGRPC, SampleRatio: 1, ServiceName: "g"}, discard())
	if err != nil {
		t.Fatal(err)
	}
	var r Request
	r.Begin(tr, []byte(sampledTP), time.Now(), []byte("GET"), []byte("/"))
	r.End(&Result{Route: "r", Status: 200})
	r.Finish()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := rcv.WaitSpans(t, clientTrace, 1, 10*time.Second); s[0].Service != "g" || s[0].Name != "GET r" {
		t.Fatalf("span %q of %q", s[0].Name, s[0].Service)
	}
}

// TestRootSamplingFollowsTheRatio: requests without a parent are sampled
// in the configured share.
func TestRootSamplingFollowsTheRatio(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	for _, ratio := range []float64{0, 0.25, 1} {
		tr := newTracer(t, rcv.URL(), ratio, discard())
		n := 0
		const draws = 20000
		for range draws {
			if tr.sampleRoot() {
				n++
			}
		}
		if got := float64(n) / draws; got < ratio-0.02 || got > ratio+0.02 {
			t.Errorf("ratio %g: %g sampled", ratio, got)
		}
	}
}

// TestExportFailureIsLogged: a collector that refuses the spans (a real
// HTTP endpoint answering 400) leaves a warning in the log.
func TestExportFailureIsLogged(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}), ReadHeaderTimeout: time.Second}
	go srv.Serve(l)
	defer srv.Close()
	var logs testkit.LogBuffer
	tr := newTracer(t, "http://"+l.Addr().String(), 1, logs.Logger())
	var r Request
	r.Begin(tr, nil, time.Now(), []byte("GET"), []byte("/"))
	r.End(&Result{Status: 200})
	r.Finish()
	if !testkit.Poll(10*time.Second, 20*time.Millisecond, func() bool {
		return strings.Contains(logs.String(), "exporting spans failed")
	}) {
		t.Fatalf("no export failure logged: %q", logs.String())
	}
}

// TestRegistrySharesByConfig: equal configs share a tracer, which the last
// release shuts down; another config gets its own.
func TestRegistrySharesByConfig(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	reg := NewRegistry(discard())
	c := conf.Tracing{Endpoint: rcv.URL(), Protocol: conf.TracingHTTP, SampleRatio: 1, ServiceName: "a"}
	a, _ := reg.Acquire(c)
	b, _ := reg.Acquire(c)
	c.ServiceName = "b"
	other, _ := reg.Acquire(c)
	if a != b || a == other {
		t.Fatalf("same config: %p %p, other %p", a, b, other)
	}
	reg.Release(a)
	var r Request
	r.Begin(b, []byte(sampledTP), time.Now(), []byte("GET"), []byte("/"))
	r.End(&Result{Status: 200})
	r.Finish()
	reg.Release(b) // the last: its queued span is exported on shutdown
	reg.Release(other)
	reg.Close()
	if got := len(rcv.Spans()); got != 1 {
		t.Fatalf("%d spans exported by the shutdown, want 1", got)
	}
}

// BenchmarkRequest is one request's trace: not sampled (what every
// request but the sampled ones costs), and sampled with one try (the span
// work on the request path; the export runs in the background).
func BenchmarkRequest(b *testing.B) {
	rcv := testkit.StartOTLPReceiver(b)
	tr := newTracer(b, rcv.URL(), 0, discard())
	for _, c := range []struct{ name, tp string }{{"unsampled", unsampledTP}, {"sampled", sampledTP}} {
		b.Run(c.name, func(b *testing.B) {
			tp, method, path := []byte(c.tp), []byte("GET"), []byte("/x")
			res := &Result{Route: "r", Status: 200, Decision: "forwarded", RequestID: "id"}
			start := time.Now() // the proxy passes the time it read the head at
			b.ReportAllocs()
			for b.Loop() {
				var r Request
				r.Begin(tr, tp, start, method, path)
				if r.Sampled() {
					r.TryStart(1, "127.0.0.1:1")
					r.TryEnd(200, "")
					r.End(res)
				}
				r.Finish()
			}
		})
	}
}
