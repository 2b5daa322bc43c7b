package router

import (
	"fmt"
	"sort"
	"strings"

	"tollgate/conf"
)

// route is the part of a configured route checked after the host and path
// indexes chose it as a candidate: its methods and headers.
type route struct {
	methods []string    // upper case; empty = any
	headers [][2]string // name, exact value; all must match
	// cors: the route answers CORS preflights, which carry neither the
	// route's method nor its custom headers (the browser sends them on the
	// real request), so a preflight is matched on host and path alone.
	cors bool
}

// compileRoute checks and normalises the method and header conditions.
func compileRoute(r *conf.Route) (route, error) {
	m := r.Match
	var rt route
	for _, p := range r.Plugins {
		rt.cors = rt.cors || p.CORS != nil
	}
	for _, meth := range m.Methods {
		if meth == "" {
			return route{}, fmt.Errorf("empty method")
		}
		rt.methods = append(rt.methods, strings.ToUpper(meth))
	}
	for name, value := range m.Headers {
		if name == "" {
			return route{}, fmt.Errorf("empty header name")
		}
		rt.headers = append(rt.headers, [2]string{name, value})
	}
	sort.Slice(rt.headers, func(i, j int) bool { return rt.headers[i][0] < rt.headers[j][0] })
	return rt, nil
}

// accepts reports whether r passes the route's method and header checks.
func (rt *route) accepts(r Request) bool {
	if rt.cors && isPreflight(r) {
		return true
	}
	return rt.methodOK(r.Method()) && rt.headersOK(r)
}

// isPreflight reports a CORS preflight: OPTIONS with Origin and
// Access-Control-Request-Method.
func isPreflight(r Request) bool {
	return string(r.Method()) == "OPTIONS" && r.Header("Origin") != nil &&
		r.Header("Access-Control-Request-Method") != nil
}

// methodOK reports whether method is allowed. Methods are case-sensitive
// (RFC 9110 section 9.1); configured ones are upper-cased at compile time.
func (rt *route) methodOK(method []byte) bool {
	if len(rt.methods) == 0 {
		return true
	}
	for _, m := range rt.methods {
		if string(method) == m {
			return true
		}
	}
	return false
}

// headersOK reports whether every configured header is present with
// exactly the configured value.
func (rt *route) headersOK(r Request) bool {
	for _, h := range rt.headers {
		v := r.Header(h[0])
		if v == nil || string(v) != h[1] {
			return false
		}
	}
	return true
}
