package proxy

// hopHeaders are removed in both directions (RFC 9110 section 7.6.1, and
// Go's httputil list); fields named in Connection are removed as well.
var hopHeaders = [...]string{
	"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	"Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authorization",
}

// isHopByHop reports whether name must not be forwarded.
func isHopByHop(name, connHdr []byte) bool {
	for _, h := range hopHeaders {
		if equalFold(name, h) {
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
