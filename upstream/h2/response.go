package h2

import (
	"net/http"
	"strconv"
	"strings"
)

// A response passes to the exchange as HTTP/1.1, rendered from the
// decoded header fields as they come (headers.go) and from the stream's
// buffered DATA as the exchange reads (stream.go):
//
//   - the status line, then the fields minus pseudo-headers, hop-by-hop
//     ones and content-length, names in canonical case, in the server's
//     order;
//   - Content-Length when the upstream gave one and announced no
//     trailers, else Transfer-Encoding: chunked, each read of DATA a
//     chunk as it arrives and the HTTP/2 trailers (grpc-status,
//     grpc-message, metadata) as trailer lines after the last chunk;
//   - no body for HEAD, 1xx, 204 and 304 and a body known empty (a
//     stream that ends with its HEADERS, gRPC's trailers-only answer,
//     is a head with Content-Length: 0).

// framing is how a rendered response delimits its body.
type framing uint8

const (
	framingNone    framing = iota // no body: HEAD, 1xx, 204, 304; or Content-Length: 0
	framingLength                 // Content-Length: the upstream's, no trailers declared
	framingChunked                // chunks as DATA arrives, trailers after the last
)

// maxEmptyBody is how much a response that should have no body may carry
// before the stream counts as broken.
const maxEmptyBody = 64 << 10

// chooseFraming decides a response's framing: none for bodyless answers,
// Content-Length when the upstream gave one (clen, -1 for none) and
// announced no trailers, else chunked.
func chooseFraming(status int, isHead bool, clen int64, announced bool) framing {
	switch {
	case isHead || status == 204 || status == 304 || status < 200:
		return framingNone
	case clen == 0 && !announced:
		return framingNone // the body is known empty (a trailers-only answer too): Content-Length: 0
	case clen > 0 && !announced:
		return framingLength
	}
	return framingChunked
}

// appendFraming ends a rendered head with its framing field and the blank
// line.
func appendFraming(dst []byte, status int, mode framing, clen int64) []byte {
	switch {
	case mode == framingChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case mode == framingLength || (clen >= 0 && status != 204 && status >= 200):
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, max(clen, 0), 10)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// appendStatusLine renders "HTTP/1.1 code reason".
func appendStatusLine(dst []byte, code int) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if reason := http.StatusText(code); reason != "" {
		dst = append(dst, reason...)
	} else {
		dst = append(dst, "Status"...)
	}
	return append(dst, "\r\n"...)
}

// appendField renders one field line, its name in canonical case
// ("grpc-status" as "Grpc-Status"), as net/http would have it.
func appendField(dst []byte, k, v string) []byte {
	upper := true
	for i := 0; i < len(k); i++ {
		ch := k[i]
		switch {
		case upper && 'a' <= ch && ch <= 'z':
			ch -= 'a' - 'A'
		case !upper && 'A' <= ch && ch <= 'Z':
			ch += 'a' - 'A'
		}
		dst = append(dst, ch)
		upper = ch == '-'
	}
	dst = append(dst, ": "...)
	dst = append(dst, v...)
	return append(dst, "\r\n"...)
}

// lowerName is name in lower case, allocating only when it has capitals
// (HTTP/2 field names have none).
func lowerName(name string) string {
	for i := 0; i < len(name); i++ {
		if 'A' <= name[i] && name[i] <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}
