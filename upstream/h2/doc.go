// Package h2 carries the gateway's HTTP/1.1 exchanges to upstreams that
// speak HTTP/2 (upstreams.NAME.protocol: h2c or h2).
//
// The exchange (package proxy) writes an HTTP/1.1 request to an upstream
// connection and reads an HTTP/1.1 response from it. For an HTTP/2 target
// each pooled upstream connection is a Bridge: a net.Conn without a
// socket that turns one exchange at a time into one HTTP/2 stream on a
// multiplexed connection of the target's Pool. One request through it:
//
//   - Acquire (package upstream) lends a Bridge and calls Prepare, which
//     reserves a stream on one of the Pool's HTTP/2 connections — one with
//     room under the server's SETTINGS_MAX_CONCURRENT_STREAMS, else a new
//     one, dialled once for all the callers that wait for it (a failed
//     dial is a connect failure of the try).
//   - Write (request.go): the request head is parsed with proxy/http1,
//     its hop-by-hop and framing fields dropped, and the stream starts
//     (golang.org/x/net/http2's ClientConn, which does the framing, HPACK
//     and flow control); the body that follows, by Content-Length or
//     decoded from chunks, is streamed into the stream through a bounded
//     pipe as it is written.
//   - Read (response.go): the response comes back as HTTP/1.1 — status
//     line, fields (pseudo-headers dropped), then the body: with
//     Content-Length when the upstream gave one and declared no trailers,
//     else chunked, each read of DATA a chunk as it arrives and the HTTP/2
//     trailers (grpc-status, grpc-message, metadata) as chunked trailer
//     lines. A stream that ends with its HEADERS (gRPC's trailers-only
//     answer) is a head with Content-Length: 0. Memory per stream is the
//     pipe and the stream's flow-control window, never the whole body.
//   - The stream's end releases its reservation; the Bridge goes back to
//     the pool like a keep-alive connection. Close cancels a stream still
//     open (RST_STREAM CANCEL).
//
// A stream the server refused before processing it — RST_STREAM
// REFUSED_STREAM, or a GOAWAY whose last stream id is below it — fails
// with an error matching ErrRefused, which the exchange may retry like a
// connect failure. Other resets and GOAWAYs are plain errors (a reset to
// the exchange); deadlines (SetReadDeadline, SetWriteDeadline) time out
// with os.ErrDeadlineExceeded as a socket's do.
//
// Goroutines: one per stream, from its start until its response is read
// (or it fails, or the Bridge is closed); and the http2 package's read loop
// per HTTP/2 connection, which ends when the connection closes (idle for
// the pool's idle timeout, a GOAWAY, or Pool.Retire).
package h2
