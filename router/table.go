// Package router compiles the configured routes into an immutable Table
// and matches requests against it.
//
// Matching follows CONTRACT.md: routes are tried in file order and the
// first that matches wins. A route matches when
//   - its host is omitted, equals the request's Host case-insensitively
//     (a ":port" suffix and one trailing dot are ignored on both sides), or
//     is "*.example.com" and the Host is one or more non-empty labels
//     followed by ".example.com" (example.com itself does not match);
//   - its path equals the raw request path byte for byte, or its
//     path_prefix is a plain byte prefix of it. As in nginx, Envoy and
//     Traefik, "/v1/users" therefore also matches "/v1/usersX"; write
//     "/v1/users/" to require a segment boundary. Percent-encoded bytes are
//     never decoded: "/v1/%75sers" does not match "/v1/users";
//   - its methods are omitted or include the request method (exactly; HTTP
//     methods are case-sensitive and configured ones are upper-cased);
//   - every configured header is present with exactly the configured value
//     (names case-insensitive, values byte for byte).
//
// Instead of a linear scan, the table indexes routes by host (a map of
// exact hosts, a map of wildcard suffixes and the any-host group), then by
// path (a map of exact paths and a radix tree of prefixes). Match collects
// the candidates from those indexes and keeps the smallest route index that
// passes the method and header checks, so the result equals a scan in file
// order. Match does not allocate.
package router

import (
	"errors"
	"fmt"

	"tollgate/conf"
)

// Table is a compiled, immutable set of routes. It is safe for concurrent
// use by any number of goroutines.
type Table struct {
	routes    []route
	anyHost   *group
	exactHost map[string]*group // lower-case host → routes with that host
	wildHost  map[string]*group // ".example.com" → routes with "*.example.com"
}

// group indexes the routes that share one host condition by path.
type group struct {
	exact    map[string][]int32 // path → ascending route indices
	prefixes prefixTree
}

// Compile checks routes and builds their Table. Route indices in the table
// are the indices in routes. Every invalid route is reported, joined in one
// error.
func Compile(routes []conf.Route) (*Table, error) {
	t := &Table{
		routes:    make([]route, len(routes)),
		exactHost: map[string]*group{},
		wildHost:  map[string]*group{},
	}
	var errs []error
	for i := range routes {
		if err := t.add(int32(i), &routes[i]); err != nil {
			errs = append(errs, fmt.Errorf("routes[%d] (%s): %w", i, routes[i].Name, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// add compiles route idx into the table.
func (t *Table) add(idx int32, r *conf.Route) error {
	rt, err := compileRoute(r)
	if err != nil {
		return err
	}
	g, err := t.groupFor(r.Match.Host)
	if err != nil {
		return err
	}
	t.routes[idx] = rt
	return g.add(idx, r.Match)
}

// groupFor returns the group for a configured host, creating it if needed.
func (t *Table) groupFor(host string) (*group, error) {
	if host == "" {
		if t.anyHost == nil {
			t.anyHost = newGroup()
		}
		return t.anyHost, nil
	}
	hp, err := parseHost(host)
	if err != nil {
		return nil, err
	}
	m := t.exactHost
	if hp.wildcard {
		m = t.wildHost
	}
	g := m[hp.name]
	if g == nil {
		g = newGroup()
		m[hp.name] = g
	}
	return g, nil
}

// newGroup returns an empty group.
func newGroup() *group {
	return &group{exact: map[string][]int32{}}
}

// add indexes route idx by its path condition.
func (g *group) add(idx int32, m conf.Match) error {
	switch {
	case m.Path != "" && m.PathPrefix != "":
		return errors.New("match has both path and path_prefix")
	case m.Path != "":
		if m.Path[0] != '/' {
			return fmt.Errorf("path %q must start with /", m.Path)
		}
		g.exact[m.Path] = append(g.exact[m.Path], idx)
	case m.PathPrefix != "":
		if m.PathPrefix[0] != '/' {
			return fmt.Errorf("path_prefix %q must start with /", m.PathPrefix)
		}
		g.prefixes.insert(m.PathPrefix, idx)
	default:
		return errors.New("match needs path or path_prefix")
	}
	return nil
}

// Len returns the number of routes in the table.
func (t *Table) Len() int { return len(t.routes) }

// Match returns the index of the first route, in file order, that matches
// r, or -1 when none does. It does not allocate.
func (t *Table) Match(r Request) int {
	m := matcher{routes: t.routes, r: r, best: int32(len(t.routes))}
	path := r.Path()
	if t.anyHost != nil {
		t.anyHost.match(path, &m)
	}
	if len(t.exactHost) > 0 || len(t.wildHost) > 0 {
		var buf [maxHost]byte
		if host := lowerInto(&buf, hostOnly(r.Host())); len(host) > 0 {
			t.matchHost(host, path, &m)
		}
	}
	if int(m.best) == len(t.routes) {
		return -1
	}
	return int(m.best)
}

// matchHost offers m the routes of the exact host and of every wildcard
// suffix of host that follows at least one non-empty label.
func (t *Table) matchHost(host, path []byte, m *matcher) {
	if g := t.exactHost[string(host)]; g != nil {
		g.match(path, m)
	}
	if len(t.wildHost) == 0 {
		return
	}
	for i := 1; i < len(host); i++ {
		if host[i] == '.' && host[i-1] != '.' {
			if g := t.wildHost[string(host[i:])]; g != nil {
				g.match(path, m)
			}
		}
	}
}

// match offers m the group's routes whose path condition path satisfies.
func (g *group) match(path []byte, m *matcher) {
	if list, ok := g.exact[string(path)]; ok {
		m.consider(list)
	}
	g.prefixes.walk(path, m)
}

// matcher keeps the smallest accepted route index seen so far.
type matcher struct {
	routes []route
	r      Request
	best   int32 // len(routes) until a route is accepted
}

// consider checks the ascending candidate list and records the first
// accepted index below best. It reports whether a smaller index could
// still be found elsewhere.
func (m *matcher) consider(list []int32) bool {
	for _, idx := range list {
		if idx >= m.best {
			break
		}
		if m.routes[idx].accepts(m.r) {
			m.best = idx
			break
		}
	}
	return m.best > 0
}
