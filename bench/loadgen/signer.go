package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"tollgate/auth/httpsig"
)

// signOptions are the -sign-* flags.
type signOptions struct {
	keyID, keyFile, alg, components string
}

// signer signs each request as `tollgate sign` does: the configured
// components, created now and a fresh random nonce.
type signer struct {
	keyID      string
	key        *httpsig.Key
	components []httpsig.Component
}

// newSigner returns nil when no signing is asked for.
func newSigner(o signOptions) (*signer, error) {
	if o.keyID == "" && o.keyFile == "" {
		return nil, nil
	}
	if o.keyID == "" || o.keyFile == "" {
		return nil, fmt.Errorf("-sign-keyid and -sign-key go together")
	}
	b, err := os.ReadFile(o.keyFile)
	if err != nil {
		return nil, fmt.Errorf("-sign-key: %w", err)
	}
	s := &signer{keyID: o.keyID}
	if o.alg == httpsig.AlgHMACSHA256 {
		s.key, err = httpsig.NewSecretKey([]byte(strings.TrimSpace(string(b))))
	} else {
		s.key, err = httpsig.ParsePrivateKey(o.alg, b)
	}
	if err != nil {
		return nil, fmt.Errorf("-sign-key %s: %w", o.keyFile, err)
	}
	for _, f := range strings.Fields(o.components) {
		c, err := httpsig.ParseComponent(f)
		if err != nil {
			return nil, fmt.Errorf("-sign-components: %w", err)
		}
		s.components = append(s.components, c)
	}
	return s, nil
}

// fieldList is httpsig.Fields over the -H headers.
type fieldList [][2]string

func (f fieldList) Len() int                      { return len(f) }
func (f fieldList) At(i int) (name, value []byte) { return []byte(f[i][0]), []byte(f[i][1]) }

// sign returns the Signature-Input and Signature values of a request
// without a body.
func (s *signer) sign(method, scheme, host, target string, headers [][2]string) (input, sig string, err error) {
	m := &httpsig.Message{Method: []byte(method), Scheme: scheme, Authority: []byte(host),
		Target: []byte(target), Fields: fieldList(headers)}
	return httpsig.Sign(m, s.key, httpsig.SignOptions{KeyID: s.keyID, Components: s.components, Created: time.Now()})
}
