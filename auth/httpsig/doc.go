// Package httpsig verifies and makes RFC 9421 HTTP Message Signatures on
// requests, and RFC 9530 Content-Digest values. It knows no sockets: a
// request is a Message (method, scheme, authority, request-target and a
// field list); structured fields (Signature-Input, Signature,
// Content-Digest) are parsed and serialized with
// github.com/dunglas/httpsfv.
//
// One request: the signature auth method (package auth) parses the
// request's Signature-Input and Signature (Parse), picks the label whose
// keyid it knows, checks that the covered components include the ones the
// route requires, rebuilds the signature base (Base: one line per covered
// component, then "@signature-params") and verifies it with the key's
// algorithm (Key.Verify: hmac-sha256, ed25519, ecdsa-p256-sha256,
// rsa-pss-sha512); the body, read whole beforehand, is checked against
// Content-Digest (CheckDigest). Sign does the client's side, for the
// `tollgate sign` command and for tests.
package httpsig
