package proxy

import (
	"bytes"
	"strconv"
	"time"

	"tollgate/proxy/http1"
)

// gRPC answers. When the gateway answers a gRPC call itself (auth refused,
// quota exceeded, no route, breaker open, upstream down, timeout), the
// answer is one a gRPC client library understands: HTTP 200,
// content-type application/grpc, no body, and the status in grpc-status
// and grpc-message fields of the head — a trailers-only answer (over
// HTTP/2 one HEADERS frame that ends the stream). The failure table's
// HTTP status picks the gRPC code; the fields the reply carries
// (Retry-After, the rate-limit fields) go with it as metadata. Metrics and
// the access log keep the HTTP status the answer stands for.

// gRPC status codes the gateway answers with.
const (
	grpcUnknown           = 2
	grpcDeadlineExceeded  = 4
	grpcPermissionDenied  = 7
	grpcResourceExhausted = 8
	grpcUnimplemented     = 12
	grpcInternal          = 13
	grpcUnavailable       = 14
	grpcUnauthenticated   = 16
)

// grpcCode maps the HTTP status of a gateway answer to a gRPC status.
func grpcCode(status int) int {
	switch status {
	case 401:
		return grpcUnauthenticated
	case 403:
		return grpcPermissionDenied
	case 404, 405:
		return grpcUnimplemented
	case 413, 429, 431:
		return grpcResourceExhausted
	case 400, 500:
		return grpcInternal
	case 502, 503:
		return grpcUnavailable
	case 504:
		return grpcDeadlineExceeded
	}
	return grpcUnknown
}

// isGRPC reports a gRPC call (gRPC-Web included): its content-type is
// application/grpc or one of its variants.
func isGRPC(contentType []byte) bool {
	return bytes.HasPrefix(contentType, []byte("application/grpc"))
}

// writeGRPCHead writes the head of a trailers-only gRPC answer for an
// HTTP status and message: the caller adds its fields, framing and the
// blank line.
func (cc *clientConn) writeGRPCHead(status int, msg string) {
	w := cc.w
	http1.WriteStatusLine(w, 200, nil)
	ct := cc.q.Fields.Get("Content-Type")
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	w.WriteString("Content-Type: ")
	w.Write(bytes.TrimSpace(ct))
	w.WriteString("\r\nGrpc-Status: ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(grpcCode(status)), 10))
	w.WriteString("\r\nGrpc-Message: ")
	w.Write(appendPercentEncoded(w.AvailableBuffer(), msg))
	w.WriteString("\r\n")
}

// appendPercentEncoded encodes s as grpc-message wants it: bytes outside
// printable ASCII, and '%', as %XX.
func appendPercentEncoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

const hexUpper = "0123456789ABCDEF"

// callTimeout is the route's timeout, or a gRPC call's grpc-timeout when
// that is shorter: it bounds the tries up to the answer's head as the
// route timeout does (a 504, DEADLINE_EXCEEDED to the caller).
func (cc *clientConn) callTimeout(rt *routeRT) time.Duration {
	d := rt.conf.Timeout
	if v := cc.q.Fields.Get("Grpc-Timeout"); v != nil {
		if g, ok := parseGRPCTimeout(v); ok && g < d {
			return g
		}
	}
	return d
}

// parseGRPCTimeout parses a grpc-timeout value: at most 8 digits and a
// unit (H, M, S, m, u, n).
func parseGRPCTimeout(v []byte) (time.Duration, bool) {
	if len(v) < 2 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v[:len(v)-1]), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	var unit time.Duration
	switch v[len(v)-1] {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, false
	}
	return time.Duration(n) * unit, true
}
