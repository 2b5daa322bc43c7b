package httpsig

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// Component is one covered component identifier: a field name in lower
// case, or a derived component ("@method"…); QueryName is the name
// parameter of "@query-param".
type Component struct {
	Name      string
	QueryName string
}

// item returns c as a structured-field item.
func (c Component) item() httpsfv.Item {
	it := httpsfv.NewItem(c.Name)
	if c.QueryName != "" {
		it.Params.Add("name", c.QueryName)
	}
	return it
}

// String returns c's serialized identifier, as in a signature base.
func (c Component) String() string {
	s, _ := httpsfv.Marshal(c.item())
	return s
}

// Params are a signature's parameters; zero values are absent ones.
type Params struct {
	Created time.Time
	Expires time.Time
	Nonce   string
	Alg     string
	KeyID   string
	Tag     string
}

// Signature is one labelled signature of a request.
type Signature struct {
	Label      string
	Components []Component
	Params     Params
	// Value is the signature's bytes.
	Value []byte
	// input is the serialized inner list, the "@signature-params" value.
	input string
}

// Errors from parsing signature fields.
var (
	ErrNoSignature = errors.New("no Signature-Input and Signature")
	ErrMalformed   = errors.New("malformed signature fields")
)

// Parse reads the Signature-Input and Signature field values (each the
// combined value of its fields) into signatures, in Signature-Input's
// order. A label without its Signature, a component with parameters other
// than name on @query-param, or parameters of the wrong type are errors.
func Parse(input, signature string) ([]Signature, error) {
	if input == "" || signature == "" {
		return nil, ErrNoSignature
	}
	in, err := httpsfv.UnmarshalDictionary([]string{input})
	if err != nil {
		return nil, fmt.Errorf("%w: Signature-Input: %v", ErrMalformed, err)
	}
	sigs, err := httpsfv.UnmarshalDictionary([]string{signature})
	if err != nil {
		return nil, fmt.Errorf("%w: Signature: %v", ErrMalformed, err)
	}
	var out []Signature
	for _, label := range in.Names() {
		m, _ := in.Get(label)
		il, ok := m.(httpsfv.InnerList)
		if !ok {
			return nil, fmt.Errorf("%w: Signature-Input %s is not an inner list", ErrMalformed, label)
		}
		s, err := parseOne(label, il, sigs)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// parseOne reads one label.
func parseOne(label string, il httpsfv.InnerList, sigs *httpsfv.Dictionary) (Signature, error) {
	s := Signature{Label: label}
	sm, ok := sigs.Get(label)
	if !ok {
		return s, fmt.Errorf("%w: no Signature for label %s", ErrMalformed, label)
	}
	item, ok := sm.(httpsfv.Item)
	if !ok {
		return s, fmt.Errorf("%w: Signature %s is not a byte sequence", ErrMalformed, label)
	}
	if s.Value, ok = item.Value.([]byte); !ok {
		return s, fmt.Errorf("%w: Signature %s is not a byte sequence", ErrMalformed, label)
	}
	seen := map[string]bool{}
	for _, it := range il.Items {
		c, err := component(it)
		if err != nil {
			return s, err
		}
		if id := c.String(); seen[id] {
			return s, fmt.Errorf("%w: component %s covered twice", ErrMalformed, id)
		} else {
			seen[id] = true
		}
		s.Components = append(s.Components, c)
	}
	var err error
	if s.Params, err = params(il.Params); err != nil {
		return s, err
	}
	if s.input, err = httpsfv.Marshal(il); err != nil {
		return s, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return s, nil
}

// component reads one covered component identifier.
func component(it httpsfv.Item) (Component, error) {
	name, ok := it.Value.(string)
	if !ok || name == "" || name != strings.ToLower(name) {
		return Component{}, fmt.Errorf("%w: component identifiers are lower-case strings", ErrMalformed)
	}
	c := Component{Name: name}
	for _, k := range it.Params.Names() {
		v, _ := it.Params.Get(k)
		qn, isStr := v.(string)
		if k != "name" || name != "@query-param" || !isStr {
			return c, fmt.Errorf("%w: component parameter %q on %s", ErrUnsupportedComponent, k, name)
		}
		c.QueryName = qn
	}
	if name == "@query-param" && c.QueryName == "" {
		return c, fmt.Errorf("%w: @query-param without name", ErrMalformed)
	}
	return c, nil
}

// params reads the signature parameters.
func params(p *httpsfv.Params) (Params, error) {
	var out Params
	for _, k := range p.Names() {
		v, _ := p.Get(k)
		var ok bool
		switch k {
		case "created", "expires":
			var n int64
			if n, ok = v.(int64); ok {
				t := time.Unix(n, 0)
				if k == "created" {
					out.Created = t
				} else {
					out.Expires = t
				}
			}
		case "nonce":
			out.Nonce, ok = v.(string)
		case "alg":
			out.Alg, ok = v.(string)
		case "keyid":
			out.KeyID, ok = v.(string)
		case "tag":
			out.Tag, ok = v.(string)
		default:
			ok = true // unknown parameters are covered by the signature, nothing more
		}
		if !ok {
			return out, fmt.Errorf("%w: parameter %s has the wrong type", ErrMalformed, k)
		}
	}
	return out, nil
}

// Base returns the signature base of s over m (RFC 9421 section 2.5).
func Base(m *Message, s *Signature) ([]byte, error) {
	var b strings.Builder
	for _, c := range s.Components {
		v, err := m.value(c)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("%w: %s has a line break", ErrMalformed, c.Name)
		}
		b.WriteString(c.String())
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(s.input)
	return []byte(b.String()), nil
}

// Covers reports whether s covers c.
func (s *Signature) Covers(c Component) bool {
	for _, have := range s.Components {
		if have == c {
			return true
		}
	}
	return false
}
