package httpsig

import (
	"fmt"
	"os"
	"strings"
)

// What a signing client needs besides Sign: the `tollgate sign`
// subcommand and the bench's load generator both read a key file, a
// list of covered components and the request's -H headers the same way.

// Pairs is a request's header fields as name/value pairs: Fields for a
// Message, and a flag.Value collecting repeated -H 'Name: value' flags.
type Pairs [][2]string

// Len returns the number of fields.
func (p Pairs) Len() int { return len(p) }

// At returns the i-th field.
func (p Pairs) At(i int) (name, value []byte) { return []byte(p[i][0]), []byte(p[i][1]) }

// String returns the pairs as flag.Value prints them.
func (p *Pairs) String() string { return fmt.Sprint(*p) }

// Set adds one 'Name: value' field.
func (p *Pairs) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want 'Name: value', got %q", v)
	}
	*p = append(*p, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
	return nil
}

// LoadSigningKey reads the key alg signs with from file: the shared
// secret (hmac-sha256, surrounding white space dropped) or the PEM
// private key.
func LoadSigningKey(alg, file string) (*Key, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if alg == AlgHMACSHA256 {
		return NewSecretKey([]byte(strings.TrimSpace(string(b))))
	}
	return ParsePrivateKey(alg, b)
}

// ParseComponents parses space-separated covered components
// ("@method @authority content-type").
func ParseComponents(s string) ([]Component, error) {
	var comps []Component
	for _, f := range strings.Fields(s) {
		c, err := ParseComponent(f)
		if err != nil {
			return nil, err
		}
		comps = append(comps, c)
	}
	return comps, nil
}
