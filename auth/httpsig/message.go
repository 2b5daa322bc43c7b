package httpsig

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Fields is a message's field list in order, names as received.
type Fields interface {
	Len() int
	At(i int) (name, value []byte)
}

// Message is a request as a signature covers it.
type Message struct {
	Method []byte
	// Scheme is "http" or "https".
	Scheme string
	// Authority is the Host header's value.
	Authority []byte
	// Target is the request-target as received (origin form: path and
	// query).
	Target []byte
	Fields Fields
	// Status is a response's status code, for "@status"; 0 for requests.
	Status int
}

// Errors a component lookup reports.
var (
	ErrMissingComponent     = errors.New("covered component not in the message")
	ErrUnsupportedComponent = errors.New("unsupported covered component")
)

// path returns the target's path ("/" when empty).
func (m *Message) path() []byte {
	p := m.Target
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if len(p) == 0 {
		return []byte("/")
	}
	return p
}

// query returns the target's query with its "?" ("?" when none).
func (m *Message) query() []byte {
	if i := bytes.IndexByte(m.Target, '?'); i >= 0 {
		return m.Target[i:]
	}
	return []byte("?")
}

// Field returns the combined value of every field named name
// (case-insensitive): each value trimmed, joined with ", ".
func (m *Message) Field(name string) (string, bool) {
	var b strings.Builder
	found := false
	for i := 0; i < m.Fields.Len(); i++ {
		n, v := m.Fields.At(i)
		if !strings.EqualFold(string(n), name) {
			continue
		}
		if found {
			b.WriteString(", ")
		}
		found = true
		b.Write(bytes.TrimSpace(v))
	}
	return b.String(), found
}

// value returns the value a component identifier stands for.
func (m *Message) value(c Component) (string, error) {
	switch c.Name {
	case "@method":
		return string(m.Method), nil
	case "@authority":
		return strings.ToLower(string(m.Authority)), nil
	case "@scheme":
		return m.Scheme, nil
	case "@target-uri":
		return m.Scheme + "://" + strings.ToLower(string(m.Authority)) + string(m.Target), nil
	case "@request-target":
		return string(m.Target), nil
	case "@path":
		return string(m.path()), nil
	case "@query":
		return string(m.query()), nil
	case "@query-param":
		return m.queryParam(c.QueryName)
	case "@status":
		if m.Status != 0 {
			return strconv.Itoa(m.Status), nil
		}
	}
	if strings.HasPrefix(c.Name, "@") {
		return "", fmt.Errorf("%w: %s", ErrUnsupportedComponent, c.Name)
	}
	v, ok := m.Field(c.Name)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrMissingComponent, c.Name)
	}
	return v, nil
}

// queryParam returns the re-encoded value of the query parameter name
// (RFC 9421 section 2.2.8); a parameter absent or repeated is an error.
func (m *Message) queryParam(name string) (string, error) {
	q := m.query()[1:]
	vals, err := url.ParseQuery(string(q))
	if err != nil {
		return "", fmt.Errorf("query: %w", err)
	}
	vs := vals[name]
	if len(vs) != 1 {
		return "", fmt.Errorf("%w: query parameter %q appears %d times", ErrMissingComponent, name, len(vs))
	}
	return url.QueryEscape(vs[0]), nil
}
