package httpsig

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/dunglas/httpsfv"
)

// Digest errors.
var (
	ErrDigestMissing  = errors.New("no sha-256 or sha-512 in Content-Digest")
	ErrDigestMismatch = errors.New("Content-Digest does not match the body")
)

// CheckDigest checks a Content-Digest field value (RFC 9530) against
// body: every sha-256 and sha-512 member must match, and at least one
// must be present; other algorithms are ignored.
func CheckDigest(field string, body []byte) error {
	d, err := httpsfv.UnmarshalDictionary([]string{field})
	if err != nil {
		return fmt.Errorf("%w: Content-Digest: %v", ErrMalformed, err)
	}
	checked := 0
	for _, alg := range d.Names() {
		var want []byte
		switch alg {
		case "sha-256":
			s := sha256.Sum256(body)
			want = s[:]
		case "sha-512":
			s := sha512.Sum512(body)
			want = s[:]
		default:
			continue
		}
		m, _ := d.Get(alg)
		it, ok := m.(httpsfv.Item)
		got, isBytes := it.Value.([]byte)
		if !ok || !isBytes {
			return fmt.Errorf("%w: Content-Digest %s is not a byte sequence", ErrMalformed, alg)
		}
		if subtle.ConstantTimeCompare(got, want) != 1 {
			return ErrDigestMismatch
		}
		checked++
	}
	if checked == 0 {
		return ErrDigestMissing
	}
	return nil
}

// Digest returns the Content-Digest field value of body with sha-256.
func Digest(body []byte) string {
	s := sha256.Sum256(body)
	d := httpsfv.NewDictionary()
	d.Add("sha-256", httpsfv.NewItem(s[:]))
	v, _ := httpsfv.Marshal(d)
	return v
}
