package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// minRSABits is the smallest RSA modulus accepted from a file or a JWKS.
const minRSABits = 2048

// family is the kind of key an algorithm verifies with.
type family uint8

const (
	famNone family = iota
	famHMAC
	famRSA
	famEC
	famEdDSA
)

// algFamily returns the key family of a JWS algorithm name.
func algFamily(alg string) family {
	switch alg {
	case "HS256", "HS384", "HS512":
		return famHMAC
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return famRSA
	case "ES256", "ES384", "ES512":
		return famEC
	case "EdDSA":
		return famEdDSA
	}
	return famNone
}

// keyFamily returns the family of a parsed key.
func keyFamily(k any) family {
	switch k.(type) {
	case []byte:
		return famHMAC
	case *rsa.PublicKey:
		return famRSA
	case *ecdsa.PublicKey:
		return famEC
	case ed25519.PublicKey:
		return famEdDSA
	}
	return famNone
}

// curveAlg names the only ES* algorithm a curve serves.
func curveAlg(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// verifyKey is one key tokens may be verified with.
type verifyKey struct {
	kid string // "" for file keys and JWKs without a kid
	alg string // a JWK's "alg": when set, only that algorithm may use the key
	key any    // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// fits reports whether k may verify a token signed with alg. The key's Go
// type must be the algorithm family's (so an RSA public key is never an
// HMAC secret: no key confusion), an EC key's curve must be the
// algorithm's, and a JWK naming its alg serves only that alg.
func (k verifyKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	if ec, ok := k.key.(*ecdsa.PublicKey); ok {
		return curveAlg(ec.Curve) == alg
	}
	f := keyFamily(k.key)
	return f != famNone && f == algFamily(alg)
}

// loadKeyFile reads one configured key file. A file that looks like PEM
// must hold a public key (PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY" or a
// "CERTIFICATE") and is never used as an HMAC secret; any other file is a
// shared secret for HS* (whitespace-trimmed), allowed only when an HS*
// algorithm is configured. The key must serve one of algs.
func loadKeyFile(path string, algs []string) (verifyKey, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return verifyKey{}, nil, fmt.Errorf("jwt key file: %w", err)
	}
	var k verifyKey
	if bytes.Contains(raw, []byte("-----BEGIN")) {
		k.key, err = parsePEMPublicKey(raw)
	} else {
		k.key, err = parseSecret(raw, algs)
	}
	if err != nil {
		return verifyKey{}, nil, fmt.Errorf("jwt key file %s: %w", path, err)
	}
	if !servesAny(k, algs) {
		return verifyKey{}, nil, fmt.Errorf("jwt key file %s: key serves none of the algorithms %v", path, algs)
	}
	return k, raw, nil
}

// servesAny reports whether k fits at least one of algs.
func servesAny(k verifyKey, algs []string) bool {
	for _, a := range algs {
		if k.fits(a) {
			return true
		}
	}
	return false
}

// parseSecret returns a trimmed HMAC secret, refusing it unless an HS*
// algorithm is configured.
func parseSecret(raw []byte, algs []string) ([]byte, error) {
	hs := false
	for _, a := range algs {
		hs = hs || algFamily(a) == famHMAC
	}
	if !hs {
		return nil, errors.New("not a PEM public key, and no HS* algorithm is configured for a shared secret")
	}
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return nil, errors.New("shared secret is empty")
	}
	return s, nil
}

// parsePEMPublicKey decodes the first PEM block of raw as a public key.
func parsePEMPublicKey(raw []byte) (any, error) {
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse PEM %q: %w", block.Type, err)
	}
	return checkPublicKey(key)
}

// checkPublicKey accepts the supported key types with sane parameters.
func checkPublicKey(key any) (any, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits is below %d", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		if curveAlg(k.Curve) == "" {
			return nil, errors.New("EC key on an unsupported curve")
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("unsupported public key type %T", key)
	}
	return key, nil
}
