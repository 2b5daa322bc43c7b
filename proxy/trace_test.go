package proxy

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"tollgate/internal/testkit"
)

// tracedConf is a route to ORIGIN that retries a 502 once, with tracing
// to RECEIVER at RATIO and the access log on.
const tracedConf = `
server: {listen: "127.0.0.1:0", access_log: ACCESSLOG}
admin: {listen: ""}
upstreams: {app: {targets: ["ORIGIN"], retries: {attempts: 1, on: ["502"]}}}
routes: [{name: orders, match: {path_prefix: /}, upstream: app}]
tracing: {endpoint: "RECEIVER", sample_ratio: RATIO, service_name: gw-test}
`

// tracedEngine serves tracedConf with the receiver and ratio filled in,
// logging to logs (access log on).
func tracedEngine(tb testing.TB, origin string, rcv *testkit.OTLPReceiver, ratio string, logs *testkit.LogBuffer) string {
	tb.Helper()
	_, addr := tracedEngineLog(tb, origin, tracingBlock(rcv, ratio), true, logs)
	return addr
}

// tracingBlock is the tracing config that exports to rcv at ratio.
func tracingBlock(rcv *testkit.OTLPReceiver, ratio string) string {
	return `tracing: {endpoint: "` + rcv.URL() + `", sample_ratio: ` + ratio + `, service_name: gw-test}`
}

// tracedEngineLog serves tracedConf with the tracing block given ("":
// tracing off) and the access log on or off.
func tracedEngineLog(tb testing.TB, origin, tracing string, accessLog bool, logs *testkit.LogBuffer) (*Engine, string) {
	tb.Helper()
	text := strings.NewReplacer("ACCESSLOG", fmt.Sprint(accessLog)).Replace(tracedConf)
	text = strings.Replace(text, `tracing: {endpoint: "RECEIVER", sample_ratio: RATIO, service_name: gw-test}`, tracing, 1)
	return newLogEngine(tb, origin, text, slog.NewJSONHandler(logs, nil))
}

// traceOrigin answers 502 to the requests whose number (from 1) is in
// fail, 200 to the others, and records the traceparent of each.
type traceOrigin struct {
	mu    sync.Mutex
	n     int
	fail  map[int]bool
	tps   []string
	bodys []string
}

func startTraceOrigin(t *testing.T, fail ...int) (*traceOrigin, string) {
	t.Helper()
	o := &traceOrigin{fail: map[int]bool{}}
	for _, n := range fail {
		o.fail[n] = true
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: o, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return o, l.Addr().String()
}

func (o *traceOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	o.mu.Lock()
	o.n++
	failing := o.fail[o.n]
	o.tps = append(o.tps, r.Header.Get("traceparent"))
	o.bodys = append(o.bodys, string(body))
	o.mu.Unlock()
	if failing {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	io.WriteString(w, "ok")
}

func (o *traceOrigin) traceparents() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.tps...)
}

// send writes one raw request to addr and returns the response's status.
func send(t *testing.T, addr, raw string) string {
	t.Helper()
	c, r := dialT(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return statusOf(t, r)
}

const (
	clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpan  = "00f067aa0ba902b7"
)

// TestTraceRetryIsParented: a sampled request whose first try gets a 502
// and whose retry succeeds arrives at a real OTLP receiver as one request
// span continuing the client's trace, with two try spans under it (the
// first failing); each try's upstream request carries its own span as the
// parent, even a POST whose retry re-sends the head rendered for the first
// try; the access log has the trace id.
func TestTraceRetryIsParented(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	o, origin := startTraceOrigin(t, 1)
	var logs testkit.LogBuffer
	addr := tracedEngine(t, origin, rcv, "0", &logs)
	status := send(t, addr, "POST /orders HTTP/1.1\r\nHost: shop\r\nIdempotency-Key: k1\r\nContent-Length: 5\r\n"+
		"traceparent: 00-"+clientTrace+"-"+clientSpan+"-01\r\n\r\nhello")
	if status != "200" {
		t.Fatalf("status %s, want 200 after the retry", status)
	}
	spans := rcv.WaitSpans(t, clientTrace, 3, 15*time.Second)
	req, tries := splitSpans(t, spans)
	if req.ParentID != clientSpan || req.Name != "POST orders" || req.Service != "gw-test" {
		t.Errorf("request span %q of %s under %s, want \"POST orders\" of gw-test under the client's %s",
			req.Name, req.Service, req.ParentID, clientSpan)
	}
	for k, want := range map[string]string{"http.route": "orders", "tollgate.decision": "forwarded",
		"http.response.status_code": "200", "http.request.method": "POST", "url.path": "/orders"} {
		if got := req.Attr(k); got != want {
			t.Errorf("request span %s = %q, want %q", k, got, want)
		}
	}
	if len(tries) != 2 {
		t.Fatalf("%d try spans, want 2", len(tries))
	}
	for i, s := range tries {
		if s.ParentID != req.SpanID || s.Attr("tollgate.try") != fmt.Sprint(i+1) || s.Attr("server.address") != origin {
			t.Errorf("try span %d: parent %s (want %s), try %s, target %s", i, s.ParentID, req.SpanID,
				s.Attr("tollgate.try"), s.Attr("server.address"))
		}
	}
	if tries[0].Attr("http.response.status_code") != "502" || tries[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("first try: status %s, span status %v; want 502, error", tries[0].Attr("http.response.status_code"), tries[0].Status)
	}
	if tries[1].Attr("http.response.status_code") != "200" || tries[1].Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("second try: status %s, span status %v; want 200, no error", tries[1].Attr("http.response.status_code"), tries[1].Status)
	}
	want := []string{"00-" + clientTrace + "-" + tries[0].SpanID + "-01", "00-" + clientTrace + "-" + tries[1].SpanID + "-01"}
	if got := o.traceparents(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("upstream traceparents %q, want %q", got, want)
	}
	if o.bodys[1] != "hello" {
		t.Errorf("the retry's body %q, want hello", o.bodys[1])
	}
	testkit.Eventually(t, "an access log line with the trace id", func() bool {
		return strings.Contains(logs.String(), `"trace_id":"`+clientTrace+`"`)
	})
}

