// Package h2srv is the server side of one HTTP/2 connection (RFC 9113) as
// a sans-I/O state machine: bytes in, handler calls out, frames out. It
// owns no goroutine, socket or timer; whoever drives it — proxy/h2stream's
// goroutine driver now, one of the event loops (proxy/reactor.go) later,
// a test harness here — reads the
// socket, feeds the bytes, and writes what the connection has to send.
//
// A request passes through it like this:
//
//   - the driver reads from the client and calls Conn.Feed (conn.go). The
//     connection checks the client preface, cuts the bytes into frames
//     (input.go; a partial frame is kept until the rest arrives) and
//     parses each with x/net's http2.Framer;
//   - each frame moves a stream along its states (stream.go): a HEADERS
//     frame and its CONTINUATIONs are decoded with x/net's HPACK decoder
//     as they arrive and checked field by field (headers.go); a whole,
//     valid request head opens the stream and reaches Handler.Request;
//     DATA frames pass receive flow control (flow.go) and reach
//     Handler.Data; trailers reach Handler.Trailers; SETTINGS, PING,
//     WINDOW_UPDATE, RST_STREAM, PRIORITY and GOAWAY are answered or
//     applied here (settings.go, frames.go);
//   - the exchange answers on the Stream: WriteHeaders, WriteData (as much
//     as the send windows allow now; Handler.Writable says when more
//     fits), WriteTrailers, and Consumed as it uses the request body,
//     which gives the client back its window;
//   - every frame to send is appended to one output buffer (output.go);
//     the driver writes Conn.Output to the socket and reports it with
//     Conn.Wrote. Feed stops taking frames while that buffer is over
//     Config.MaxOutput, so a client that never reads cannot grow it.
//
// What a client may cost is bounded per connection (limits.go): the
// streams it may open, a header block's frames and bytes (the
// CONTINUATION flood of 2024), resets and refused streams per window of
// time (rapid reset, CVE-2023-44487), PING, SETTINGS and empty frames per
// window; past a bound the connection ends with GOAWAY ENHANCE_YOUR_CALM.
//
// The gateway's HTTP/2 clients are served by it: proxy/h2stream drives
// each connection (proxy/h2server.go wires it in). Its conformance is
// shown by h2spec run against a test harness in this package
// (h2spec_test.go) and against the gateway (cmd/tollgate's TestH2Spec).
package h2srv
