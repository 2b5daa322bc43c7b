package conf

import (
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	const key = "aa5a1a0d1bc6bdc1c3c4e9a9e1b11c4bd08b8a38c5ee8ea7cc6e2b6d6bd69a1b"
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"no routes", `server: {listen: ":8080"}`, []string{"t.yaml: routes: no routes"}},
		{"no auth anywhere", `
server: {listen: ":8080"}
upstreams: {app: {targets: ["127.0.0.1:9"]}}
clients: {b: {rate: 1/s, burst: 1}, a: {rate: 1/s, burst: 1}}
routes: [{name: r, match: {path_prefix: /}, upstream: app}]
`, []string{"t.yaml: clients.a: no route can identify", "t.yaml: clients.b: no route can identify"}},
		{"api key for one client", `
server: {listen: ":8080"}
upstreams: {app: {targets: ["127.0.0.1:9"]}}
auth: {api_keys: {keys: [{sha256: "` + key + `", client_id: a}]}}
clients: {a: {rate: 1/s, burst: 1}, b: {rate: 1/s, burst: 1}}
routes: [{name: r, match: {path_prefix: /}, upstream: app, auth: [api_key]}]
`, []string{"t.yaml: clients.b: no route can identify"}},
		{"identifying route not metered", `
server: {listen: ":8080"}
upstreams: {app: {targets: ["127.0.0.1:9"]}}
auth: {jwt: {algorithms: [RS256], keys: [{jwks_url: "http://127.0.0.1:9/j"}]}}
clients: {a: {rate: 1/s, burst: 1}}
routes: [{name: r, match: {path_prefix: /}, upstream: app, auth: [jwt], limit: false}]
`, []string{"t.yaml: clients.a: no route can identify"}},
		{"jwt names anyone", `
server: {listen: ":8080"}
upstreams: {app: {targets: ["127.0.0.1:9"]}}
auth: {jwt: {algorithms: [RS256], keys: [{jwks_url: "http://127.0.0.1:9/j"}]}}
clients: {a: {rate: 1/s, burst: 1}}
routes: [{name: r, match: {path_prefix: /}, upstream: app, auth: [jwt]}]
`, nil},
	} {
		c, err := Parse("t.yaml", []byte(tc.yaml), "")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := Warnings(c)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d warnings %v; want %d", tc.name, len(got), got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(got[i].Error(), w) {
				t.Errorf("%s: warning %d = %q; want it to start with %q", tc.name, i, got[i].Error(), w)
			}
		}
	}
}