// splitSpans returns the request span (failing t unless there is exactly
// one) and the try spans in start order.
func splitSpans(t *testing.T, spans []testkit.ReceivedSpan) (req testkit.ReceivedSpan, tries []testkit.ReceivedSpan) {
	t.Helper()
	server, _, tries := testkit.SpansByKind(spans)
	if len(server) != 1 {
		t.Fatalf("%d request spans, want 1: %v", len(server), spans)
	}
	return server[0], tries
}

// TestTraceUnsampledCreatesNothing: a request whose traceparent says not
// sampled goes upstream with that traceparent untouched and leaves its
// trace id in the access log, with no span exported; a request without
// one at ratio 0 sends none upstream; at ratio 1 a request without one
// starts a trace whose id the upstream sees.
func TestTraceUnsampledCreatesNothing(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	o, origin := startTraceOrigin(t)
	var logs testkit.LogBuffer
	addr := tracedEngine(t, origin, rcv, "0", &logs)
	unsampled := "00-" + clientTrace + "-" + clientSpan + "-00"
	if s := send(t, addr, "GET /a HTTP/1.1\r\nHost: shop\r\ntraceparent: "+unsampled+"\r\n\r\n"); s != "200" {
		t.Fatalf("status %s", s)
	}
	if s := send(t, addr, "GET /b HTTP/1.1\r\nHost: shop\r\n\r\n"); s != "200" {
		t.Fatalf("status %s", s)
	}
	if got := o.traceparents(); got[0] != unsampled || got[1] != "" {
		t.Errorf("upstream traceparents %q, want [%s, none]", got, unsampled)
	}
	testkit.Eventually(t, "both access log lines", func() bool { return logs.Count(`"msg":"access"`) == 2 })
	if !strings.Contains(logs.String(), `"trace_id":"`+clientTrace+`"`) {
		t.Errorf("no access log line with the unsampled trace id: %s", logs.String())
	}
	if n := strings.Count(logs.String(), `"trace_id"`); n != 1 {
		t.Errorf("%d access log lines with a trace id, want 1 (the request without traceparent has none)", n)
	}

	always := tracedEngine(t, origin, rcv, "1", &logs)
	if s := send(t, always, "GET /c HTTP/1.1\r\nHost: shop\r\n\r\n"); s != "200" {
		t.Fatalf("status %s", s)
	}
	tp := o.traceparents()[2]
	if len(tp) != 55 || !strings.HasSuffix(tp, "-01") {
		t.Fatalf("upstream traceparent %q, want a sampled one", tp)
	}
	spans := rcv.WaitSpans(t, tp[3:35], 2, 15*time.Second)
	req, tries := splitSpans(t, spans)
	if req.ParentID != "" || len(tries) != 1 || tries[0].SpanID != tp[36:52] {
		t.Errorf("root span parent %q, tries %v; want a root and one try whose id %s the upstream saw", req.ParentID, tries, tp[36:52])
	}
	for _, s := range rcv.Spans() {
		if s.TraceID == clientTrace {
			t.Errorf("a span of the unsampled trace was exported: %v", s)
		}
	}
}
