package testkit

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// OTLPReceiver is a real OTLP trace endpoint on loopback: over HTTP it
// decodes each POST /v1/traces body as the protobuf
// ExportTraceServiceRequest the OpenTelemetry exporters send (gzip or
// not), over gRPC it serves the collector's TraceService; it keeps the
// spans.
type OTLPReceiver struct {
	srv *http.Server
	url string

	mu       sync.Mutex
	spans    []ReceivedSpan
	requests int
}

// ReceivedSpan is one span as it arrived, with its ids in hex.
type ReceivedSpan struct {
	Service  string // the resource's service.name
	TraceID  string
	SpanID   string
	ParentID string // "" for a root
	*tracepb.Span
}

// Attr returns the value of a string or integer attribute as text ("" when
// absent).
func (s ReceivedSpan) Attr(key string) string {
	for _, kv := range s.Attributes {
		if kv.Key != key {
			continue
		}
		if iv, ok := kv.Value.GetValue().(*commonpb.AnyValue_IntValue); ok {
			return strconv.FormatInt(iv.IntValue, 10)
		}
		return kv.Value.GetStringValue()
	}
	return ""
}

// StartOTLPReceiver starts a receiver; it stops at the end of the test.
func StartOTLPReceiver(tb testing.TB) *OTLPReceiver {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &OTLPReceiver{url: "http://" + l.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.export)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(l)
	tb.Cleanup(func() { r.srv.Close() })
	return r
}

// StartOTLPGRPCReceiver starts a receiver of OTLP over gRPC (the
// collector's TraceService/Export); URL is then http://host:port for an
// insecure gRPC exporter. It stops at the end of the test.
func StartOTLPGRPCReceiver(tb testing.TB) *OTLPReceiver {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	r := &OTLPReceiver{url: "http://" + l.Addr().String()}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, grpcTraces{r: r})
	go srv.Serve(l)
	tb.Cleanup(srv.Stop)
	return r
}

// grpcTraces is the gRPC TraceService of a receiver.
type grpcTraces struct {
	coltracepb.UnimplementedTraceServiceServer
	r *OTLPReceiver
}

// Export keeps the spans of one request.
func (g grpcTraces) Export(_ context.Context, msg *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.r.add(msg)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// URL is the receiver's base URL (the HTTP exporter adds /v1/traces).
func (r *OTLPReceiver) URL() string { return r.url }

// export decodes one ExportTraceServiceRequest.
func (r *OTLPReceiver) export(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(io.LimitReader(body, 64<<20))
	var msg coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(raw, &msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.add(&msg)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (r *OTLPReceiver) add(msg *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	for _, rs := range msg.ResourceSpans {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, ReceivedSpan{Service: service, TraceID: hex.EncodeToString(s.TraceId),
					SpanID: hex.EncodeToString(s.SpanId), ParentID: hex.EncodeToString(s.ParentSpanId), Span: s})
			}
		}
	}
}

// Spans returns the spans received so far.
func (r *OTLPReceiver) Spans() []ReceivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReceivedSpan(nil), r.spans...)
}

// Requests is how many export requests arrived.
func (r *OTLPReceiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// WaitSpans waits (up to timeout) until at least n spans of trace traceID
// arrived, and returns them; it fails t otherwise.
func (r *OTLPReceiver) WaitSpans(tb testing.TB, traceID string, n int, timeout time.Duration) []ReceivedSpan {
	tb.Helper()
	var got []ReceivedSpan
	Poll(timeout, 20*time.Millisecond, func() bool {
		got = got[:0]
		for _, s := range r.Spans() {
			if s.TraceID == traceID {
				got = append(got, s)
			}
		}
		return len(got) >= n
	})
	if len(got) < n {
		tb.Fatalf("%d spans of trace %s arrived within %s, want %d: %v", len(got), traceID, timeout, n, got)
	}
	return got
}

// SpansByKind splits spans into server, internal and client spans, each
// in start order.
func SpansByKind(spans []ReceivedSpan) (server, internal, client []ReceivedSpan) {
	for _, s := range spans {
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = append(server, s)
		case tracepb.Span_SPAN_KIND_INTERNAL:
			internal = append(internal, s)
		case tracepb.Span_SPAN_KIND_CLIENT:
			client = append(client, s)
		}
	}
	for _, list := range [][]ReceivedSpan{server, internal, client} {
		sort.SliceStable(list, func(i, j int) bool { return list[i].StartTimeUnixNano < list[j].StartTimeUnixNano })
	}
	return server, internal, client
}
