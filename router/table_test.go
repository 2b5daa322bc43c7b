package router

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"tollgate/conf"
)

func prefix(name, host, p string, methods ...string) conf.Route {
	return conf.Route{Name: name, Match: conf.Match{Host: host, PathPrefix: p, Methods: methods}}
}

func exact(name, host, p string, methods ...string) conf.Route {
	return conf.Route{Name: name, Match: conf.Match{Host: host, Path: p, Methods: methods}}
}

func withHeaders(r conf.Route, h map[string]string) conf.Route {
	r.Match.Headers = h
	return r
}

func TestMatch(t *testing.T) {
	routes := []conf.Route{
		/* 0 */ exact("health", "", "/healthz", "GET"),
		/* 1 */ withHeaders(prefix("canary", "api.example.com", "/v1/users"), map[string]string{"X-Canary": "1"}),
		/* 2 */ prefix("users", "api.example.com", "/v1/users", "GET", "post"),
		/* 3 */ prefix("wild-users", "*.example.com", "/v1/users"),
		/* 4 */ prefix("deep-wild", "*.eu.example.com", "/v1/"),
		/* 5 */ exact("exact-root", "API.Example.com", "/"),
		/* 6 */ prefix("static", "", "/static/"),
		/* 7 */ prefix("v1-any", "", "/v1/"),
		/* 8 */ prefix("ipv6", "[::1]", "/"),
		/* 9 */ prefix("two-headers", "", "/h", "GET"),
		/* 10 */ prefix("fallback", "fallback.test", "/"),
	}
	routes[9].Match.Headers = map[string]string{"X-A": "a", "X-B": "b"}
	tab, err := Compile(routes)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  *req
		want int
	}{
		{"exact path", newReq("GET", "anything", "/healthz"), 0},
		{"exact path other method", newReq("POST", "anything", "/healthz"), -1},
		{"exact path is not a prefix", newReq("GET", "x", "/healthz/x"), -1},
		{"header picks canary", newReq("DELETE", "api.example.com", "/v1/users/7", "x-canary", "1"), 1},
		{"header value exact", newReq("GET", "api.example.com", "/v1/users/7", "X-Canary", "10"), 2},
		{"method lower in config", newReq("POST", "api.example.com", "/v1/users"), 2},
		{"methods case-sensitive", newReq("get", "api.example.com", "/v1/users"), 3},
		{"host case-insensitive with port", newReq("GET", "API.EXAMPLE.COM:8443", "/v1/users"), 2},
		{"host trailing dot", newReq("GET", "api.example.com.", "/v1/users"), 2},
		{"plain prefix matches usersX", newReq("GET", "api.example.com", "/v1/usersX"), 2},
		{"percent-encoding not decoded", newReq("GET", "api.example.com", "/v1/%75sers"), 7},
		{"wildcard one label", newReq("PUT", "a.example.com", "/v1/users"), 3},
		{"wildcard many labels", newReq("PUT", "a.b.example.com:80", "/v1/users/1"), 3},
		{"wildcard excludes apex", newReq("PUT", "example.com", "/v1/users"), 7},
		{"wildcard excludes empty label", newReq("PUT", ".example.com", "/v1/users"), 7},
		{"suffix without dot boundary", newReq("PUT", "badexample.com", "/v1/users"), 7},
		{"deeper wildcard loses to earlier", newReq("GET", "x.eu.example.com", "/v1/users"), 3},
		{"deeper wildcard", newReq("GET", "x.eu.example.com", "/v1/orders"), 4},
		{"exact root only", newReq("GET", "api.example.com", "/"), 5},
		{"any host prefix", newReq("GET", "", "/static/app.js"), 6},
		{"prefix needs the whole prefix", newReq("GET", "", "/static"), -1},
		{"ipv6 literal with port", newReq("GET", "[::1]:8080", "/x"), 8},
		{"all headers", newReq("GET", "h", "/h", "x-b", "b", "X-A", "a"), 9},
		{"one header missing", newReq("GET", "h", "/h", "X-A", "a"), -1},
		{"header present but empty", newReq("GET", "h", "/h", "X-A", "a", "X-B", ""), -1},
		{"host route after any-host miss", newReq("GET", "Fallback.Test", "/z"), 10},
		{"no host header", newReq("GET", "", "/z"), -1},
		{"empty path", newReq("GET", "fallback.test", ""), -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tab.Match(tc.req); got != tc.want {
				t.Errorf("Match(%s %s %s) = %d, want %d", tc.req.method, tc.req.host, tc.req.path, got, tc.want)
			}
			if ref := linearMatch(routes, tc.req); ref != tc.want {
				t.Errorf("reference scan = %d, want %d (test or reference is wrong)", ref, tc.want)
			}
		})
	}
}

