package auth

import (
	"bytes"
	"crypto/x509"
)

// Credentials are the raw header values a request carried; nil when
// absent. The slices are only read during Authenticate and never kept.
type Credentials struct {
	// Authorization is the Authorization header's value.
	Authorization []byte
	// APIKey is the value of the configured API-key header.
	APIKey []byte
	// PeerCert is the client certificate verified in the TLS handshake.
	PeerCert *x509.Certificate
	// Signed is the request as a signature covers it, when it carries
	// Signature-Input; nil otherwise.
	Signed *SignedRequest
	// External is the request as the external authorizer is told of it;
	// nil when the route does not use one.
	External *ExternalRequest
}

// Length limits for presented credentials; longer ones are malformed.
const (
	maxJWTLen    = 16 << 10
	maxOpaqueLen = 4 << 10
)

// bearer returns the token of an "Authorization: Bearer <token>" value
// (scheme case-insensitive, RFC 6750 section 2.1) and whether the scheme
// was Bearer. The token may be empty or malformed; callers judge it.
func bearer(h []byte) ([]byte, bool) {
	h = bytes.TrimSpace(h)
	const scheme = "bearer"
	if len(h) < len(scheme) || !bytes.EqualFold(h[:len(scheme)], []byte(scheme)) {
		return nil, false
	}
	rest := h[len(scheme):]
	if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
		return nil, false // e.g. "Bearerfoo": another scheme
	}
	return bytes.TrimSpace(rest), true
}

// jwtShaped reports whether tok has three dot-separated parts.
func jwtShaped(tok []byte) bool {
	return bytes.Count(tok, []byte{'.'}) == 2
}

// b64token reports whether tok matches RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64token(tok []byte) bool {
	if len(tok) == 0 {
		return false
	}
	i := 0
	for ; i < len(tok); i++ {
		c := tok[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
		if !ok {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(tok); i++ {
		if tok[i] != '=' {
			return false
		}
	}
	return true
}

// headerSafe reports whether s can be sent as a header value (the client
// id goes upstream as X-Client-Id): non-empty, at most 256 bytes, and no
// control characters, so a claim can never inject a header.
func headerSafe(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
