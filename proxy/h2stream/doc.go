// Package h2stream presents one HTTP/2 stream as an HTTP/1.1 connection
// that carries one request, so that the gateway's one exchange (package
// proxy: router, auth, limits, plugins, breakers, retries, metrics, access
// log) serves HTTP/2 clients without a second copy of itself.
//
// golang.org/x/net/http2's server owns the connection: framing, HPACK,
// flow control, stream limits and the protections that come with them.
// It hands each stream to a handler as an *http.Request and an
// http.ResponseWriter; the handler wraps them in a [Conn] and serves it
// like any client connection. Through the Conn, a stream goes:
//
//  1. Read: the request head rendered as HTTP/1.1 (request line, Host from
//     :authority, the fields, and framing of the Conn's own: Content-Length
//     when the client declared one, else chunked when a body follows),
//     then the body as it arrives, framed in chunks when its length is
//     unknown, then io.EOF: a stream carries one request.
//  2. Write: the exchange's HTTP/1.1 answer, parsed as it is written
//     (proxy/http1): interim 1xx heads are dropped (the HTTP/2 server
//     sends its own 100-continue), the head becomes the stream's HEADERS
//     (hop-by-hop fields dropped), the body its DATA frames, each Write
//     flushed, and a chunked body's trailer fields the stream's trailers.
//     An answer with no body is sent as one HEADERS frame that ends the
//     stream, as gRPC's trailers-only answers must be.
//
// Memory stays bounded both ways: a Read waits for the client's DATA,
// which HTTP/2 flow control bounds, and a Write waits until the client's
// window takes it. Deadlines the exchange sets are the stream's
// (http.ResponseController), so its timeouts hold per stream.
package h2stream
