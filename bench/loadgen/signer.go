package main

import (
	"fmt"
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
	s := &signer{keyID: o.keyID}
	var err error
	if s.key, err = httpsig.LoadSigningKey(o.alg, o.keyFile); err != nil {
		return nil, fmt.Errorf("-sign-key %s: %w", o.keyFile, err)
	}
	if s.components, err = httpsig.ParseComponents(o.components); err != nil {
		return nil, fmt.Errorf("-sign-components: %w", err)
	}
	return s, nil
}

// sign returns the Signature-Input and Signature values of a request
// without a body.
func (s *signer) sign(method, scheme, host, target string, headers [][2]string) (input, sig string, err error) {
	m := &httpsig.Message{Method: []byte(method), Scheme: scheme, Authority: []byte(host),
		Target: []byte(target), Fields: httpsig.Pairs(headers)}
	return httpsig.Sign(m, s.key, httpsig.SignOptions{KeyID: s.keyID, Components: s.components, Created: time.Now()})
}
