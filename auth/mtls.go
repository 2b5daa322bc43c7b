package auth

import (
	"crypto/x509"
	"errors"

	"tollgate/conf"
)

// mtlsIdentity turns a client certificate, verified during the TLS
// handshake (CA, validity, CRL: proxy/servertls.go), into a caller. The
// client id comes from where auth.mtls.client_id_from says: the first URI
// SAN (a SPIFFE ID such as spiffe://example.org/ns/prod/sa/billing), the
// first DNS SAN, or the subject's common name.
type mtlsIdentity struct {
	from string
}

// ReasonNoClientID is the failure reason of a certificate that carries no
// value where the client id is taken from.
const ReasonNoClientID = "no_client_id"

// newMTLS returns the mtls method of cfg (client_id_from san_uri when the
// block is absent).
func newMTLS(cfg *conf.MTLS) *mtlsIdentity {
	if cfg == nil {
		return &mtlsIdentity{from: conf.IDFromSANURI}
	}
	return &mtlsIdentity{from: cfg.ClientIDFrom}
}

// check returns the caller a certificate names.
func (m *mtlsIdentity) check(cert *x509.Certificate) (Identity, *Error) {
	id := ""
	switch m.from {
	case conf.IDFromSANURI:
		if len(cert.URIs) > 0 {
			id = cert.URIs[0].String()
		}
	case conf.IDFromSANDNS:
		if len(cert.DNSNames) > 0 {
			id = cert.DNSNames[0]
		}
	case conf.IDFromSubjectCN:
		id = cert.Subject.CommonName
	}
	if !headerSafe(id) {
		return Identity{}, errInvalid(conf.AuthMTLS, ReasonNoClientID,
			errors.New("the certificate has no usable "+m.from))
	}
	return Identity{ClientID: id, Method: conf.AuthMTLS}, nil
}
