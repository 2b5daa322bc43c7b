package httpsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// Algorithm names (RFC 9421 section 6.2.2).
const (
	AlgHMACSHA256   = "hmac-sha256"
	AlgEd25519      = "ed25519"
	AlgECDSAP256    = "ecdsa-p256-sha256"
	AlgRSAPSSSHA512 = "rsa-pss-sha512"
)

// Algorithms lists the supported algorithm names.
func Algorithms() []string {
	return []string{AlgHMACSHA256, AlgEd25519, AlgECDSAP256, AlgRSAPSSSHA512}
}

// ErrBadSignature is a signature that does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// Key verifies (and, with a private key or secret, makes) signatures
// with one algorithm.
type Key struct {
	Alg    string
	secret []byte
	public crypto.PublicKey
	signer crypto.Signer
}

// NewSecretKey returns an hmac-sha256 key. Secrets shorter than 32 bytes
// are refused.
func NewSecretKey(secret []byte) (*Key, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("hmac-sha256 secret has %d bytes, want at least 32", len(secret))
	}
	return &Key{Alg: AlgHMACSHA256, secret: secret}, nil
}

// ParsePublicKey reads a PEM public key (SPKI, or PKCS#1 for RSA) for alg.
func ParsePublicKey(alg string, pemData []byte) (*Key, error) {
	b, _ := pem.Decode(pemData)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	if b.Type == "PRIVATE KEY" || b.Type == "EC PRIVATE KEY" || b.Type == "RSA PRIVATE KEY" {
		return nil, errors.New("a private key: give the public key")
	}
	var pub any
	var err error
	if b.Type == "RSA PUBLIC KEY" {
		pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
	} else {
		pub, err = x509.ParsePKIXPublicKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	k := &Key{Alg: alg, public: pub}
	return k, k.check()
}

// ParsePrivateKey reads a PEM private key (PKCS#8, SEC 1 or PKCS#1) for
// signing with alg; for hmac-sha256 use NewSecretKey.
func ParsePrivateKey(alg string, pemData []byte) (*Key, error) {
	b, _ := pem.Decode(pemData)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	var priv any
	var err error
	switch b.Type {
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		priv, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, errors.New("unsupported private key type")
	}
	k := &Key{Alg: alg, public: s.Public(), signer: s}
	return k, k.check()
}

// check verifies that the key's type fits its algorithm.
func (k *Key) check() error {
	ok := false
	switch k.Alg {
	case AlgEd25519:
		_, ok = k.public.(ed25519.PublicKey)
	case AlgECDSAP256:
		p, isEC := k.public.(*ecdsa.PublicKey)
		ok = isEC && p.Curve.Params().Name == "P-256"
	case AlgRSAPSSSHA512:
		p, isRSA := k.public.(*rsa.PublicKey)
		if isRSA && p.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits, want at least 2048", p.N.BitLen())
		}
		ok = isRSA
	default:
		return fmt.Errorf("unknown algorithm %q", k.Alg)
	}
	if !ok {
		return fmt.Errorf("a %T key does not fit algorithm %s", k.public, k.Alg)
	}
	return nil
}

// pssOptions are RFC 9421 section 3.3.1's: SHA-512, 64-byte salt.
var pssOptions = &rsa.PSSOptions{SaltLength: 64, Hash: crypto.SHA512}

// Verify checks sig over base.
func (k *Key) Verify(base, sig []byte) error {
	ok := false
	switch k.Alg {
	case AlgHMACSHA256:
		ok = hmac.Equal(k.mac(base), sig)
	case AlgEd25519:
		ok = ed25519.Verify(k.public.(ed25519.PublicKey), base, sig)
	case AlgECDSAP256:
		h := sha256.Sum256(base)
		if len(sig) == 64 {
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			ok = ecdsa.Verify(k.public.(*ecdsa.PublicKey), h[:], r, s)
		}
	case AlgRSAPSSSHA512:
		h := sha512.Sum512(base)
		ok = rsa.VerifyPSS(k.public.(*rsa.PublicKey), crypto.SHA512, h[:], sig, pssOptions) == nil
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// mac returns the HMAC-SHA256 of base.
func (k *Key) mac(base []byte) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write(base)
	return m.Sum(nil)
}

// sign signs base.
func (k *Key) sign(base []byte) ([]byte, error) {
	switch k.Alg {
	case AlgHMACSHA256:
		return k.mac(base), nil
	case AlgEd25519:
		return k.signer.Sign(rand.Reader, base, crypto.Hash(0))
	case AlgECDSAP256:
		h := sha256.Sum256(base)
		r, s, err := ecdsa.Sign(rand.Reader, k.signer.(*ecdsa.PrivateKey), h[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	case AlgRSAPSSSHA512:
		h := sha512.Sum512(base)
		return rsa.SignPSS(rand.Reader, k.signer.(*rsa.PrivateKey), crypto.SHA512, h[:], pssOptions)
	}
	return nil, fmt.Errorf("unknown algorithm %q", k.Alg)
}
