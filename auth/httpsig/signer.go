package httpsig

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// SignOptions say what Sign covers. Zero Created means now; an empty
// Nonce gets a random one unless NoNonce.
type SignOptions struct {
	Label      string
	KeyID      string
	Components []Component
	Created    time.Time
	Expires    time.Time
	Nonce      string
	NoNonce    bool
	Tag        string
}

// Sign signs m with k and returns the Signature-Input and Signature field
// values to add to the request. Components that m lacks are errors.
func Sign(m *Message, k *Key, o SignOptions) (input, signature string, err error) {
	if k.signer == nil && k.secret == nil {
		return "", "", fmt.Errorf("a %s key without its private part cannot sign", k.Alg)
	}
	if o.Label == "" {
		o.Label = "sig1"
	}
	if o.Created.IsZero() {
		o.Created = time.Now()
	}
	if o.Nonce == "" && !o.NoNonce {
		var b [16]byte
		rand.Read(b[:])
		o.Nonce = base64.RawURLEncoding.EncodeToString(b[:])
	}
	il := httpsfv.InnerList{Params: httpsfv.NewParams()}
	for _, c := range o.Components {
		il.Items = append(il.Items, c.item())
	}
	il.Params.Add("created", o.Created.Unix())
	if !o.Expires.IsZero() {
		il.Params.Add("expires", o.Expires.Unix())
	}
	if o.Nonce != "" {
		il.Params.Add("nonce", o.Nonce)
	}
	il.Params.Add("keyid", o.KeyID)
	if o.Tag != "" {
		il.Params.Add("tag", o.Tag)
	}
	s := Signature{Label: o.Label, Components: o.Components}
	if s.input, err = httpsfv.Marshal(il); err != nil {
		return "", "", err
	}
	base, err := Base(m, &s)
	if err != nil {
		return "", "", err
	}
	sig, err := k.sign(base)
	if err != nil {
		return "", "", err
	}
	in := httpsfv.NewDictionary()
	in.Add(o.Label, il)
	sd := httpsfv.NewDictionary()
	sd.Add(o.Label, httpsfv.NewItem(sig))
	if input, err = httpsfv.Marshal(in); err != nil {
		return "", "", err
	}
	signature, err = httpsfv.Marshal(sd)
	return input, signature, err
}

// ParseComponent reads a component identifier as written in config or on
// a command line: `@method`, `content-type`, `@query-param;name=Pet`.
func ParseComponent(s string) (Component, error) {
	name, param, hasParam := strings.Cut(s, ";")
	c := Component{Name: name}
	if hasParam {
		k, v, ok := strings.Cut(param, "=")
		if !ok || k != "name" || name != "@query-param" || v == "" {
			return c, fmt.Errorf("invalid component %q", s)
		}
		c.QueryName = strings.Trim(v, `"`)
	}
	if name == "" || name != strings.ToLower(name) || (name == "@query-param" && c.QueryName == "") {
		return c, fmt.Errorf("invalid component %q", s)
	}
	if name[0] == '@' && !derived(name) {
		return c, fmt.Errorf("unsupported component %q", s)
	}
	return c, nil
}

// derived reports the derived components this package computes.
func derived(name string) bool {
	switch name {
	case "@method", "@authority", "@scheme", "@target-uri", "@request-target", "@path", "@query", "@query-param":
		return true
	}
	return false
}