func TestMatchOrderSamePrefix(t *testing.T) {
	routes := []conf.Route{
		prefix("a", "", "/api/", "POST"),
		prefix("b", "", "/api/v2"),
		prefix("c", "", "/api/", "GET"),
		prefix("d", "", "/"),
	}
	tab, err := Compile(routes)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		want         int
	}{
		{"POST", "/api/v2", 0},
		{"GET", "/api/v2", 1},
		{"GET", "/api/v1", 2},
		{"PUT", "/api/v1", 3},
		{"PUT", "/api", 3},
	}
	for _, tc := range tests {
		if got := tab.Match(newReq(tc.method, "h", tc.path)); got != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		route conf.Route
		want  string
	}{
		{"no path", conf.Route{Name: "x"}, "needs path or path_prefix"},
		{"both", conf.Route{Name: "x", Match: conf.Match{Path: "/a", PathPrefix: "/a"}}, "both path and path_prefix"},
		{"relative path", exact("x", "", "a"), "must start with /"},
		{"relative prefix", prefix("x", "", "a"), "must start with /"},
		{"bare star", prefix("x", "*", "/"), "wildcard"},
		{"star inside", prefix("x", "a.*.com", "/"), "wildcard"},
		{"star without dot", prefix("x", "*example.com", "/"), "wildcard"},
		{"empty method", prefix("x", "", "/", ""), "empty method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]conf.Route{prefix("ok", "", "/"), tc.route})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "routes[1] (x)") {
				t.Fatalf("err = %v, want it to name routes[1] (x) and contain %q", err, tc.want)
			}
		})
	}
}

func TestCompileReportsEveryError(t *testing.T) {
	_, err := Compile([]conf.Route{{Name: "a"}, prefix("b", "", "/"), {Name: "c"}})
	if err == nil || !strings.Contains(err.Error(), "routes[0] (a)") || !strings.Contains(err.Error(), "routes[2] (c)") {
		t.Fatalf("err = %v, want both bad routes", err)
	}
}

func TestEmptyTable(t *testing.T) {
	tab, err := Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Match(newReq("GET", "h", "/")); got != -1 {
		t.Fatalf("Match = %d, want -1", got)
	}
}

// TestMatchAgreesWithLinearScan checks the compiled table against the
// plain scan on random routes and requests drawn from a small alphabet, so
// that prefixes, hosts and conditions collide often.
func TestMatchAgreesWithLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := []string{"", "", "a.test", "B.test", "*.test", "*.x.test", "c.x.test"}
	reqHosts := []string{"", "a.test", "b.test:81", "c.x.test", "d.x.test.", "x.test", "test", "A.TEST"}
	segs := []string{"/", "a", "b", "ab", "/a", "%61"}
	methods := [][]string{nil, nil, {"GET"}, {"POST", "GET"}}
	randPath := func() string {
		p := "/"
		for n := rng.IntN(4); n > 0; n-- {
			p += segs[rng.IntN(len(segs))]
		}
		return p
	}
	for round := 0; round < 200; round++ {
		routes := make([]conf.Route, 1+rng.IntN(30))
		for i := range routes {
			m := conf.Match{Host: hosts[rng.IntN(len(hosts))], Methods: methods[rng.IntN(len(methods))]}
			if rng.IntN(3) == 0 {
				m.Path = randPath()
			} else {
				m.PathPrefix = randPath()
			}
			if rng.IntN(4) == 0 {
				m.Headers = map[string]string{"X-V": fmt.Sprint(rng.IntN(2))}
			}
			routes[i] = conf.Route{Name: fmt.Sprint(i), Match: m}
		}
		tab, err := Compile(routes)
		if err != nil {
			t.Fatal(err)
		}
		for q := 0; q < 100; q++ {
			r := newReq([]string{"GET", "POST", "PUT"}[rng.IntN(3)], reqHosts[rng.IntN(len(reqHosts))], randPath())
			if rng.IntN(2) == 0 {
				r = newReq(string(r.method), string(r.host), string(r.path), "x-v", fmt.Sprint(rng.IntN(2)))
			}
			if got, want := tab.Match(r), linearMatch(routes, r); got != want {
				t.Fatalf("round %d: %s %s %s: Match = %d, linear = %d\nroutes: %+v", round, r.method, r.host, r.path, got, want, routes)
			}
		}
	}
}
