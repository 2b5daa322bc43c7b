package router

import (
	"testing"

	"tollgate/conf"
)

// TestCORSPreflightMatchesRestrictedRoute: a browser preflight carries
// neither the route's method nor its custom headers; a route with a cors
// plugin still matches it on host and path, one without does not.
func TestCORSPreflightMatchesRestrictedRoute(t *testing.T) {
	cors := []conf.Plugin{{CORS: &conf.CORSPlugin{AllowedOrigins: []string{"https://app.example.com"}}}}
	routes := []conf.Route{
		{Name: "api", Match: conf.Match{PathPrefix: "/api", Methods: []string{"GET", "POST"}, Headers: map[string]string{"X-Canary": "1"}}, Plugins: cors},
		{Name: "plain", Match: conf.Match{PathPrefix: "/plain", Methods: []string{"GET"}}},
	}
	tab, err := Compile(routes)
	if err != nil {
		t.Fatal(err)
	}
	preflight := []string{"Origin", "https://app.example.com", "Access-Control-Request-Method", "POST"}
	cases := []struct {
		r    *req
		want int
	}{
		{newReq("OPTIONS", "h", "/api/x", preflight...), 0},
		{newReq("OPTIONS", "h", "/api/x", "Origin", "https://app.example.com"), -1}, // not a preflight
		{newReq("GET", "h", "/api/x"), -1},                                          // header condition still applies
		{newReq("GET", "h", "/api/x", "X-Canary", "1"), 0},
		{newReq("OPTIONS", "h", "/plain", preflight...), -1}, // no cors plugin: methods apply
	}
	for i, c := range cases {
		if got := tab.Match(c.r); got != c.want {
			t.Errorf("case %d (%s %s): matched %d, want %d", i, c.r.method, c.r.path, got, c.want)
		}
	}
}
