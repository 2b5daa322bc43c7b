package main

// gRPC calls end to end: a grpc-go client, the gateway over h2c, and a
// grpc-go server behind an upstream with protocol: h2c.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// testService is the gRPC origin: echoes, streams of the sizes asked for,
// and the metadata it was sent, back as header and trailer. A status a
// request asks for ends the call: a unary call's before anything else (a
// trailers-only answer), a server stream's after its messages.
type testService struct {
	grpc_testing.UnimplementedTestServiceServer
}

func (testService) UnaryCall(ctx context.Context, in *grpc_testing.SimpleRequest) (*grpc_testing.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	grpc.SetTrailer(ctx, metadata.Pairs("x-unary-trailer", "after"))
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	grpc.SetHeader(ctx, metadata.Pairs("x-seen-trace", first(md.Get("x-trace"))))
	body := in.GetPayload().GetBody() // echoed when sent
	if body == nil {
		body = make([]byte, in.ResponseSize)
	}
	return &grpc_testing.SimpleResponse{Payload: &grpc_testing.Payload{Body: body}, Username: first(md.Get("x-client-id"))}, nil
}

// echoStatus is the error a request's EchoStatus asks for (nil: none).
func echoStatus(s *grpc_testing.EchoStatus) error {
	if s == nil || s.Code == 0 {
		return nil
	}
	return status.Error(codes.Code(s.Code), s.Message)
}

func (testService) StreamingOutputCall(in *grpc_testing.StreamingOutputCallRequest, s grpc.ServerStreamingServer[grpc_testing.StreamingOutputCallResponse]) error {
	for _, p := range in.ResponseParameters {
		if err := s.Send(&grpc_testing.StreamingOutputCallResponse{Payload: &grpc_testing.Payload{Body: make([]byte, p.Size)}}); err != nil {
			return err
		}
	}
	s.SetTrailer(metadata.Pairs("x-stream-trailer", "done"))
	return echoStatus(in.GetResponseStatus())
}

