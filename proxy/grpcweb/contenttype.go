package grpcweb

import "bytes"

// Mode is how a call's messages travel between the browser and the
// gateway.
type Mode uint8

const (
	// None is not a gRPC-Web call.
	None Mode = iota
	// Binary is application/grpc-web: the messages as gRPC frames them.
	Binary
	// Text is application/grpc-web-text: the same bytes, base64-encoded.
	Text
)

const (
	grpcType    = "application/grpc"
	webType     = "application/grpc-web"
	webTextType = "application/grpc-web-text"
)

// Classify tells a gRPC-Web request by its content-type:
// application/grpc-web or application/grpc-web-text, each maybe followed
// by "+format" and parameters (case-insensitive).
func Classify(contentType []byte) Mode {
	switch {
	case hasType(contentType, webTextType):
		return Text
	case hasType(contentType, webType):
		return Binary
	}
	return None
}

// WantsText reports an Accept field that asks for a text-encoded answer
// (application/grpc-web-text among its values).
func WantsText(accept []byte) bool {
	for len(accept) > 0 {
		var v []byte
		v, accept, _ = bytes.Cut(accept, []byte(","))
		if hasType(bytes.TrimSpace(v), webTextType) {
			return true
		}
	}
	return false
}

// IsGRPCAnswer reports an upstream answer whose content-type is gRPC's
// (application/grpc[+format]), not gRPC-Web's: the one the gateway
// translates.
func IsGRPCAnswer(contentType []byte) bool {
	return hasType(contentType, grpcType)
}

// AppendUpstreamContentType appends the content-type the upstream gets
// for a gRPC-Web request's: application/grpc with the request's
// "+format", parameters dropped.
func AppendUpstreamContentType(dst, contentType []byte) []byte {
	dst = append(dst, grpcType...)
	return append(dst, format(contentType)...)
}

// AppendAnswerContentType appends the content-type of a translated
// answer: application/grpc-web (or -text when text) with the upstream's
// "+format", "+proto" when it named none.
func AppendAnswerContentType(dst, upstream []byte, text bool) []byte {
	if text {
		dst = append(dst, webTextType...)
	} else {
		dst = append(dst, webType...)
	}
	f := format(upstream)
	if len(f) == 0 {
		return append(dst, "+proto"...)
	}
	return append(dst, f...)
}

// hasType reports a media type that is t (case-insensitive), maybe with
// a "+format" suffix or parameters after it.
func hasType(v []byte, t string) bool {
	if len(v) < len(t) || !bytes.EqualFold(v[:len(t)], []byte(t)) {
		return false
	}
	if len(v) == len(t) {
		return true
	}
	switch v[len(t)] {
	case '+', ';', ' ', '\t':
		return true
	}
	return false
}

// format returns the "+format" part of a gRPC or gRPC-Web content-type
// ("" when there is none, or it holds a byte a token does not).
func format(contentType []byte) []byte {
	if j := bytes.IndexAny(contentType, "; \t"); j >= 0 {
		contentType = contentType[:j]
	}
	i := bytes.IndexByte(contentType, '+')
	if i < 0 {
		return nil
	}
	f := contentType[i:]
	for _, c := range f[1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return nil
		}
	}
	if len(f) == 1 {
		return nil
	}
	return f
}
