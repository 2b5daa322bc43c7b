package conf

import (
	"strings"

	"tollgate/auth/httpsig"
)

// jwtAlgorithms lists the accepted JWT signing algorithms.
func jwtAlgorithms() []string {
	return []string{
		"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
		"PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
	}
}

// auth checks the configured authentication methods.
func (v validator) auth(a *Auth) {
	if a.JWT != nil {
		v.jwt("auth.jwt", a.JWT)
	}
	if a.Introspection != nil {
		v.introspection("auth.introspection", a.Introspection)
	}
	if a.APIKeys != nil {
		v.apiKeys("auth.api_keys", a.APIKeys)
	}
	if a.MTLS != nil {
		v.mtls("auth.mtls", a.MTLS)
	}
	if a.Signatures != nil {
		v.signatures("auth.signatures", a.Signatures)
	}
	if a.External != nil {
		v.external("auth.external", a.External)
	}
}

// jwt checks the auth.jwt block.
func (v validator) jwt(path string, j *JWT) {
	if len(j.Algorithms) == 0 {
		v.errorf(path+".algorithms", "at least one algorithm is required")
	}
	for i, alg := range j.Algorithms {
		p := indexPath(path+".algorithms", i)
		if strings.EqualFold(alg, "none") {
			v.errorf(p, `algorithm "none" is never accepted`)
			continue
		}
		v.oneOf(p, alg, jwtAlgorithms()...)
	}
	if len(j.Keys) == 0 {
		v.errorf(path+".keys", "at least one key is required")
	}
	for i, k := range j.Keys {
		v.jwtKey(indexPath(path+".keys", i), k)
	}
	v.notNegative(path+".leeway", j.Leeway)
	v.required(path+".client_id_claim", j.ClientIDClaim)
	v.required(path+".scopes_claim", j.ScopesClaim)
}

// jwtKey checks one key source: exactly one of file and jwks_url.
func (v validator) jwtKey(path string, k JWTKey) {
	if v.hasFailed(path+".file", path+".jwks_url") {
		return
	}
	switch {
	case (k.File == "") == (k.JWKSURL == ""):
		v.errorf(path, "exactly one of file or jwks_url is required")
	case k.File != "":
		v.readable(path+".file", k.File)
		if k.Refresh != 0 {
			v.errorf(path+".refresh", "only applies to jwks_url keys")
		}
	default:
		if err := checkHTTPURL(k.JWKSURL); err != nil {
			v.errorf(path+".jwks_url", "%v", err)
		}
		v.positive(path+".refresh", k.Refresh)
	}
}

// introspection checks the auth.introspection block.
func (v validator) introspection(path string, in *Introspection) {
	if v.required(path+".url", in.URL) {
		if err := checkHTTPURL(in.URL); err != nil {
			v.errorf(path+".url", "%v", err)
		}
	}
	v.required(path+".client_id", in.ClientID)
	if (in.ClientSecretFile == "") == (in.ClientSecretEnv == "") &&
		!v.hasFailed(path+".client_secret_file", path+".client_secret_env") {
		v.errorf(path, "exactly one of client_secret_file or client_secret_env is required")
	}
	v.notNegative(path+".cache_ttl", in.CacheTTL)
	v.positive(path+".timeout", in.Timeout)
}

// apiKeys checks the auth.api_keys block.
func (v validator) apiKeys(path string, a *APIKeys) {
	if v.required(path+".header", a.Header) {
		v.headerName(path+".header", a.Header)
	}
	if len(a.Keys) == 0 {
		v.errorf(path+".keys", "at least one key is required")
	}
	seen := map[string]bool{}
	for i, k := range a.Keys {
		p := indexPath(path+".keys", i)
		switch {
		case k.SHA256 == "":
			v.errorf(p+".sha256", "required")
		case !isHex(k.SHA256, 64):
			v.errorf(p+".sha256", "must be 64 hexadecimal digits (the SHA-256 of the key)")
		case seen[k.SHA256]:
			v.errorf(p+".sha256", "duplicate key hash")
		}
		seen[k.SHA256] = true
		v.required(p+".client_id", k.ClientID)
	}
}

