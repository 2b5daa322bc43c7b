//go:build !race

package router

import (
	"testing"

	"tollgate/conf"
)

func TestMatchDoesNotAllocate(t *testing.T) {
	routes := benchRoutes(1000)
	routes = append(routes, withHeaders(prefix("h", "*.example.com", "/"), map[string]string{"X-A": "1"}))
	tab, err := Compile(routes)
	if err != nil {
		t.Fatal(err)
	}
	reqs := []*req{
		benchLast, benchMiss,
		newReq("GET", "svc11.example.com", "/svc11/items/42"),
		newReq("GET", "deep.a.tenant6.example.com", "/w6/x"),
		newReq("GET", "x.example.com", "/q", "x-a", "1"),
		newReq("GET", "", "/healthz"),
		newReq("GET", string(make([]byte, 1000)), "/"),
	}
	for _, r := range reqs {
		if n := testing.AllocsPerRun(100, func() { tab.Match(r) }); n != 0 {
			t.Errorf("Match(%s) allocates %v times", r.path, n)
		}
	}
}

func TestRewriteDoesNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 64)
	target := []byte("/v1/users/7?x=1")
	if n := testing.AllocsPerRun(100, func() { Rewrite(dst[:0], target, "/v1") }); n != 0 {
		t.Errorf("Rewrite allocates %v times", n)
	}
}

var _ = conf.Route{}
