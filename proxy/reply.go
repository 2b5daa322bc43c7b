package proxy

import (
	"bufio"
	"net/http"
	"strconv"
	"time"

	"tollgate/plugins"
)

// replyFailure answers with the contract's JSON error for f.
func (cc *clientConn) replyFailure(rt *routeRT, f failure, ran int) exchangeResult {
	info := failureInfo[f]
	if rt != nil && f >= failConnect && f <= failConnectTimeout && f != failUnavailable {
		cc.e.observeUpstream(rt, time.Since(cc.start), true)
	}
	var hdr [][2]string
	if info.status == 503 {
		hdr = retryAfterOne
	}
	if f == failBadRequest || f == failHeadTooLarge || f == failBodyTooLarge {
		cc.q.keepAlive = false
	}
	return cc.sendReply(rt, ran, info.status, info.code, info.message, hdr, nil)
}

var retryAfterOne = [][2]string{{"Retry-After", "1"}}

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
		cc.reqID = cc.e.reqIDs.next(cc.reqID[:0])
	}
	h := &cc.reply
	h.reset()
	if code != "" {
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
	writeStatusLine(w, status, nil)
	writeFields(w, h, nil)
	for _, kv := range x.ResponseHeaders() {
		writeField(w, kv[0], kv[1])
	}
	w.WriteString("Content-Length: ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(len(body)), 10))
	w.WriteString("\r\n")
	writeConnection(w, keep, cc.q.minor)
	w.WriteString("\r\n")
	if !cc.q.isHead() {
		w.Write(body)
	}
	return exchangeResult{status: status, bytes: int64(len(body))}
}

// replyKeeps tells whether the connection survives a gateway reply.
func (cc *clientConn) replyKeeps() bool {
	q := &cc.q
	if !q.keepAlive || cc.e.draining.Load() {
		return false
	}
	return !q.hasBody() || (!q.expect100 && !q.chunked && q.contentLen <= discardLimit)
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

// writeStatusLine writes "HTTP/1.1 <code> <reason>\r\n".
func writeStatusLine(w *bufio.Writer, status int, reason []byte) {
	w.WriteString("HTTP/1.1 ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(status), 10))
	w.WriteByte(' ')
	if len(reason) > 0 {
		w.Write(reason)
	} else {
		w.WriteString(http.StatusText(status))
	}
	w.WriteString("\r\n")
}

func writeField(w *bufio.Writer, name, value string) {
	w.WriteString(name)
	w.WriteString(": ")
	w.WriteString(value)
	w.WriteString("\r\n")
}

// writeFields writes h's fields except hop-by-hop ones and the framing
// headers the engine writes itself. connHdr is the message's Connection
// value, whose tokens name more hop-by-hop fields.
func writeFields(w *bufio.Writer, h *Header, connHdr []byte) {
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		if isHopByHop(name, connHdr) || equalFold(name, "Content-Length") {
			continue
		}
		w.Write(name)
		w.WriteString(": ")
		w.Write(v)
		w.WriteString("\r\n")
	}
}

func writeConnection(w *bufio.Writer, keep bool, minor int) {
	switch {
	case !keep:
		w.WriteString("Connection: close\r\n")
	case minor == 0:
		w.WriteString("Connection: keep-alive\r\n")
	}
}
