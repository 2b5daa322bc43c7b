package proxy

import (
	"tollgate/proxy/grpcweb"
	"tollgate/proxy/http1"
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
		dst = http1.AppendField(dst, "Host", rt.conf.HostRewrite)
	} else if !q.Fields.Has("Host") {
		dst = http1.AppendField(dst, "Host", rt.upName)
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
	if cc.web.mode != grpcweb.None {
		dst = cc.web.appendRequestFields(dst, q)
		if cc.web.decodesBody() && q.HasBody() {
			return cc.appendTextFraming(dst)
		}
	}
	return q.AppendFraming(dst)
}

// appendForwardedFields copies the client's fields that go upstream and
// reports whether the client sent X-Forwarded-For.
func (cc *clientConn) appendForwardedFields(dst []byte, rt *routeRT) ([]byte, bool) {
	h := &cc.q.Fields
	connHdr := h.Get("Connection")
	xff := false
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		switch {
		case http1.IsHopByHop(name, connHdr), http1.EqualFold(name, "Content-Length"), http1.EqualFold(name, "Expect"),
			http1.EqualFold(name, "X-Forwarded-Proto"), http1.EqualFold(name, "X-Forwarded-Host"):
			continue
		case http1.EqualFold(name, "X-Forwarded-For"):
			xff = true
			continue
		case rt.conf.HostRewrite != "" && http1.EqualFold(name, "Host"):
			continue
		case cc.web.mode != grpcweb.None && http1.EqualFold(name, "Content-Type"):
			continue // appendRequestFields writes gRPC's
		}
		dst = append(dst, name...)
		dst = append(dst, ": "...)
		dst = append(dst, v...)
		dst = append(dst, "\r\n"...)
	}
	return dst, xff
}

func (cc *clientConn) appendXFF(dst []byte) []byte {
	h := &cc.q.Fields
	first := true
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		if http1.EqualFold(name, "X-Forwarded-For") {
			if !first {
				dst = append(dst, ", "...)
			}
			dst = append(dst, v...)
			first = false
		}
	}
	return dst
}
