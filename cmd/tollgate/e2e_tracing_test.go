package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"tollgate/internal/testkit"
)

// TestTracingEndToEnd runs the binary with tracing to a real OTLP/HTTP
// receiver. A request whose client sent a sampled traceparent, whose
// opaque token must be introspected, and whose first try gets a 502
// arrives as one request span continuing the client's trace, with an auth
// span and two try spans under it (the first failing); each try reaches
// the upstream with its own span as the traceparent's parent; the access
// log has the trace id. The same token again (cached) makes no auth span;
// an unsampled traceparent goes upstream untouched and exports nothing;
// after a reload without the tracing block, nothing is traced.
func TestTracingEndToEnd(t *testing.T) {
	rcv := testkit.StartOTLPReceiver(t)
	_, authOrigin := startAuthServer(t)
	var calls atomic.Int64
	seen := make(chan string, 16)
	up := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("traceparent")
		if calls.Add(1) == 1 {
			http.Error(w, "warming up", http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, "ok")
	})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "introspect"), []byte("s3cret\n"), 0o600)
	cfg := func(tracing string) string {
		return fmt.Sprintf(`
server: {listen: "LISTEN", access_log: true}
admin: {listen: "ADMIN"}
auth:
  introspection: {url: "http://%s/introspect", client_id: gateway, client_secret_file: %s}
upstreams: {app: {targets: ["%s"], retries: {attempts: 1, on: ["502"]}}}
routes: [{name: orders, match: {path_prefix: /orders}, upstream: app, auth: [introspection]}]
%s
`, authOrigin.addr, filepath.Join(dir, "introspect"), up.addr, tracing)
	}
	g := startGateway(t, cfg(`tracing: {endpoint: "`+rcv.URL()+`", sample_ratio: 0, service_name: tollgate-e2e}`))

	const trace1, trace2, trace3 = "0af7651916cd43dd8448eb211c80319c", "1bf7651916cd43dd8448eb211c80319c", "2cf7651916cd43dd8448eb211c80319c"
	const clientSpan = "b7ad6b7169203331"
	get := func(trace, flags string) {
		t.Helper()
		req, _ := http.NewRequest("GET", g.url("/orders/7"), nil)
		req.Header.Set("Authorization", "Bearer opaque-good")
		req.Header.Set("traceparent", "00-"+trace+"-"+clientSpan+"-"+flags)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
	}

	get(trace1, "01")
	spans := rcv.WaitSpans(t, trace1, 4, 20*time.Second)
	req, auth, tries := spansByKind(t, spans)
	if req.ParentID != clientSpan || req.Name != "GET orders" || req.Service != "tollgate-e2e" {
		t.Errorf("request span %q of %q under %q, want \"GET orders\" of tollgate-e2e under %s", req.Name, req.Service, req.ParentID, clientSpan)
	}
	for k, want := range map[string]string{"http.route": "orders", "tollgate.client_id": "opaque-client",
		"tollgate.decision": "forwarded", "tollgate.ratelimit": "allow", "http.response.status_code": "200"} {
		if got := req.Attr(k); got != want {
			t.Errorf("request span %s = %q, want %q", k, got, want)
		}
	}
	if len(auth) != 1 || auth[0].ParentID != req.SpanID || auth[0].Attr("tollgate.client_id") != "opaque-client" {
		t.Errorf("auth spans %v, want one under the request span naming opaque-client", auth)
	}
	if len(tries) != 2 {
		t.Fatalf("%d try spans, want 2", len(tries))
	}
	for i, s := range tries {
		if s.ParentID != req.SpanID || s.Attr("tollgate.try") != fmt.Sprint(i+1) {
			t.Errorf("try %d: parent %s (want %s), tollgate.try %s", i+1, s.ParentID, req.SpanID, s.Attr("tollgate.try"))
		}
		if got := <-seen; got != "00-"+trace1+"-"+s.SpanID+"-01" {
			t.Errorf("try %d reached the upstream with traceparent %q, want its span %s as parent", i+1, got, s.SpanID)
		}
	}
	if tries[0].Attr("http.response.status_code") != "502" || tries[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR ||
		tries[1].Attr("http.response.status_code") != "200" {
		t.Errorf("tries answered %s (%v) then %s; want 502 (error) then 200", tries[0].Attr("http.response.status_code"),
			tries[0].Status.GetCode(), tries[1].Attr("http.response.status_code"))
	}
	testkit.Eventually(t, "the access log line with the trace id", func() bool {
		return strings.Contains(g.logs.String(), `"trace_id":"`+trace1+`"`)
	})

	get(trace2, "01") // the token is cached now: no auth span
	spans = rcv.WaitSpans(t, trace2, 2, 20*time.Second)
	if _, auth, tries := spansByKind(t, spans); len(auth) != 0 || len(tries) != 1 {
		t.Errorf("cached token: %d auth spans, %d tries; want 0 and 1", len(auth), len(tries))
	}
	<-seen

	get(trace3, "00") // not sampled: passed through, nothing exported
	if got := <-seen; got != "00-"+trace3+"-"+clientSpan+"-00" {
		t.Errorf("unsampled traceparent reached the upstream as %q", got)
	}
	testkit.Eventually(t, "the unsampled request's access log line with its trace id", func() bool {
		return strings.Contains(g.logs.String(), `"trace_id":"`+trace3+`"`)
	})

	// A reload without the tracing block turns tracing off: a sampled
	// traceparent goes upstream untouched.
	g.writeConfig(cfg(""))
	g.signal(syscall.SIGHUP)
	waitFor(t, func() bool { return g.metric(`tollgate_config_reloads_total{result="ok"}`) == 1 })
	const trace4 = "3df7651916cd43dd8448eb211c80319c"
	get(trace4, "01")
	if got := <-seen; got != "00-"+trace4+"-"+clientSpan+"-01" {
		t.Errorf("with tracing off, the traceparent reached the upstream as %q", got)
	}

	g.stop() // exports what is queued
	for _, s := range rcv.Spans() {
		if s.TraceID == trace3 || s.TraceID == trace4 {
			t.Errorf("a span of trace %s was exported: %s", s.TraceID, s.Name)
		}
	}
}

// spansByKind returns one trace's request span (failing t unless there
// is exactly one), its filter-wait spans and its try spans in start order.
func spansByKind(t *testing.T, spans []testkit.ReceivedSpan) (req testkit.ReceivedSpan, waits, tries []testkit.ReceivedSpan) {
	t.Helper()
	server, waits, tries := testkit.SpansByKind(spans)
	if len(server) != 1 {
		t.Fatalf("%d request spans in the trace, want 1: %v", len(server), spans)
	}
	return server[0], waits, tries
}
