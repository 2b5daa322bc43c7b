package proxy

import (
	"strconv"
	"time"

	"tollgate/plugins"
	"tollgate/proxy/http1"
)

// replyFailure answers with the contract's JSON error for f.
func (cc *clientConn) replyFailure(rt *routeRT, f failure, ran int) exchangeResult {
	info := failureInfo[f]
	if rt != nil && f >= failConnect && f <= failConnectTimeout && f != failUnavailable {
		cc.e.observeUpstream(rt, time.Since(cc.start), true)
	}
	if f == failNoFiles {
		cc.e.outOfFilesForDial(rt)
	}
	var hdr [][2]string
	if info.status == 503 || info.status == 429 {
		hdr = retryAfterOne
	}
	if f == failBadRequest || f == failHeadTooLarge || f == failBodyTooLarge {
		cc.q.KeepAlive = false
	}
	return cc.sendReply(rt, ran, info.status, info.code, info.message, hdr, nil)
}

var retryAfterOne = [][2]string{{"Retry-After", "1"}}

// replyRequestID sets the id of a request the gateway answers before its
// route's exchange began (no route, a refused head): the client's
// X-Request-Id when it sent a sane one (CONTRACT.md: "kept or
// generated"), else a new one.
func (cc *clientConn) replyRequestID() {
	if v := cc.q.Fields.Get("X-Request-Id"); validRequestID(v) {
		cc.reqID = append(cc.reqID[:0], v...)
		return
	}
	cc.reqID = cc.e.reqIDs.next(cc.reqID[:0])
}

// outOfFilesForDial counts a request answered 503 because no socket could
// be opened to its upstream (EMFILE/ENFILE) and logs it, at most once a
// second.
func (e *Engine) outOfFilesForDial(rt *routeRT) {
	e.metrics.fdDial.Inc()
	if ok, _ := e.dialLog.Allow(time.Now(), time.Second); !ok {
		return
	}
	route, up := "", ""
	if rt != nil {
		route, up = rt.name, rt.upName
	}
	e.log.Error("out of file descriptors: cannot dial upstreams; answering 503", "route", route, "upstream", up)
}

// writeReply sends a reply produced by a filter.
func (cc *clientConn) writeReply(rt *routeRT, r *plugins.Reply, ran int) exchangeResult {
	return cc.sendReply(rt, ran, r.Status, r.Code, r.Message, r.Header, r.Body)
}

// sendReply writes a gateway-made response. When code is set the body is
// the JSON error of CONTRACT.md section 3. Response hooks of the ran
// filters see the reply's head before it is written.
func (cc *clientConn) sendReply(rt *routeRT, ran, status int, code, msg string, hdr [][2]string, body []byte) exchangeResult {
	x := &cc.x
	if x.RequestID == "" && len(cc.reqID) == 0 {
		cc.replyRequestID()
	}
	h := &cc.reply
	h.Reset()
	grpc := isGRPC(cc.q.Fields.Get("Content-Type"))
	if code != "" && !grpc {
		body = appendJSONError(cc.scratch[:0], code, msg, cc.requestID())
		h.Add("Content-Type", "application/json")
	}
	for _, kv := range hdr {
		h.Add(kv[0], kv[1])
	}
	if rt != nil && ran > 0 {
		x.Response, x.Status = h, status
		rt.chain.RunResponse(x, ran)
	}
	keep := cc.replyKeeps()
	w := cc.w
	if grpc {
		if msg == "" {
			msg = string(body)
		}
		cc.writeGRPCHead(status, msg)
		h.Del("Content-Type")
		body = nil
	} else {
		http1.WriteStatusLine(w, status, nil)
	}
	http1.WriteFields(w, h, nil)
	for _, kv := range x.ResponseHeaders() {
		http1.WriteField(w, kv[0], kv[1])
	}
	w.WriteString("Content-Length: ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(len(body)), 10))
	w.WriteString("\r\n")
	http1.WriteConnection(w, keep, cc.q.Minor)
	w.WriteString("\r\n")
	if !cc.q.IsHead() {
		w.Write(body)
	}
	return exchangeResult{status: status, bytes: int64(len(body)), gateway: true}
}

// replyKeeps tells whether the connection survives a gateway reply.
func (cc *clientConn) replyKeeps() bool {
	q := &cc.q
	if !q.KeepAlive || cc.e.draining.Load() {
		return false
	}
	switch {
	case !cc.bodyMayFollow():
		return true
	case cc.body == bodyStreamed: // how much is left is not known
		return false
	}
	return !q.Expect100 && !q.Chunked && q.ContentLen <= discardLimit
}

// appendJSONError renders {"error":…,"message":…,"request_id":…}.
func appendJSONError(dst []byte, code, msg, id string) []byte {
	dst = append(dst, `{"error":`...)
	dst = appendJSONString(dst, code)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, msg)
	dst = append(dst, `,"request_id":`...)
	dst = appendJSONString(dst, id)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