func (testService) StreamingInputCall(s grpc.ClientStreamingServer[grpc_testing.StreamingInputCallRequest, grpc_testing.StreamingInputCallResponse]) error {
	total := 0
	for {
		in, err := s.Recv()
		if err == io.EOF {
			return s.SendAndClose(&grpc_testing.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		total += len(in.GetPayload().GetBody())
	}
}

func (testService) FullDuplexCall(s grpc.BidiStreamingServer[grpc_testing.StreamingOutputCallRequest, grpc_testing.StreamingOutputCallResponse]) error {
	for {
		in, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		size := int32(len(in.GetPayload().GetBody()))
		if err := s.Send(&grpc_testing.StreamingOutputCallResponse{Payload: &grpc_testing.Payload{Body: make([]byte, size)}}); err != nil {
			return err
		}
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// startGRPCOrigin serves testService over h2c on loopback.
func startGRPCOrigin(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	grpc_testing.RegisterTestServiceServer(s, testService{})
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return l.Addr().String()
}

// grpcGateway is the gateway in front of a gRPC origin: the service routed
// by prefix, UnaryCall metered per client (partner: 5 calls), API keys.
func grpcGateway(t *testing.T, origin string) *gateway {
	return startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
auth:
  api_keys:
    keys: [{sha256: "%x", client_id: partner}]
upstreams:
  grpc: {targets: ["%s"], protocol: h2c}
clients:
  default: {rate: 100000/s}
  partner: {rate: 1/h, burst: 5}
routes:
  - {name: unary, match: {path: /grpc.testing.TestService/UnaryCall}, upstream: grpc, auth: [api_key]}
  - {name: service, match: {path_prefix: /grpc.testing.TestService/}, upstream: grpc, timeout: 60s}
`, sha256.Sum256([]byte("key-1")), origin))
}

// TestGRPCCalls: the four kinds of call pass with metadata and trailers
// intact; a status the server returns reaches the client; the per-client
// quota on one method refuses its sixth call while the others go on; a
// bidirectional stream interleaves (each reply comes before the next
// message is sent).
func TestGRPCCalls(t *testing.T) {
	g := grpcGateway(t, startGRPCOrigin(t))
	c := grpcClient(t, g.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keyed := metadata.AppendToOutgoingContext(ctx, "x-api-key", "key-1", "x-trace", "t-1")

	var header, trailer metadata.MD
	resp, err := c.UnaryCall(keyed, &grpc_testing.SimpleRequest{ResponseSize: 1000}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil || len(resp.GetPayload().GetBody()) != 1000 || resp.Username != "partner" {
		t.Fatalf("unary: %v %v", resp, err)
	}
	if first(header.Get("x-seen-trace")) != "t-1" || first(trailer.Get("x-unary-trailer")) != "after" {
		t.Fatalf("unary metadata: header %v trailer %v", header, trailer)
	}
	_, err = c.UnaryCall(keyed, &grpc_testing.SimpleRequest{ResponseStatus: &grpc_testing.EchoStatus{Code: int32(codes.FailedPrecondition), Message: "not now: 100%"}})
	if st, _ := status.FromError(err); st.Code() != codes.FailedPrecondition || st.Message() != "not now: 100%" {
		t.Fatalf("server status: %v", err)
	}

	out, err := c.StreamingOutputCall(ctx, &grpc_testing.StreamingOutputCallRequest{ResponseParameters: []*grpc_testing.ResponseParameters{{Size: 10}, {Size: 20000}, {Size: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{10, 20000, 30} {
		m, err := out.Recv()
		if err != nil || len(m.GetPayload().GetBody()) != want {
			t.Fatalf("server stream message %d: %v", i, err)
		}
	}
	if _, err := out.Recv(); err != io.EOF || first(out.Trailer().Get("x-stream-trailer")) != "done" {
		t.Fatalf("server stream end: %v, trailer %v", err, out.Trailer())
	}

	in, err := c.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := in.Send(&grpc_testing.StreamingInputCallRequest{Payload: &grpc_testing.Payload{Body: make([]byte, 1000*(i+1))}}); err != nil {
			t.Fatal(err)
		}
	}
	if sum, err := in.CloseAndRecv(); err != nil || sum.AggregatedPayloadSize != 55000 {
		t.Fatalf("client stream: %v %v", sum, err)
	}

	bidi, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ { // the reply to each message before the next is sent
		if err := bidi.Send(&grpc_testing.StreamingOutputCallRequest{Payload: &grpc_testing.Payload{Body: make([]byte, i*100)}}); err != nil {
			t.Fatal(err)
		}
		m, err := bidi.Recv()
		if err != nil || len(m.GetPayload().GetBody()) != i*100 {
			t.Fatalf("bidi message %d: %v", i, err)
		}
	}
	bidi.CloseSend()
	if _, err := bidi.Recv(); err != io.EOF {
		t.Fatalf("bidi end: %v", err)
	}

	for i := 0; i < 3; i++ { // partner's quota on UnaryCall: 5 calls (2 above)
		if _, err := c.UnaryCall(keyed, &grpc_testing.SimpleRequest{}); err != nil {
			t.Fatalf("call %d within the quota: %v", i+3, err)
		}
	}
	_, err = c.UnaryCall(keyed, &grpc_testing.SimpleRequest{})
	if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted {
		t.Fatalf("sixth call: %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := c.EmptyCall(ctx, &grpc_testing.Empty{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("another method after the quota: %v (the server does not implement it)", err)
	}
}

// TestGRPCLargeServerStreamFlatMemory: 100 MiB of server-streamed messages
// reach the client through the gateway, whose peak memory barely moves.
func TestGRPCLargeServerStreamFlatMemory(t *testing.T) {
	g := grpcGateway(t, startGRPCOrigin(t))
	c := grpcClient(t, g.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	warm, _ := c.StreamingOutputCall(ctx, &grpc_testing.StreamingOutputCallRequest{ResponseParameters: []*grpc_testing.ResponseParameters{{Size: 1 << 20}}})
	warm.Recv()
	base := peakRSS(t, g.cmd.Process.Pid)
	params := make([]*grpc_testing.ResponseParameters, 100)
	for i := range params {
		params[i] = &grpc_testing.ResponseParameters{Size: 1 << 20}
	}
	s, err := c.StreamingOutputCall(ctx, &grpc_testing.StreamingOutputCallRequest{ResponseParameters: params})
	if err != nil {
		t.Fatal(err)
	}
	var got int
	for {
		m, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
		got += len(m.GetPayload().GetBody())
	}
	if got != 100<<20 {
		t.Fatalf("received %d bytes, want 100 MiB", got)
	}
	growth := peakRSS(t, g.cmd.Process.Pid) - base
	t.Logf("gateway peak RSS grew %d KiB over the 100 MiB stream", growth>>10)
	if growth > 24<<20 {
		t.Fatalf("gateway peak RSS grew %d MiB over a 100 MiB stream", growth>>20)
	}
}
