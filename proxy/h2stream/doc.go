// Package h2stream serves HTTP/2 client connections over proxy/h2srv and
// presents each stream as an HTTP/1.1 connection that carries one
// request, so that the gateway's one exchange (package proxy: router,
// auth, limits, plugins, breakers, retries, metrics, access log) serves
// HTTP/2 clients without a second copy of itself.
//
// A connection passes through it like this:
//
//  1. Server.ServeConn (server.go) runs the connection's driver (driver.go)
//     on the caller's goroutine: it waits for the client's bytes, reads
//     them into a pooled buffer only once they are there (reader.go: an
//     idle cleartext connection holds no buffer), and feeds them to the
//     h2srv.Conn holding the connection's mutex. Every call into h2srv —
//     the driver's and the streams' — is made holding it; h2srv's Handler
//     calls (a request, body bytes, trailers, a reset, room to write)
//     come from within Feed and never block.
//  2. What h2srv has to send is copied to the connection's writer
//     (writer.go), whose one flushing goroutine writes it in batches; the
//     driver stops feeding, and streams stop writing, while 256 KiB wait
//     (h2srv.Config.MaxOutput).
//  3. A request opens a stream: its Conn (conn.go) renders the head as
//     HTTP/1.1 at once (request.go: request line, Host from :authority,
//     the fields, and framing of its own: Content-Length when declared,
//     chunked when a body follows without one, none when the request
//     ended with its head) and a runner goroutine — an idle one kept from
//     an earlier stream, its stack already grown, or a new one — serves
//     it with Config.Serve (the exchange). With Config.Inline, a stream
//     whose request is whole with its head or has a declared length is
//     offered, once the feed that opened it is done (its body bytes of
//     that feed at hand), to be served elsewhere without waiting: its Conn
//     is then non-blocking (held.go) and ends with Finish.
//  4. Read: the head, then the body from the Conn's buffer, which
//     Handler.Data fills (bounded by the stream's receive window) and
//     which gives the client its window back as the exchange reads; a
//     chunked body ends with the request's trailers as its trailer
//     section; then io.EOF.
//  5. Write: the exchange's HTTP/1.1 answer, parsed as it is written
//     (response.go, proxy/http1): a 1xx head becomes an informational
//     HEADERS, the head the stream's HEADERS (hop-by-hop fields dropped),
//     the body DATA frames (waiting, until the write deadline, while the
//     client's windows are spent), a chunked body's trailer section the
//     stream's trailers; END_STREAM goes with the answer's end, and an
//     answer without a body is one HEADERS frame that ends the stream, as
//     gRPC's trailers-only answers must be.
//  6. Close, once the exchange is done: an answer cut short resets the
//     stream (INTERNAL_ERROR); a whole answer sent before the request
//     ended resets the rest of the request (NO_ERROR).
//
// Deadlines the exchange sets are the stream's (deadline.go: one lazy
// timer per stream wakes a waiting Read or Write). A stream the client
// resets, or whose connection ends, fails its pending and later reads
// and writes. h2srv reuses a closed *h2srv.Stream for a later stream, so
// a Conn drops its stream, under the mutex, as soon as h2srv closed it.
//
// The connection's read deadline is the driver's: read_header_timeout
// while the preface or a header block is owed, idle_timeout (then a
// GOAWAY) while no stream is open. Server.GoAway (shutdown) sends every
// live connection a GOAWAY; each closes when its streams are done.
package h2stream
