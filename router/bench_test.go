package router

import (
	"fmt"
	"testing"

	"tollgate/conf"
)

// benchRoutes returns n routes in a realistic mix: most bound to one of 50
// service hosts with their own prefix, some any-host API prefixes, some
// wildcard hosts, a few exact paths and header-gated canaries. The last
// route is host "last.example.com", prefix "/last/", GET only.
func benchRoutes(n int) []conf.Route {
	routes := make([]conf.Route, 0, n)
	for i := 0; i < n-1; i++ {
		var r conf.Route
		switch i % 10 {
		case 0, 1, 2, 3, 4:
			r = prefix("", fmt.Sprintf("svc%d.example.com", i%50), fmt.Sprintf("/svc%d/", i), "GET", "POST")
		case 5:
			r = prefix("", "", fmt.Sprintf("/api/v%d/resource%d", i%3, i))
		case 6:
			r = prefix("", fmt.Sprintf("*.tenant%d.example.com", i%20), fmt.Sprintf("/w%d/", i))
		case 7:
			r = exact("", "", fmt.Sprintf("/exact/%d", i), "GET")
		case 8:
			r = withHeaders(prefix("", fmt.Sprintf("svc%d.example.com", i%50), "/svc/"), map[string]string{"X-Canary": fmt.Sprint(i)})
		case 9:
			r = prefix("", fmt.Sprintf("svc%d.example.com", i%50), fmt.Sprintf("/svc%d/v2/", i), "DELETE")
		}
		r.Name = fmt.Sprintf("r%d", i)
		routes = append(routes, r)
	}
	return append(routes, prefix("last", "last.example.com", "/last/", "GET"))
}

var (
	benchLast = newReq("GET", "Last.Example.com:8443", "/last/items/42")
	benchMiss = newReq("GET", "svc3.example.com", "/nope/items/42", "X-Canary", "0")
)

// linearTable is the baseline: the same normalisation done once at
// compile time, then every route checked in file order without
// allocating, as a straightforward gateway would.
type linearTable struct {
	routes []linearRoute
}

type linearRoute struct {
	host   hostPattern
	anyH   bool
	path   string
	exact  bool
	checks route
}

func compileLinear(routes []conf.Route) *linearTable {
	lt := &linearTable{}
	for _, r := range routes {
		lr := linearRoute{anyH: r.Match.Host == "", path: r.Match.PathPrefix}
		if !lr.anyH {
			lr.host, _ = parseHost(r.Match.Host)
		}
		if r.Match.Path != "" {
			lr.path, lr.exact = r.Match.Path, true
		}
		lr.checks, _ = compileRoute(&r)
		lt.routes = append(lt.routes, lr)
	}
	return lt
}

func (lt *linearTable) match(r Request) int {
	var buf [maxHost]byte
	host := lowerInto(&buf, hostOnly(r.Host()))
	path := r.Path()
	for i := range lt.routes {
		lr := &lt.routes[i]
		if lr.hostOK(host) && lr.pathOK(path) && lr.checks.accepts(r) {
			return i
		}
	}
	return -1
}

func (lr *linearRoute) hostOK(host []byte) bool {
	switch {
	case lr.anyH:
		return true
	case lr.host.wildcard:
		s := lr.host.name
		return len(host) > len(s) && string(host[len(host)-len(s):]) == s
	}
	return string(host) == lr.host.name
}

func (lr *linearRoute) pathOK(path []byte) bool {
	if lr.exact {
		return string(path) == lr.path
	}
	return len(path) >= len(lr.path) && string(path[:len(lr.path)]) == lr.path
}

func TestBenchSetup(t *testing.T) {
	routes := benchRoutes(1000)
	tab, err := Compile(routes)
	if err != nil {
		t.Fatal(err)
	}
	lt := compileLinear(routes)
	for _, r := range []*req{benchLast, benchMiss} {
		if got, base, ref := tab.Match(r), lt.match(r), linearMatch(routes, r); got != ref || base != ref {
			t.Fatalf("%s: table %d, baseline %d, reference %d", r.path, got, base, ref)
		}
	}
	if got := tab.Match(benchLast); got != 999 {
		t.Fatalf("last route: got %d", got)
	}
	if got := tab.Match(benchMiss); got != -1 {
		t.Fatalf("miss: got %d", got)
	}
}

func BenchmarkMatch1000(b *testing.B) {
	routes := benchRoutes(1000)
	tab, err := Compile(routes)
	if err != nil {
		b.Fatal(err)
	}
	lt := compileLinear(routes)
	cases := []struct {
		name string
		r    *req
	}{{"last", benchLast}, {"miss", benchMiss}}
	for _, c := range cases {
		b.Run("table/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tab.Match(c.r)
			}
		})
		b.Run("linear/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				lt.match(c.r)
			}
		})
	}
}
