// Command grpcorigin is the gRPC origin of the HTTP/2 benchmarks
// (bench/h2.sh): grpc-go's interop TestService (package
// google.golang.org/grpc/interop/grpc_testing, so no protoc is needed)
// served over h2c, cleartext HTTP/2 with prior knowledge, as gRPC clients
// and proxies speak it to a backend.
//
// A call passes through it as: grpc-go's server reads the HTTP/2 stream,
// decodes the SimpleRequest and calls UnaryCall, which answers a payload of
// the requested response_size (bytes of the bench pattern, the same
// 64-byte line bench/origin sends, cached per size) and echoes the
// request's "x-echo" metadata as a header and its "x-echo-trailer" as a
// trailer. EmptyCall answers Empty; the other methods answer UNIMPLEMENTED.
//
// Usage:
//
//	grpcorigin -listen 127.0.0.1:9090
//	grpcorigin -protoset out/grpc_testing.protoset   # write the descriptors for ghz, then exit
//
// ghz reads the service description from the -protoset file (a
// FileDescriptorSet of grpc/testing/test.proto and its imports, taken from
// the descriptors compiled into the grpc_testing package), so the proxies
// under test need not pass the reflection service.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// pattern is the line every generated body repeats (as in bench/origin).
const pattern = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-\n"

// maxPayload bounds response_size, so a request cannot make the origin
// allocate without limit.
const maxPayload = 16 << 20

func main() {
	listen := flag.String("listen", "127.0.0.1:9090", "address to serve gRPC (h2c) on")
	protoset := flag.String("protoset", "", "write the TestService FileDescriptorSet to this file and exit")
	flag.Parse()
	if *protoset != "" {
		if err := writeProtoset(*protoset); err != nil {
			fmt.Fprintln(os.Stderr, "grpcorigin:", err)
			os.Exit(1)
		}
		return
	}
	if err := serve(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "grpcorigin:", err)
		os.Exit(1)
	}
}

// serve answers gRPC on addr until SIGTERM or SIGINT.
func serve(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, &service{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		s.Stop()
	}()
	fmt.Fprintf(os.Stderr, "grpcorigin: serving grpc.testing.TestService on %s\n", l.Addr())
	if err := s.Serve(l); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// service implements UnaryCall and EmptyCall of grpc.testing.TestService.
type service struct {
	testgrpc.UnimplementedTestServiceServer
	bodies sync.Map // int32 size -> []byte payload body
}

// EmptyCall answers an empty message.
func (s *service) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

// UnaryCall answers response_size bytes of the pattern and echoes the
// x-echo metadata (header) and x-echo-trailer (trailer).
func (s *service) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	n := req.GetResponseSize()
	if n < 0 || n > maxPayload {
		return nil, status.Errorf(codes.InvalidArgument, "response_size %d out of [0, %d]", n, maxPayload)
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-echo"); len(v) > 0 {
			grpc.SetHeader(ctx, metadata.Pairs("x-echo", v[0]))
		}
		if v := md.Get("x-echo-trailer"); len(v) > 0 {
			grpc.SetTrailer(ctx, metadata.Pairs("x-echo-trailer", v[0]))
		}
	}
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: s.body(n)}}, nil
}

// body returns n bytes of the pattern, made once per size.
func (s *service) body(n int32) []byte {
	if b, ok := s.bodies.Load(n); ok {
		return b.([]byte)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = pattern[i%len(pattern)]
	}
	s.bodies.Store(n, b)
	return b
}

// writeProtoset writes the FileDescriptorSet of grpc/testing/test.proto
// and everything it imports, imports first.
func writeProtoset(path string) error {
	var set descriptorpb.FileDescriptorSet
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(testgrpc.File_grpc_testing_test_proto)
	b, err := proto.Marshal(&set)
	if err != nil {
		return fmt.Errorf("marshal descriptors: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write protoset: %w", err)
	}
	return nil
}
