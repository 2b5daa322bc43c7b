package proxy

import (
	"context"
	"errors"
	"io"
	"time"

	"tollgate/proxy/http1"
)

// exchangeResult is what the access log and metrics need of one request.
type exchangeResult struct {
	status  int
	bytes   int64 // sent to the client: the body, or a tunnel's bytes from the upstream
	bytesUp int64 // a tunnel's bytes from the client to the upstream
	target  string
	gateway bool // the gateway made the answer (sendReply): the body may be unread
}

// serveOne reads, routes and answers one request. It returns whether the
// connection may serve another.
func (cc *clientConn) serveOne(snap *Snapshot) bool {
	rt, f := cc.readRequest(snap)
	return cc.serveParsed(snap, rt, f)
}

// readRequest reads and parses one request head and routes it. A failure
// says how serveParsed must answer: failClientGone closes silently.
func (cc *clientConn) readRequest(snap *Snapshot) (*routeRT, failure) {
	q := &cc.q
	cc.snap = snap // the request keeps this snapshot to its end
	cc.body, cc.sent100 = bodyUnsent, false
	cc.releaseGathered()
	cc.releaseBodies()
	cc.x.Reset()
	cc.reqID = cc.reqID[:0]
	cc.fs = forwardState{} // the access log reports this request's tries only
	if err := q.ReadHead(cc.r, snap.Conf.Server.MaxHeaderBytes); err != nil {
		if errors.Is(err, http1.ErrHeadTooLarge) || (q.HeadLen() > 0 && !isTimeout(err) && !errors.Is(err, io.EOF)) {
			return nil, classifyHead(err)
		}
		return nil, failClientGone
	}
	if err := q.Parse(); err != nil {
		cc.e.log.Debug("refused request", "err", err, "peer", cc.s.peer.String())
		if !cc.s.spoke && cc.s.proto == protoH1 && !q.SpeaksHTTP() {
			return nil, failNotHTTP
		}
		return nil, failBadRequest
	}
	cc.s.spoke = true
	cc.traceBegin(snap)
	if max := snap.Conf.Server.MaxBodyBytes; max > 0 && q.ContentLen > max {
		return nil, failBodyTooLarge
	}
	idx := snap.table.Match(q)
	if idx < 0 {
		return nil, failNoRoute
	}
	return snap.routes[idx], failNone
}

// serveParsed answers a request readRequest returned.
func (cc *clientConn) serveParsed(snap *Snapshot, rt *routeRT, f failure) bool {
	switch f {
	case failNone:
		return cc.serveRoute(snap, rt)
	case failClientGone:
		return false
	case failNotHTTP:
		cc.q.KeepAlive = false
		cc.replyRequestID() // for the access log line
		cc.finish(snap, nil, exchangeResult{status: failureInfo[f].status})
		return false
	case failNoRoute:
		res := cc.replyFailure(nil, failNoRoute, 0)
		cc.finish(snap, nil, res)
		return cc.keepAfterReply()
	}
	cc.refuse(snap, f)
	return false
}

// refuse answers a request the engine cannot trust and closes, lingering
// when the client may still be sending a body.
func (cc *clientConn) refuse(snap *Snapshot, f failure) {
	cc.q.KeepAlive = false
	cc.s.linger = cc.bodyMayFollow()
	res := cc.replyFailure(nil, f, 0)
	cc.finish(snap, nil, res)
}

// serveRoute runs the route's filter chain and forwards the request,
// waiting where a filter must (a worker goroutine).
func (cc *clientConn) serveRoute(snap *Snapshot, rt *routeRT) bool {
	if rt.readsBody && cc.body == bodyUnsent && cc.gatherable() {
		if err := cc.gatherOnWorker(rt); err != nil {
			return cc.endRoute(snap, rt, cc.clientGone(), false)
		}
	}
	cc.startExchange(snap, rt)
	return cc.continueRoute(snap, rt, 0)
}

// continueRoute runs the chain from filter from on, waiting where a
// filter must, then answers: the reply that stopped the chain, or the
// upstream's.
func (cc *clientConn) continueRoute(snap *Snapshot, rt *routeRT, from int) bool {
	reply, ran := cc.runChain(rt, from)
	if reply != nil {
		return cc.endRoute(snap, rt, cc.writeReply(rt, reply, ran), true)
	}
	return cc.endRoute(snap, rt, cc.forward(snap, rt), false)
}

// chainAnswered finishes, on a worker, a request whose waiting filter
// answered while its loop was stopping.
func (cc *clientConn) chainAnswered(snap *Snapshot, rt *routeRT) bool {
	reply := cc.waitReply
	cc.waitReply = nil
	if reply != nil {
		return cc.endRoute(snap, rt, cc.writeReply(rt, reply, cc.waitAt), true)
	}
	return cc.continueRoute(snap, rt, cc.waitAt+1)
}

