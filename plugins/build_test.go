package plugins

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"tollgate/conf"
)

// named is a filter that records its name on the request head when it
// runs, so a chain's order can be read back.
type named string

func (n named) Request(x *Exchange) *Reply { x.Request.Add("X-Ran", string(n)); return nil }
func (n named) Response(*Exchange)         {}

func depOf(f Filter, err error) func(*conf.Route) (Filter, error) {
	return func(*conf.Route) (Filter, error) { return f, err }
}

func TestBuildOrder(t *testing.T) {
	route := &conf.Route{Name: "users", Plugins: []conf.Plugin{
		{RequestID: &conf.RequestIDPlugin{}},
		{CORS: &conf.CORSPlugin{AllowedOrigins: []string{"https://a.test"}}},
		{Headers: &conf.HeadersPlugin{RequestSet: map[string]string{"X-Ran": "headers"}}},
		{CORS: &conf.CORSPlugin{AllowedOrigins: []string{"https://b.test"}}},
	}}
	chain, err := Build(route, Deps{Auth: depOf(named("auth"), nil), Limit: depOf(named("limit"), nil)})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, f := range chain {
		switch f := f.(type) {
		case *corsFilter:
			kinds = append(kinds, "cors "+f.origins[0])
		case *requestIDFilter:
			kinds = append(kinds, "request_id")
		case *headerEdits:
			kinds = append(kinds, "headers")
		case named:
			kinds = append(kinds, string(f))
		}
	}
	want := []string{"cors https://a.test", "cors https://b.test", "auth", "limit", "request_id", "headers"}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("chain = %v, want %v", kinds, want)
	}

	// Running it shows the same order: auth and limit record themselves,
	// then headers overwrites X-Ran.
	x := newExchange("GET", newKVHead())
	if r, n := chain.RunRequest(x); r != nil || n != len(chain) {
		t.Fatalf("RunRequest = %+v, %d", r, n)
	}
	if got := x.Request.(*kvHead).values("X-Ran"); !reflect.DeepEqual(got, []string{"headers"}) {
		t.Errorf("X-Ran = %v", got)
	}
}

func TestBuildPreflightStopsBeforeAuth(t *testing.T) {
	route := &conf.Route{Name: "r", Plugins: []conf.Plugin{{CORS: &conf.CORSPlugin{AllowedOrigins: []string{"*"}}}}}
	chain, err := Build(route, Deps{Auth: depOf(named("auth"), nil)})
	if err != nil {
		t.Fatal(err)
	}
	x := preflight("https://a.test", "GET")
	r, n := chain.RunRequest(x)
	if r == nil || r.Status != 204 || n != 0 || x.Request.Get("X-Ran") != nil {
		t.Fatalf("reply %+v after %d filters, X-Ran %q", r, n, x.Request.Get("X-Ran"))
	}
}

func TestBuildOptionalDeps(t *testing.T) {
	route := &conf.Route{Name: "r"}
	for _, deps := range []Deps{{}, {Auth: depOf(nil, nil), Limit: depOf(nil, nil)}} {
		chain, err := Build(route, deps)
		if err != nil || len(chain) != 0 {
			t.Errorf("Build = %v, %v; want an empty chain", chain, err)
		}
	}
	chain, err := Build(route, Deps{Limit: depOf(named("limit"), nil)})
	if err != nil || len(chain) != 1 || chain[0] != named("limit") {
		t.Errorf("Build = %v, %v; want [limit]", chain, err)
	}
}

func TestBuildErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name  string
		route conf.Route
		deps  Deps
		want  string
	}{
		{"empty plugin entry", conf.Route{Name: "r", Plugins: []conf.Plugin{{}}}, Deps{}, `route "r": plugins[0]: entry names no plugin`},
		{"bad plugin", conf.Route{Name: "r", Plugins: []conf.Plugin{{RequestID: &conf.RequestIDPlugin{}}, {CORS: &conf.CORSPlugin{}}}},
			Deps{}, `route "r": plugins[1] (cors): allowed_origins is empty`},
		{"auth", conf.Route{Name: "r"}, Deps{Auth: depOf(nil, boom)}, `route "r": auth: boom`},
		{"limit", conf.Route{Name: "r"}, Deps{Limit: depOf(nil, boom)}, `route "r": limit: boom`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(&tc.route, tc.deps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestFactoriesIsFresh(t *testing.T) {
	a := Factories()
	delete(a, "cors")
	if Factories()["cors"] == nil {
		t.Fatal("Factories shares its map between calls")
	}
	for _, name := range []string{"request_id", "headers", "cors"} {
		if a := Factories()[name]; a == nil {
			t.Errorf("no factory for %q", name)
		}
	}
}
