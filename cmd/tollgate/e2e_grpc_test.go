package main

// gRPC through the real binary: grpc-go clients over h2c; the gateway's
// own answers (auth, quota, no route, upstream down, timeout) reach the
// client library as gRPC statuses.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"tollgate/internal/testkit"
)

// grpcClient dials the gateway over h2c.
func grpcClient(t *testing.T, addr string) grpc_testing.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return grpc_testing.NewTestServiceClient(cc)
}

// TestGRPCGatewayAnswers: each answer the gateway makes itself to a gRPC
// call is a gRPC status the client library reports: UNAUTHENTICATED,
// RESOURCE_EXHAUSTED (with retry-after and rate-limit metadata),
// UNIMPLEMENTED, UNAVAILABLE and DEADLINE_EXCEEDED; metrics and the
// access log keep the HTTP status each stands for.
func TestGRPCGatewayAnswers(t *testing.T) {
	silent, _ := rawOrigin(t, func(c net.Conn) { time.Sleep(3 * time.Second) }) // reads nothing, answers nothing
	down := testkit.FreeAddr(t)                                                 // nothing listens here
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN", access_log: true}
admin: {listen: "ADMIN"}
auth:
  api_keys:
    keys: [{sha256: "%x", client_id: partner}]
upstreams:
  down: {targets: ["%s"]}
  silent: {targets: ["%[3]s"], timeouts: {response_header: 300ms}}
  patient: {targets: ["%[3]s"], timeouts: {response_header: 5s}}
clients:
  default: {rate: 100000/s}
  partner: {rate: 1/h, burst: 2}
routes:
  - {name: keyed, match: {path: /grpc.testing.TestService/UnaryCall}, upstream: down, auth: [api_key]}
  - {name: slow, match: {path: /grpc.testing.TestService/EmptyCall}, upstream: silent, timeout: 2s}
  - {name: down, match: {path: /grpc.testing.TestService/CacheableUnaryCall}, upstream: down}
  - {name: deadline, match: {path: /grpc.testing.TestService/UnimplementedCall}, upstream: patient, timeout: 5s}
`, sha256.Sum256([]byte("key-1")), down, silent))
	c := grpcClient(t, g.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := func(name string, err error, code codes.Code) *status.Status {
		t.Helper()
		st, _ := status.FromError(err)
		if st.Code() != code {
			t.Fatalf("%s: %v, want %v", name, err, code)
		}
		return st
	}

	_, err := c.UnaryCall(ctx, &grpc_testing.SimpleRequest{})
	want("no credentials", err, codes.Unauthenticated)

	keyed := metadata.AppendToOutgoingContext(ctx, "x-api-key", "key-1")
	for i := 0; i < 2; i++ { // admitted: the target is down
		_, err = c.UnaryCall(keyed, &grpc_testing.SimpleRequest{})
		want("admitted call to a target that is down", err, codes.Unavailable)
	}
	var trailer metadata.MD
	_, err = c.UnaryCall(keyed, &grpc_testing.SimpleRequest{}, grpc.Trailer(&trailer))
	st := want("over quota", err, codes.ResourceExhausted)
	if len(trailer.Get("retry-after")) == 0 || len(trailer.Get("ratelimit")) == 0 {
		t.Errorf("quota refusal metadata %v, want retry-after and ratelimit", trailer)
	}
	if !strings.Contains(st.Message(), "rate") {
		t.Errorf("quota refusal message %q", st.Message())
	}

	_, err = c.StreamingOutputCall(ctx, &grpc_testing.StreamingOutputCallRequest{})
	if err == nil { // a server stream reports its status at the first receive
		var stream grpc.ServerStreamingClient[grpc_testing.StreamingOutputCallResponse]
		stream, _ = c.StreamingOutputCall(ctx, &grpc_testing.StreamingOutputCallRequest{})
		_, err = stream.Recv()
	}
	want("no route", err, codes.Unimplemented)

	_, err = c.CacheableUnaryCall(ctx, &grpc_testing.SimpleRequest{})
	want("upstream down", err, codes.Unavailable)

	start := time.Now()
	_, err = c.EmptyCall(ctx, &grpc_testing.Empty{})
	want("upstream too slow", err, codes.DeadlineExceeded)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the gateway's timeout answered after %v", d)
	}
	// The caller's deadline travels as grpc-timeout and bounds the call at
	// the gateway: it answers 504 itself, before the caller gives up.
	short, cancelShort := context.WithTimeout(ctx, 600*time.Millisecond)
	defer cancelShort()
	_, err = c.UnimplementedCall(short, &grpc_testing.Empty{})
	want("grpc-timeout", err, codes.DeadlineExceeded)
	waitFor(t, func() bool {
		return g.metric(`tollgate_requests_total{code="504",protocol="h2",route="deadline"}`) == 1
	})

	for _, sample := range []string{
		`tollgate_requests_total{code="401",protocol="h2",route="keyed"}`,
		`tollgate_requests_total{code="429",protocol="h2",route="keyed"}`,
		`tollgate_requests_total{code="404",protocol="h2",route="no_route"}`,
		`tollgate_requests_total{code="504",protocol="h2",route="slow"}`,
	} {
		if v := g.metric(sample); v < 1 {
			t.Errorf("%s = %v, want at least 1", sample, v)
		}
	}
}