// startExchange prepares the exchange the route's filters see.
func (cc *clientConn) startExchange(snap *Snapshot, rt *routeRT) {
	q, x := &cc.q, &cc.x
	q.Fields.Del("X-Client-Id")
	cc.ensureRequestID()
	x.Ctx = context.Background()
	x.Route, x.Upstream = rt.name, rt.upName
	x.Method, x.Host, x.Path = q.Method(), q.Host(), q.Target()
	x.Peer = cc.s.peer
	x.ClientIP = snap.clientIP(cc.s.peer.Addr(), &q.Fields)
	if cc.s.isTLS {
		x.PeerCert, x.TLS = peerCert(cc.c), true
	}
	x.HasBody, x.Body = q.HasBody(), cc.wholeBody()
	x.Request = &q.Fields
}

// endRoute ends the exchange, records it and says whether the connection
// may serve another request. replied: a filter answered (for the trace);
// any answer the gateway made itself (res.gateway) may leave the body
// unread, which keepAfterReply sees to.
func (cc *clientConn) endRoute(snap *Snapshot, rt *routeRT, res exchangeResult, replied bool) bool {
	cc.stopDuplex()
	cc.x.End()
	cc.traceEnd(rt, res, replied)
	cc.finish(snap, rt, res)
	if res.gateway {
		return cc.keepAfterReply()
	}
	return res.status != 0 && cc.q.KeepAlive
}

// keepAfterReply decides whether a connection can go on after the gateway
// answered, perhaps without reading the body: a small unread body is
// discarded; a connection that closes with body bytes still to come
// lingers (lingerClose), so the client reads the answer instead of a reset.
// It follows replyKeeps, which already told the client.
func (cc *clientConn) keepAfterReply() bool {
	q := &cc.q
	if !cc.replyKeeps() {
		cc.s.linger = cc.bodyMayFollow()
		return false
	}
	if !cc.bodyMayFollow() {
		return true
	}
	if cc.cio.nonblock { // on the loop the whole body is buffered
		_, err := cc.r.Discard(int(q.ContentLen))
		return err == nil
	}
	if cc.w.Flush() != nil { // the answer leaves first: a client may hold its body back for it
		return false
	}
	cc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := cc.r.Discard(int(q.ContentLen))
	cc.c.SetReadDeadline(time.Time{})
	return err == nil
}

// bodyMayFollow reports that the request has a body not (or not surely)
// read whole from the client: none of it was read, or it was streamed and
// the stream may have stopped part way.
func (cc *clientConn) bodyMayFollow() bool {
	return cc.q.HasBody() && cc.body != bodyGathered && cc.body != bodyInHead
}

// ensureRequestID keeps a sane client X-Request-Id or generates one.
func (cc *clientConn) ensureRequestID() {
	q := &cc.q
	if v := q.Fields.Get("X-Request-Id"); validRequestID(v) {
		cc.reqID = append(cc.reqID[:0], v...)
		return
	}
	cc.reqID = cc.e.reqIDs.next(cc.reqID[:0])
	q.Fields.SetBytes("X-Request-Id", cc.reqID)
}

// requestID returns the id of the current request: the one a request_id
// plugin chose, else the engine's (kept or generated) X-Request-Id.
func (cc *clientConn) requestID() string {
	if cc.x.RequestID != "" {
		return cc.x.RequestID
	}
	return string(cc.reqID)
}

// protocolName is the request's protocol as the access log names it.
func (cc *clientConn) protocolName() string {
	switch {
	case cc.s.proto == protoH2:
		return "HTTP/2"
	case cc.q.Minor == 0:
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// finish records metrics and the access log line for one exchange.
func (cc *clientConn) finish(snap *Snapshot, rt *routeRT, res exchangeResult) {
	cc.releaseShare()
	d := time.Since(cc.start)
	name := "no_route"
	if rt != nil {
		name = rt.name
	}
	cc.e.metrics.observeRequest(rt, cc.s.proto, res.status, d)
	cc.traceEnd(rt, res, false) // answered before routing: endRoute did not end it
	if snap.Conf.Server.AccessLog {
		target, tries, cause := cc.accessTarget(res)
		cc.e.log.Info("access",
			"route", name, "method", string(cc.q.Method()), "path", string(cc.q.Path()),
			"status", res.status, "duration_ms", float64(d.Microseconds())/1000,
			"bytes", res.bytes, "bytes_up", res.bytesUp, "upstream_target", target, "tries", tries,
			"upstream_error", cause, "client_id", cc.x.ClientID,
			"request_id", cc.requestID(), "peer", cc.s.peer.String(), "protocol", cc.protocolName(), cc.trace.LogAttr())
	}
	cc.trace.Finish()
}
