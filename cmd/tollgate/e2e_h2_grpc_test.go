package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
)

// grpcFrame is one length-prefixed gRPC message (uncompressed), which is
// also a gRPC-Web data frame: flag 0, length, bytes.
func grpcFrame(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 5, 5+len(b))
	binary.BigEndian.PutUint32(out[1:], uint32(len(b)))
	return append(out, b...)
}

// readGRPCMessage reads one length-prefixed message from r into m.
func readGRPCMessage(t *testing.T, r io.Reader, m proto.Message) {
	t.Helper()
	var prefix [5]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		t.Fatalf("gRPC message prefix: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(prefix[1:]))
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("gRPC message: %v", err)
	}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatalf("gRPC message: %v", err)
	}
}

// TestGRPCUpstreamFromHTTP1: a real grpc-go server (its health service)
// behind protocol h2c, called by an HTTP/1.1 client: a unary call, a
// trailers-only error whose status arrives in the head, and a server
// stream whose messages reach the client one by one while the stream
// stays open.
func TestGRPCUpstreamFromHTTP1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("orders", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	g := startGateway(t, h2cConfig("", ln.Addr().String()))

	call := func(method string, req proto.Message) *http.Response {
		t.Helper()
		hreq, _ := http.NewRequest("POST", g.url("/grpc.health.v1.Health/"+method), strings.NewReader(string(grpcFrame(t, req))))
		hreq.Header.Set("Content-Type", "application/grpc")
		resp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc") {
			t.Fatalf("%s: %d %q", method, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return resp
	}

	resp := call("Check", &healthpb.HealthCheckRequest{Service: "orders"})
	var got healthpb.HealthCheckResponse
	readGRPCMessage(t, resp.Body, &got)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("unary Check: %v", got.Status)
	}

	resp = call("Check", &healthpb.HealthCheckRequest{Service: "nope"})
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Grpc-Status") != "5" || resp.ContentLength != 0 { // NOT_FOUND, trailers only
		t.Fatalf("trailers-only answer: grpc-status %q, Content-Length %d", resp.Header.Get("Grpc-Status"), resp.ContentLength)
	}

	resp = call("Watch", &healthpb.HealthCheckRequest{Service: "orders"})
	defer resp.Body.Close()
	body := bufio.NewReader(resp.Body)
	for i, want := range []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			readGRPCMessage(t, body, &got)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("server stream: message %d did not arrive while the stream is open", i)
		}
		if got.Status != want {
			t.Fatalf("server stream: message %d is %v, want %v", i, got.Status, want)
		}
		hs.SetServingStatus("orders", healthpb.HealthCheckResponse_NOT_SERVING) // the next message
	}
	// The upstream going away ends the stream (the gateway would
	// otherwise keep it until idle_timeout, as any quiet stream).
	srv.Stop()
	if _, err := io.Copy(io.Discard, body); err == nil {
		t.Error("a server stream cut by the upstream ended cleanly for the client")
	}
}
