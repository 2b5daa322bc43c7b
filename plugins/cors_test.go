package plugins

import (
	"reflect"
	"testing"
	"time"

	"tollgate/conf"
)

func mustCORS(t *testing.T, cfg conf.CORSPlugin) Filter {
	t.Helper()
	f, err := NewCORS(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func preflight(origin, method string, more ...string) *Exchange {
	head := newKVHead(append([]string{"Origin", origin, "Access-Control-Request-Method", method}, more...)...)
	return newExchange("OPTIONS", head)
}

func TestCORSPreflightAllowed(t *testing.T) {
	tests := []struct {
		name string
		cfg  conf.CORSPlugin
		x    *Exchange
		want [][2]string
	}{{
		name: "listed origin, configured headers, max age",
		cfg: conf.CORSPlugin{AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"get", "POST"},
			AllowedHeaders: []string{"Authorization", "Content-Type"}, MaxAge: 10*time.Minute + 500*time.Millisecond},
		x: preflight("https://APP.example.com", "POST", "Access-Control-Request-Headers", "x-other"),
		want: [][2]string{{"Access-Control-Allow-Origin", "https://APP.example.com"}, {"Access-Control-Allow-Methods", "GET, POST"},
			{"Access-Control-Allow-Headers", "Authorization, Content-Type"}, {"Access-Control-Max-Age", "600"}, {"Vary", "Origin"}},
	}, {
		name: "any origin without credentials sends *, echoes requested headers",
		cfg:  conf.CORSPlugin{AllowedOrigins: []string{"*"}},
		x:    preflight("https://x.test", "HEAD", "Access-Control-Request-Headers", "content-type, x-a"),
		want: [][2]string{{"Access-Control-Allow-Origin", "*"}, {"Access-Control-Allow-Methods", "GET, HEAD, POST"},
			{"Access-Control-Allow-Headers", "content-type, x-a"}, {"Vary", "Origin"}},
	}, {
		name: "gRPC-Web: the headers its clients send, configured",
		cfg: conf.CORSPlugin{AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"POST"},
			AllowedHeaders: []string{"content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"}},
		x: preflight("https://app.example.com", "POST", "Access-Control-Request-Headers", "content-type,grpc-timeout,x-grpc-web,x-user-agent"),
		want: [][2]string{{"Access-Control-Allow-Origin", "https://app.example.com"}, {"Access-Control-Allow-Methods", "POST"},
			{"Access-Control-Allow-Headers", "content-type, x-grpc-web, x-user-agent, grpc-timeout"}, {"Vary", "Origin"}},
	}, {
		name: "any origin with credentials echoes the origin",
		cfg:  conf.CORSPlugin{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"PUT"}, AllowCredentials: true},
		x:    preflight("https://x.test", "PUT"),
		want: [][2]string{{"Access-Control-Allow-Origin", "https://x.test"}, {"Access-Control-Allow-Methods", "PUT"},
			{"Access-Control-Allow-Credentials", "true"}, {"Vary", "Origin"}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCORS(t, tc.cfg).Request(tc.x)
			if r == nil || r.Status != 204 || r.Code != "" || r.Body != nil {
				t.Fatalf("reply = %+v, want a bare 204", r)
			}
			if !reflect.DeepEqual(r.Header, tc.want) {
				t.Errorf("headers = %v\nwant      %v", r.Header, tc.want)
			}
			if len(tc.x.ResponseHeaders()) != 0 {
				t.Errorf("preflight queued %v", tc.x.ResponseHeaders())
			}
		})
	}
}

func TestCORSPreflightRefused(t *testing.T) {
	cfg := conf.CORSPlugin{AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"GET"}}
	tests := []struct {
		name string
		x    *Exchange
	}{
		{"origin", preflight("https://evil.test", "GET")},
		{"method", preflight("https://app.example.com", "DELETE")},
		{"method case", preflight("https://app.example.com", "get")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustCORS(t, cfg).Request(tc.x)
			if r == nil || r.Status != 403 || r.Code != "forbidden" || r.Message == "" {
				t.Fatalf("reply = %+v, want 403 forbidden with a message", r)
			}
		})
	}
}

func TestCORSSimpleRequests(t *testing.T) {
	cfg := conf.CORSPlugin{AllowedOrigins: []string{"https://app.example.com"}, ExposedHeaders: []string{"X-Total", "RateLimit"},
		AllowCredentials: true}
	tests := []struct {
		name   string
		method string
		head   *kvHead
		want   map[string][]string
	}{{
		name: "allowed origin", method: "GET", head: newKVHead("Origin", "https://app.example.com"),
		want: map[string][]string{"Access-Control-Allow-Origin": {"https://app.example.com"}, "Vary": {"Origin"},
			"Access-Control-Expose-Headers": {exposedWithXTotal}, "Access-Control-Allow-Credentials": {"true"}},
	}, {
		name: "OPTIONS without request method is not a preflight", method: "OPTIONS", head: newKVHead("Origin", "https://app.example.com"),
		want: map[string][]string{"Access-Control-Allow-Origin": {"https://app.example.com"}, "Vary": {"Origin"},
			"Access-Control-Expose-Headers": {exposedWithXTotal}, "Access-Control-Allow-Credentials": {"true"}},
	}, {
		// Not allowed or absent: no CORS headers, but Vary: Origin, so a
		// cache never serves this answer to an allowed origin.
		name: "other origin", method: "GET", head: newKVHead("Origin", "https://evil.test"), want: map[string][]string{"Vary": {"Origin"}},
	}, {
		name: "no origin", method: "OPTIONS", head: newKVHead("Access-Control-Request-Method", "GET"), want: map[string][]string{"Vary": {"Origin"}},
	}, {
		name: "empty origin", method: "GET", head: newKVHead("Origin", ""), want: map[string][]string{"Vary": {"Origin"}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := append([][2]string(nil), tc.head.fields...)
			x := newExchange(tc.method, tc.head)
			if r := mustCORS(t, cfg).Request(x); r != nil {
				t.Fatalf("reply = %+v, want none", r)
			}
			if got := queued(x); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("queued = %v, want %v", got, tc.want)
			}
			if !reflect.DeepEqual(tc.head.fields, before) {
				t.Errorf("request head changed: %v", tc.head.fields)
			}
		})
	}
}

func TestCORSInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  *conf.CORSPlugin
	}{
		{"nil", nil},
		{"no origins", &conf.CORSPlugin{}},
		{"bad origin", &conf.CORSPlugin{AllowedOrigins: []string{"https://a, https://b"}}},
		{"bad method", &conf.CORSPlugin{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GE T"}}},
		{"bad header", &conf.CORSPlugin{AllowedOrigins: []string{"*"}, ExposedHeaders: []string{"a:b"}}},
	}
	for _, tc := range tests {
		if _, err := NewCORS(tc.cfg); err == nil {
			t.Errorf("%s: want an error", tc.name)
		}
	}
}

// exposedWithXTotal is Access-Control-Expose-Headers for exposed_headers
// [X-Total, RateLimit]: the defaults first, RateLimit once, then X-Total.
const exposedWithXTotal = "RateLimit, RateLimit-Policy, X-RateLimit-Limit, X-RateLimit-Remaining, " +
	"X-RateLimit-Reset, Retry-After, X-Request-Id, Grpc-Status, Grpc-Message, X-Total"
