package http1

// Header is a parsed message head's field list. Field names and values are
// offsets into one byte buffer, which holds the raw head bytes as read plus
// any bytes appended by edits, so editing never invalidates other fields. A Header is
// reused across messages; nothing in it is valid after Reset. The zero
// Header is empty and ready to use (the gateway builds its own replies in
// one).
type Header struct {
	buf    []byte
	fields []field
}

type field struct {
	ns, ne, vs, ve int32
}

// Reset empties h, keeping its buffers for the next message.
func (h *Header) Reset() {
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
		if EqualFold(h.buf[f.ns:f.ne], name) {
			return h.buf[f.vs:f.ve]
		}
	}
	return nil
}

// Has reports whether a field called name exists.
func (h *Header) Has(name string) bool {
	for _, f := range h.fields {
		if EqualFold(h.buf[f.ns:f.ne], name) {
			return true
		}
	}
	return false
}

// Count returns how many fields are called name.
func (h *Header) Count(name string) int {
	n := 0
	for _, f := range h.fields {
		if EqualFold(h.buf[f.ns:f.ne], name) {
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
		if !EqualFold(h.buf[f.ns:f.ne], name) {
			out = append(out, f)
		}
	}
	h.fields = out
}

// addRaw records a parsed field whose bytes are already in buf.
func (h *Header) addRaw(ns, ne, vs, ve int) {
	h.fields = append(h.fields, field{int32(ns), int32(ne), int32(vs), int32(ve)})
}

// parseField records "name: value" at offset off of h.buf.
func parseField(h *Header, line []byte, off int) error {
	colon, vs, ve, err := fieldBounds(line)
	if err != nil {
		return err
	}
	h.addRaw(off, off+colon, off+vs, off+ve)
	return nil
}

// fieldBounds checks a field line "name: value" (RFC 9110 section 5.5: a
// token name right before the colon, no control bytes in the value) and
// returns where its name ends (the colon) and its value starts and ends,
// without the whitespace around it.
func fieldBounds(line []byte) (colon, vs, ve int, err error) {
	colon = -1
	for i, c := range line {
		if c == ':' {
			colon = i
			break
		}
		if !isTokenChar(c) {
			return 0, 0, 0, errBadField
		}
	}
	if colon <= 0 {
		return 0, 0, 0, errBadField
	}
	vs, ve = colon+1, len(line)
	for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
		vs++
	}
	for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
		ve--
	}
	for _, c := range line[vs:ve] {
		if c == 0 || c == '\r' || c == '\n' || (c < ' ' && c != '\t') || c == 0x7f {
			return 0, 0, 0, errBadField
		}
	}
	return colon, vs, ve, nil
}