// clientTLS checks server.tls's client certificate keys.
func (v validator) clientTLS(t TLS) {
	if t.ClientCA == "" {
		if t.ClientAuth != "" {
			v.errorf("server.tls.client_auth", "needs server.tls.client_ca")
		}
		if t.CRLFile != "" {
			v.errorf("server.tls.crl_file", "needs server.tls.client_ca")
		}
		return
	}
	if !t.Enabled() {
		v.errorf("server.tls.client_ca", "needs cert_file and key_file (client certificates need a TLS listener)")
	}
	v.oneOf("server.tls.client_auth", t.ClientAuth, ClientAuthRequest, ClientAuthRequire)
	v.readable("server.tls.client_ca", t.ClientCA)
	if checkReadable(t.ClientCA) == nil {
		if _, err := ParseCAFile(t.ClientCA); err != nil {
			v.errorf("server.tls.client_ca", "%v", err)
		}
	}
	v.readable("server.tls.crl_file", t.CRLFile)
	if t.CRLFile != "" && checkReadable(t.CRLFile) == nil {
		if _, err := ParseCRLFile(t.CRLFile); err != nil {
			v.errorf("server.tls.crl_file", "%v", err)
		}
	}
}

// mtls checks the auth.mtls block.
func (v validator) mtls(path string, m *MTLS) {
	v.oneOf(path+".client_id_from", m.ClientIDFrom, IDFromSANURI, IDFromSANDNS, IDFromSubjectCN)
}

// signatures checks the auth.signatures block; keys are parsed, so a
// broken key file fails -check.
func (v validator) signatures(path string, s *Signatures) {
	if len(s.Keys) == 0 {
		v.errorf(path+".keys", "at least one key is required")
	}
	seen := map[string]bool{}
	for i, k := range s.Keys {
		p := indexPath(path+".keys", i)
		if v.required(p+".keyid", k.KeyID) && seen[k.KeyID] {
			v.errorf(p+".keyid", "duplicate keyid %q", k.KeyID)
		}
		seen[k.KeyID] = true
		if v.required(p+".client_id", k.ClientID) && !printableName(k.ClientID) {
			v.errorf(p+".client_id", "client id %q must be printable ASCII without quotes or backslashes", k.ClientID)
		}
		if v.oneOf(p+".alg", k.Alg, httpsig.Algorithms()...) {
			v.signatureKey(p, k)
		}
	}
	for i, c := range s.Components {
		if _, err := httpsig.ParseComponent(c); err != nil {
			v.errorf(indexPath(path+".components", i), "%v", err)
		}
	}
	v.positive(path+".max_age", s.MaxAge)
	if s.MaxBodyBytes < 0 || s.MaxBodyBytes > MaxSignedBody {
		v.errorf(path+".max_body_bytes", "must be between 0 and %d, got %d", MaxSignedBody, s.MaxBodyBytes)
	}
	v.atLeast(path+".nonce_cache_size", s.NonceCacheSize, 1)
}

// signatureKey checks one key's file: a secret for hmac-sha256, a public
// key of the right type otherwise.
func (v validator) signatureKey(p string, k SignatureKey) {
	if k.Alg == httpsig.AlgHMACSHA256 {
		if k.PublicKeyFile != "" {
			v.errorf(p+".public_key_file", "hmac-sha256 keys use secret_file")
		}
		if v.required(p+".secret_file", k.SecretFile) && checkReadable(k.SecretFile) == nil {
			if _, err := LoadSignatureKey(k); err != nil {
				v.errorf(p+".secret_file", "%v", err)
			}
		}
		v.readable(p+".secret_file", k.SecretFile)
		return
	}
	if k.SecretFile != "" {
		v.errorf(p+".secret_file", "%s keys use public_key_file", k.Alg)
	}
	if v.required(p+".public_key_file", k.PublicKeyFile) && checkReadable(k.PublicKeyFile) == nil {
		if _, err := LoadSignatureKey(k); err != nil {
			v.errorf(p+".public_key_file", "%v", err)
		}
	}
	v.readable(p+".public_key_file", k.PublicKeyFile)
}

// external checks the auth.external block.
func (v validator) external(path string, e *External) {
	if v.required(path+".url", e.URL) {
		if err := checkHTTPURL(e.URL); err != nil {
			v.errorf(path+".url", "%v", err)
		}
	}
	v.positive(path+".timeout", e.Timeout)
	v.notNegative(path+".cache_ttl", e.CacheTTL)
	v.oneOf(path+".on_failure", e.OnFailure, ExternalDeny, ExternalAllow)
	for i, h := range e.HeadersToSend {
		v.headerName(indexPath(path+".headers_to_send", i), h)
	}
	for i, h := range e.HeadersToCopy {
		v.headerName(indexPath(path+".headers_to_copy", i), h)
	}
}
