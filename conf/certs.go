package conf

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"tollgate/auth/httpsig"
)

// ParseCAFile reads PEM certificates (a CA bundle) from file. It fails
// when the file holds no certificate or a block that does not parse.
func ParseCAFile(file string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read file: %w", err)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// ParseCRLFile reads a certificate revocation list, PEM ("X509 CRL") or
// DER.
func ParseCRLFile(file string) (*x509.RevocationList, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("cannot read file: %w", err)
	}
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "X509 CRL" {
			return nil, fmt.Errorf("PEM block %q is not an X509 CRL", b.Type)
		}
		data = b.Bytes
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("invalid CRL: %w", err)
	}
	return crl, nil
}

// LoadSignatureKey reads the key file of k: a secret (whitespace-trimmed)
// for hmac-sha256, a PEM public key otherwise.
func LoadSignatureKey(k SignatureKey) (*httpsig.Key, error) {
	if k.Alg == httpsig.AlgHMACSHA256 {
		b, err := os.ReadFile(k.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read secret: %w", err)
		}
		return httpsig.NewSecretKey(bytes.TrimSpace(b))
	}
	b, err := os.ReadFile(k.PublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read file: %w", err)
	}
	key, err := httpsig.ParsePublicKey(k.Alg, b)
	if err != nil {
		return nil, fmt.Errorf("invalid %s public key: %w", k.Alg, err)
	}
	return key, nil
}
