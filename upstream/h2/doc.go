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
//     its fields HPACK-encoded straight from the parsed head (hop-by-hop
//     and framing fields dropped), and the stream starts on the gateway's
//     own HTTP/2 client connection (clientconn.go: golang.org/x/net/http2's
//     Framer and hpack for the wire, flow control both ways). A request
//     complete when it starts (a GET, a gRPC unary call, a small POST)
//     leaves as HEADERS and DATA with END_STREAM in one write; the body
//     that follows, by Content-Length or decoded from chunks, goes out as
//     DATA as it is written, the Write waiting while the server's windows
//     hold it back.
//   - Read (response.go, stream.go): the connection's read loop decodes
//     the response head and trailers and buffers DATA in the stream; Read
//     renders it as HTTP/1.1 — status line, fields (pseudo-headers and
//     hop-by-hop ones dropped, in the server's order), then the body: with
//     Content-Length when the upstream gave one and declared no trailers,
//     else chunked, each read of DATA a chunk as it arrives and the HTTP/2
//     trailers (grpc-status, grpc-message, metadata) as chunked trailer
//     lines. A stream that ends with its HEADERS (gRPC's trailers-only
//     answer) is a head with Content-Length: 0. Memory per stream is the
//     stream's flow-control window (streamWindow), never the whole body:
//     window goes back to the server (WINDOW_UPDATE) once the exchange
//     has read half of it.
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
// A server that breaks the protocol (a malformed frame or header block, a
// header list over maxHeaderList, a body past its Content-Length, a window
// overrun) fails the stream (RST_STREAM) or the whole connection (GOAWAY)
// with an error saying what was wrong; the exchange reports it like any
// upstream failure.
//
// Goroutines: two per HTTP/2 connection, none per stream: the read loop
// (frames.go), and the writer (writer.go), which writes what the streams
// and the read loop queued in one write(2) — frames produced while a
// write runs leave together in the next. Both end when the connection
// closes (idle for the pool's idle timeout, a GOAWAY, a failure, or
// Pool.Retire).
package h2
