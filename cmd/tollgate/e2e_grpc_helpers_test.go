package main

// A real gRPC origin for the e2e tests: grpc-go's server with the
// interop TestService, over h2c on loopback.

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// testService answers TestService calls from what each request asks:
//   - UnaryCall: the request's payload echoed (or ResponseSize zero bytes
//     when it has none), or the ResponseStatus it names as an error
//     before anything else (a trailers-only answer: one HEADERS frame);
//   - StreamingOutputCall: one message per ResponseParameters, of its
//     size, then the ResponseStatus it names, if any, after them (after
//     the head even when there are no messages).
//
// Every answer carries the trailer x-origin-trailer: <method>, echoes
// the caller's x-user-agent (metadata a gRPC-Web client sends) as the
// trailer x-echo-user-agent, and, unless trailers-only, the header
// x-origin-header: <method>.
type testService struct {
	grpc_testing.UnimplementedTestServiceServer
}

// startGRPCOrigin serves testService over h2c and returns its address;
// the server stops when the test ends.
func startGRPCOrigin(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	grpc_testing.RegisterTestServiceServer(srv, testService{})
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// originMetadata sets the trailer every answer carries, and the header
// unless the answer is to be trailers-only (a header set makes grpc-go
// send a head of its own).
func originMetadata(ctx context.Context, method string, trailersOnly bool) {
	if !trailersOnly {
		grpc.SetHeader(ctx, metadata.Pairs("x-origin-header", method))
	}
	tr := metadata.Pairs("x-origin-trailer", method)
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("x-user-agent")) > 0 {
		tr.Set("x-echo-user-agent", strings.Join(md.Get("x-user-agent"), ","))
	}
	grpc.SetTrailer(ctx, tr)
}

// echoStatus is the error an EchoStatus names (nil for none or OK).
func echoStatus(s *grpc_testing.EchoStatus) error {
	if s == nil || s.Code == 0 {
		return nil
	}
	return status.Error(codes.Code(s.Code), s.Message)
}

// UnaryCall echoes the payload or fails as asked.
func (testService) UnaryCall(ctx context.Context, req *grpc_testing.SimpleRequest) (*grpc_testing.SimpleResponse, error) {
	err := echoStatus(req.ResponseStatus)
	originMetadata(ctx, "UnaryCall", err != nil)
	if err != nil {
		return nil, err
	}
	body := req.GetPayload().GetBody()
	if body == nil {
		body = make([]byte, req.ResponseSize)
	}
	return &grpc_testing.SimpleResponse{Payload: &grpc_testing.Payload{Body: body}}, nil
}

// StreamingOutputCall sends the messages asked for, then the status.
func (testService) StreamingOutputCall(req *grpc_testing.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[grpc_testing.StreamingOutputCallResponse]) error {
	originMetadata(stream.Context(), "StreamingOutputCall", false)
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	for i, p := range req.ResponseParameters {
		body := make([]byte, p.Size)
		for j := range body {
			body[j] = byte(i + j)
		}
		if err := stream.Send(&grpc_testing.StreamingOutputCallResponse{Payload: &grpc_testing.Payload{Body: body}}); err != nil {
			return err
		}
	}
	return echoStatus(req.ResponseStatus)
}
