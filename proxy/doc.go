// Package proxy is the gateway: it accepts connections, turns each
// request into an exchange, runs the exchange on an event loop, and keeps
// the long-lived pieces (listeners, the config snapshot, admin endpoints,
// metrics) together across reloads.
//
// One request, top to bottom, and the files that hold each step:
//
//   - gateway.go, portcheck.go, listener.go, rawaccept.go: the Gateway
//     refuses a port another process listens on, binds the listeners
//     (SO_REUSEPORT, one accept loop each) and Engine.Serve
//     accepts. A plain-TCP socket is duplicated out of Go's netpoller
//     (proxy/sock) and given, as a small session (session.go), to one of
//     the event loops; a TLS connection is served by a worker goroutine.
//   - reactor.go: each event loop is a thread blocked in epoll_wait on its
//     own epoll set. It owns its sessions' sockets and the upstream
//     sockets its exchanges wait on, and a timing wheel (wheel.go) that
//     times every wait: idle_timeout for a parked connection,
//     read_header_timeout for a partial head, the route timeout for a
//     body, response_header for an answer, idle_timeout of no progress
//     for a stream.
//   - driver.go: when a client socket is readable the loop attaches a
//     pooled clientConn (engine.go: the connection's buffers, clientio.go:
//     its non-blocking reads and writes) and drives the exchange
//     (exchange.go: one request's state, with one stage field saying how
//     far it got). The head is parsed by proxy/http1 and routed against
//     the snapshot (snapshot.go, loaded once per request, so a reload
//     never changes a request midway).
//   - h2server.go: a connection that speaks HTTP/2 (ALPN "h2", or the
//     cleartext preface the loop sees in its first bytes) goes to a
//     worker, where proxy/h2stream drives it over proxy/h2srv (the
//     sans-I/O HTTP/2 server: framing, HPACK, flow control, the bounds
//     on what a client may cost), reading through a pooled buffer and
//     writing in batches. Each stream is served as a connection of its
//     own carrying one request (h2stream.Conn), through the same
//     exchange: on an event loop, as a session without a socket, when its
//     request is whole (Engine.inlineStream; a body still coming, or an
//     answer past the client's window, goes to a worker as any wait the
//     loop does not do), else on a runner goroutine kept for later
//     streams.
//   - bodybuffer.go: a small Content-Length body is read whole before
//     anything else happens; upload.go: a chunked body streams upstream
//     as it arrives, once the request is sent.
//   - serve.go, plugins.Chain.Decide: the route's filters decide (auth,
//     limits, plugins). A filter that must wait on the network, a dial, or
//     a wait for a pooled connection suspends the exchange
//     (suspension.go): the wait runs on a goroutine that posts the
//     session back to its loop, which goes on where it stopped.
//   - forward.go, retry.go, request_head.go, request_body.go: the target
//     is picked (retry.go: never one whose breaker refused), the request
//     head is rendered (hop-by-hop fields dropped, X-Forwarded-* added)
//     and sent on a pooled upstream connection, and the loop waits for the
//     answer in its epoll set. A failed try is judged once (forward.go:
//     relay, retry, give up) whether the loop or a worker runs it, and
//     reported once (tryfailure.go: breaker, log line, metric, access log).
//   - stream.go, relay.go: the response head is written back and the body
//     relayed as it comes, with the client's pace holding back the
//     upstream's; reply.go and errors.go: or the gateway answers itself,
//     every status it produces coming from one failure table.
//   - grpcweb.go (codecs in proxy/grpcweb): a gRPC-Web call to an HTTP/2
//     upstream is translated on the way — gRPC's content-type and a
//     decoded text body up, the gRPC-Web content-type, an encoded text
//     body and the trailers as the body's last frame down — by hooks in
//     request_head.go, request_body.go and relay.go.
//   - serve.go (finish), metrics.go: the access log line and the metrics;
//     the connection parks in its loop until the next request.
//   - trace.go: with a tracing block, the request's spans (proxy/tracing):
//     sampled or not once, when its head is parsed; a span per try (its id
//     the parent in the traceparent sent upstream) and per filter wait;
//     ended with the decision and status before the access log line.
//
// Shutting down (drain.go): a draining engine answers every request with
// Connection: close and gives keep-alive connections up to a second to
// send their next request before it closes them. A binary upgrade
// (sockets.go) hands the listening sockets to a new process, which adopts
// them instead of binding (Options.Inherited); the old gateway then drains
// the same way (Gateway.HandOver).
//
// Workers (engine.go) take over an exchange at its stage only for what is
// better done blocking: TLS connections (client certificates are checked
// in their handshake, servertls.go), tries on TLS upstream connections
// and HTTP/2 bridges (they have no raw socket: sendInline hands them
// over; a stream the upstream refused unprocessed is failRefused,
// retried like a connect failure), bodies large
// enough to splice, WebSocket tunnels, heads larger than the read buffer,
// interim responses. On routes whose filters read the body (signatures),
// a worker reads a small body whole before the filters, as the loop does. admin.go serves /healthz, /readyz, /metrics, /config and
// /reload, the quota usage API (quotausage.go: /clients, read without
// consuming, and resets, behind admintoken.go's bearer token when one is
// configured) and the live dashboard (package proxy/dashboard, fed by
// overview.go).
package proxy
