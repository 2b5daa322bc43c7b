package router

import (
	"bytes"
	"strings"

	"tollgate/conf"
)

// req is a test Request over plain fields, with case-insensitive header
// lookup like the engine's.
type req struct {
	method, host, path []byte
	headers            [][2][]byte
}

func newReq(method, host, path string, headers ...string) *req {
	r := &req{method: []byte(method), host: []byte(host), path: []byte(path)}
	for i := 0; i+1 < len(headers); i += 2 {
		r.headers = append(r.headers, [2][]byte{[]byte(headers[i]), []byte(headers[i+1])})
	}
	return r
}

func (r *req) Method() []byte { return r.method }
func (r *req) Host() []byte   { return r.host }
func (r *req) Path() []byte   { return r.path }
func (r *req) Header(name string) []byte {
	for _, h := range r.headers {
		if bytes.EqualFold(h[0], []byte(name)) {
			return h[1]
		}
	}
	return nil
}

// linearMatch is the reference: every route checked in file order, with
// the matching rules written out as plainly as possible.
func linearMatch(routes []conf.Route, r Request) int {
	for i := range routes {
		if linearRouteMatches(&routes[i].Match, r) {
			return i
		}
	}
	return -1
}

func linearRouteMatches(m *conf.Match, r Request) bool {
	return linearHost(m.Host, r.Host()) && linearPath(m, string(r.Path())) &&
		linearMethod(m.Methods, string(r.Method())) && linearHeaders(m.Headers, r)
}

func linearHost(pattern string, host []byte) bool {
	if pattern == "" {
		return true
	}
	h := strings.ToLower(string(host))
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			h = h[:i+1]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	pattern = strings.ToLower(pattern)
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return len(h) > len(suffix) && strings.HasSuffix(h, suffix) && h[len(h)-len(suffix)-1] != '.'
	}
	return h == pattern
}

func linearPath(m *conf.Match, path string) bool {
	if m.Path != "" {
		return path == m.Path
	}
	return strings.HasPrefix(path, m.PathPrefix)
}

func linearMethod(methods []string, method string) bool {
	if len(methods) == 0 {
		return true
	}
	for _, m := range methods {
		if strings.ToUpper(m) == method {
			return true
		}
	}
	return false
}

func linearHeaders(headers map[string]string, r Request) bool {
	for name, value := range headers {
		v := r.Header(name)
		if v == nil || string(v) != value {
			return false
		}
	}
	return true
}
