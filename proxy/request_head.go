package proxy

import (
	"strconv"

	"tollgate/router"
)

// appendRequestHead renders the head sent upstream: the rewritten target,
// the client's fields minus hop-by-hop ones, X-Forwarded-*, framing.
func (cc *clientConn) appendRequestHead(dst []byte, rt *routeRT) []byte {
	q := &cc.q
	dst = append(dst, q.Method()...)
	dst = append(dst, ' ')
	dst = router.Rewrite(dst, q.Target(), rt.conf.StripPrefix)
	dst = append(dst, " HTTP/1.1\r\n"...)
	dst, xff := cc.appendForwardedFields(dst, rt)
	if rt.conf.HostRewrite != "" {
		dst = appendField(dst, "Host", rt.conf.HostRewrite)
	} else if !q.h.Has("Host") {
		dst = appendField(dst, "Host", rt.upName)
	}
	dst = append(dst, "X-Forwarded-For: "...)
	if xff {
		dst = cc.appendXFF(dst)
		dst = append(dst, ", "...)
	}
	dst = cc.s.peer.Addr().AppendTo(dst)
	dst = append(dst, "\r\nX-Forwarded-Proto: "...)
	if cc.s.isTLS {
		dst = append(dst, "https\r\n"...)
	} else {
		dst = append(dst, "http\r\n"...)
	}
	if host := q.Host(); host != nil {
		dst = append(dst, "X-Forwarded-Host: "...)
		dst = append(dst, host...)
		dst = append(dst, "\r\n"...)
	}
	return cc.appendFraming(dst)
}

// appendForwardedFields copies the client's fields that go upstream and
// reports whether the client sent X-Forwarded-For.
func (cc *clientConn) appendForwardedFields(dst []byte, rt *routeRT) ([]byte, bool) {
	h := &cc.q.h
	connHdr := h.Get("Connection")
	xff := false
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		switch {
		case isHopByHop(name, connHdr), equalFold(name, "Content-Length"), equalFold(name, "Expect"),
			equalFold(name, "X-Forwarded-Proto"), equalFold(name, "X-Forwarded-Host"):
			continue
		case equalFold(name, "X-Forwarded-For"):
			xff = true
			continue
		case rt.conf.HostRewrite != "" && equalFold(name, "Host"):
			continue
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, v...)
		dst = append(dst, "\r\n"...)
	}
	return dst, xff
}

func (cc *clientConn) appendXFF(dst []byte) []byte {
	h := &cc.q.h
	first := true
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		if equalFold(name, "X-Forwarded-For") {
			if !first {
				dst = append(dst, ", "...)
			}
			dst = append(dst, v...)
			first = false
		}
	}
	return dst
}

func (cc *clientConn) appendFraming(dst []byte) []byte {
	q := &cc.q
	switch {
	case q.chunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case q.contentLen >= 0:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, q.contentLen, 10)
		dst = append(dst, "\r\n"...)
	}
	if q.upgrade {
		dst = append(dst, "Connection: Upgrade\r\nUpgrade: "...)
		dst = append(dst, q.h.Get("Upgrade")...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}
