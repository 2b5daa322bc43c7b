package conf

import (
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// auth decodes the auth block; each method is configured when its block is
// present.
func (d *decoder) auth(n *yaml.Node, path string, a *Auth) {
	d.mapping(n, path, fields{
		"jwt":           func(n *yaml.Node, p string) { a.JWT = d.jwt(n, p) },
		"introspection": func(n *yaml.Node, p string) { a.Introspection = d.introspection(n, p) },
		"api_keys":      func(n *yaml.Node, p string) { a.APIKeys = d.apiKeys(n, p) },
		"signatures":    func(n *yaml.Node, p string) { a.Signatures = d.signatures(n, p) },
		"external":      func(n *yaml.Node, p string) { a.External = d.external(n, p) },
		"mtls": func(n *yaml.Node, p string) {
			a.MTLS = &MTLS{ClientIDFrom: IDFromSANURI}
			d.mapping(n, p, fields{"client_id_from": d.str(&a.MTLS.ClientIDFrom)})
		},
	})
}

// jwt decodes the auth.jwt block.
func (d *decoder) jwt(n *yaml.Node, path string) *JWT {
	j := defaultJWT()
	d.mapping(n, path, fields{
		"issuer":          d.str(&j.Issuer),
		"audiences":       d.strList(&j.Audiences),
		"algorithms":      d.strList(&j.Algorithms),
		"keys":            func(n *yaml.Node, p string) { j.Keys = d.jwtKeys(n, p) },
		"leeway":          d.durationField(&j.Leeway),
		"client_id_claim": d.str(&j.ClientIDClaim),
		"scopes_claim":    d.str(&j.ScopesClaim),
		"plan_claim":      d.str(&j.PlanClaim),
		"tenant_claim":    d.str(&j.TenantClaim),
	})
	return j
}

// jwtKeys decodes auth.jwt.keys. A jwks_url key without refresh gets the
// default refresh interval.
func (d *decoder) jwtKeys(n *yaml.Node, path string) []JWTKey {
	out := []JWTKey{}
	d.seq(n, path, func(item *yaml.Node, _ int, p string) {
		var k JWTKey
		if isNull(item) {
			d.fail(item.Line, p, "expected a mapping, got null")
		}
		present := d.mapping(item, p, fields{
			"file":     d.file(&k.File),
			"jwks_url": d.str(&k.JWKSURL),
			"refresh":  d.durationField(&k.Refresh),
		})
		if present["jwks_url"] && !present["refresh"] {
			k.Refresh = defaultJWKSRefresh
		}
		out = append(out, k)
	})
	return out
}

// introspection decodes the auth.introspection block. The secret itself is
// read later, by loadSecrets.
func (d *decoder) introspection(n *yaml.Node, path string) *Introspection {
	in := defaultIntrospection()
	d.mapping(n, path, fields{
		"url":                d.str(&in.URL),
		"client_id":          d.str(&in.ClientID),
		"client_secret_file": d.file(&in.ClientSecretFile),
		"client_secret_env":  d.str(&in.ClientSecretEnv),
		"cache_ttl":          d.durationField(&in.CacheTTL),
		"timeout":            d.durationField(&in.Timeout),
		"plan_claim":         d.str(&in.PlanClaim),
		"tenant_claim":       d.str(&in.TenantClaim),
	})
	return in
}

// apiKeys decodes the auth.api_keys block; hashes are stored lower-case.
func (d *decoder) apiKeys(n *yaml.Node, path string) *APIKeys {
	a := defaultAPIKeys()
	d.mapping(n, path, fields{
		"header": d.str(&a.Header),
		"keys": func(n *yaml.Node, p string) {
			d.seq(n, p, func(item *yaml.Node, _ int, p string) {
				var k APIKey
				if isNull(item) {
					d.fail(item.Line, p, "expected a mapping, got null")
				}
				d.mapping(item, p, fields{
					"sha256": d.str(&k.SHA256), "client_id": d.str(&k.ClientID),
					"plan": d.str(&k.Plan), "tenant": d.str(&k.Tenant),
				})
				k.SHA256 = strings.ToLower(k.SHA256)
				a.Keys = append(a.Keys, k)
			})
		},
	})
	return a
}

// signatures decodes the auth.signatures block.
func (d *decoder) signatures(n *yaml.Node, path string) *Signatures {
	s := defaultSignatures()
	d.mapping(n, path, fields{
		"components":       d.strList(&s.Components),
		"max_age":          d.durationField(&s.MaxAge),
		"require_nonce":    d.flagField(&s.RequireNonce),
		"max_body_bytes":   d.integer64Field(&s.MaxBodyBytes),
		"nonce_cache_size": d.integerField(&s.NonceCacheSize),
		"keys": func(n *yaml.Node, p string) {
			d.seq(n, p, func(item *yaml.Node, _ int, p string) {
				var k SignatureKey
				if isNull(item) {
					d.fail(item.Line, p, "expected a mapping, got null")
				}
				d.mapping(item, p, fields{
					"keyid":           d.str(&k.KeyID),
					"client_id":       d.str(&k.ClientID),
					"alg":             d.str(&k.Alg),
					"secret_file":     d.file(&k.SecretFile),
					"public_key_file": d.file(&k.PublicKeyFile),
				})
				s.Keys = append(s.Keys, k)
			})
		},
	})
	return s
}

// external decodes the auth.external block.
func (d *decoder) external(n *yaml.Node, path string) *External {
	e := &External{Timeout: time.Second, HeadersToSend: []string{"Authorization", "Cookie"},
		HeadersToCopy: []string{}, CacheTTL: 30 * time.Second, OnFailure: ExternalDeny}
	d.mapping(n, path, fields{
		"url":             d.str(&e.URL),
		"timeout":         d.durationField(&e.Timeout),
		"headers_to_send": d.strList(&e.HeadersToSend),
		"headers_to_copy": d.strList(&e.HeadersToCopy),
		"cache_ttl":       d.durationField(&e.CacheTTL),
		"on_failure":      d.str(&e.OnFailure),
	})
	return e
}
