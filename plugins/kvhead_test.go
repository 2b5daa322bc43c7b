package plugins

import "strings"

// kvHead is a real, if simple, Headers: an ordered list of fields with
// case-insensitive names, as a parsed message head is.
type kvHead struct {
	fields [][2]string
}

func newKVHead(pairs ...string) *kvHead {
	h := &kvHead{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Add(pairs[i], pairs[i+1])
	}
	return h
}

func (h *kvHead) Get(name string) []byte {
	for _, f := range h.fields {
		if strings.EqualFold(f[0], name) {
			return []byte(f[1])
		}
	}
	return nil
}

func (h *kvHead) Set(name, value string) {
	h.Del(name)
	h.Add(name, value)
}

func (h *kvHead) Add(name, value string) {
	h.fields = append(h.fields, [2]string{name, value})
}

func (h *kvHead) Del(name string) {
	kept := h.fields[:0]
	for _, f := range h.fields {
		if !strings.EqualFold(f[0], name) {
			kept = append(kept, f)
		}
	}
	h.fields = kept
}

// values returns every value of name, in order.
func (h *kvHead) values(name string) []string {
	var out []string
	for _, f := range h.fields {
		if strings.EqualFold(f[0], name) {
			out = append(out, f[1])
		}
	}
	return out
}

// newExchange returns an exchange for method and path with the given
// request head.
func newExchange(method string, head *kvHead) *Exchange {
	return &Exchange{Method: []byte(method), Path: []byte("/"), Request: head}
}

// queued returns the response headers queued on x as a map of name to
// values.
func queued(x *Exchange) map[string][]string {
	m := map[string][]string{}
	for _, kv := range x.ResponseHeaders() {
		m[kv[0]] = append(m[kv[0]], kv[1])
	}
	return m
}
