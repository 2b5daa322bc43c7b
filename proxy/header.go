package proxy

// Header is a parsed message head's field list. Field names and values are
// offsets into buf, which holds the raw head bytes as read plus any bytes
// appended by edits, so editing never invalidates other fields. A Header is
// reused across requests; nothing in it is valid after reset.
type Header struct {
	buf    []byte
	fields []field
}

type field struct {
	ns, ne, vs, ve int32
}

func (h *Header) reset() {
	h.buf = h.buf[:0]
	h.fields = h.fields[:0]
}

// Len returns the number of fields.
func (h *Header) Len() int { return len(h.fields) }

// At returns the name and value of field i.
func (h *Header) At(i int) (name, value []byte) {
	f := h.fields[i]
	return h.buf[f.ns:f.ne], h.buf[f.vs:f.ve]
}

// Get returns the first value of name (case-insensitive), or nil.
func (h *Header) Get(name string) []byte {
	for _, f := range h.fields {
		if equalFold(h.buf[f.ns:f.ne], name) {
			return h.buf[f.vs:f.ve]
		}
	}
	return nil
}

// Has reports whether a field called name exists.
func (h *Header) Has(name string) bool {
	for _, f := range h.fields {
		if equalFold(h.buf[f.ns:f.ne], name) {
			return true
		}
	}
	return false
}

// Count returns how many fields are called name.
func (h *Header) Count(name string) int {
	n := 0
	for _, f := range h.fields {
		if equalFold(h.buf[f.ns:f.ne], name) {
			n++
		}
	}
	return n
}

// Set replaces every value of name with value.
func (h *Header) Set(name, value string) {
	h.Del(name)
	h.Add(name, value)
}

// SetBytes is Set with a byte-slice value.
func (h *Header) SetBytes(name string, value []byte) {
	h.Del(name)
	h.AddBytes(name, value)
}

// Add appends a field.
func (h *Header) Add(name, value string) {
	ns := len(h.buf)
	h.buf = append(h.buf, name...)
	vs := len(h.buf)
	h.buf = append(h.buf, value...)
	h.fields = append(h.fields, field{int32(ns), int32(vs), int32(vs), int32(len(h.buf))})
}

// AddBytes is Add with a byte-slice value.
func (h *Header) AddBytes(name string, value []byte) {
	ns := len(h.buf)
	h.buf = append(h.buf, name...)
	vs := len(h.buf)
	h.buf = append(h.buf, value...)
	h.fields = append(h.fields, field{int32(ns), int32(vs), int32(vs), int32(len(h.buf))})
}

// Del removes every field called name.
func (h *Header) Del(name string) {
	out := h.fields[:0]
	for _, f := range h.fields {
		if !equalFold(h.buf[f.ns:f.ne], name) {
			out = append(out, f)
		}
	}
	h.fields = out
}

// addRaw records a parsed field whose bytes are already in buf.
func (h *Header) addRaw(ns, ne, vs, ve int) {
	h.fields = append(h.fields, field{int32(ns), int32(ne), int32(vs), int32(ve)})
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasToken reports whether the comma-separated list v contains token
// (case-insensitive), e.g. hasToken("keep-alive, Upgrade", "upgrade").
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		t, v = nextToken(v)
		if equalFold(t, token) {
			return true
		}
	}
	return false
}

// nextToken splits the first comma-separated element off v, trimmed.
func nextToken(v []byte) (tok, rest []byte) {
	i := 0
	for i < len(v) && v[i] != ',' {
		i++
	}
	tok = trimOWS(v[:i])
	if i < len(v) {
		i++
	}
	return tok, v[i:]
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
