package http1

// hopHeaders are removed in both directions (RFC 9110 section 7.6.1, and
// Go's httputil list); fields named in Connection are removed as well.
var hopHeaders = [...]string{
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authorization",
}

// IsHopByHop reports whether the field name must not be forwarded: it is
// in the fixed hop-by-hop list, or named in connHdr, the message's
// Connection value.
func IsHopByHop(name, connHdr []byte) bool {
	for _, h := range hopHeaders {
		if EqualFold(name, h) {
			return true
		}
	}
	for v := connHdr; len(v) > 0; {
		var tok []byte
		tok, v = nextToken(v)
		if equalFoldBytes(tok, name) {
			return true
		}
	}
	return false
}
