package plugins

import (
	"reflect"
	"testing"

	"tollgate/conf"
)

func TestHeadersEdits(t *testing.T) {
	f, err := NewHeaders(&conf.HeadersPlugin{
		RequestSet:     map[string]string{"X-Env": "prod", "X-Both": "set", "x-b": "2", "X-A": "1"},
		RequestRemove:  []string{"cookie", "X-Both"},
		ResponseSet:    map[string]string{"Cache-Control": "no-store"},
		ResponseRemove: []string{"Server", "x-powered-by"},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := newKVHead("Host", "h", "Cookie", "a=1", "COOKIE", "b=2", "X-Env", "dev", "X-Env", "test", "X-Both", "old")
	x := newExchange("GET", req)
	if r := f.Request(x); r != nil {
		t.Fatalf("Request replied %+v", r)
	}
	wantReq := [][2]string{{"Host", "h"}, {"X-A", "1"}, {"X-Both", "set"}, {"X-Env", "prod"}, {"x-b", "2"}}
	if !reflect.DeepEqual(req.fields, wantReq) {
		t.Errorf("request head = %v, want %v", req.fields, wantReq)
	}

	resp := newKVHead("Server", "nginx", "X-Powered-By", "php", "Cache-Control", "max-age=60", "Content-Type", "text/plain")
	x.Response = resp
	f.Response(x)
	wantResp := [][2]string{{"Content-Type", "text/plain"}, {"Cache-Control", "no-store"}}
	if !reflect.DeepEqual(resp.fields, wantResp) {
		t.Errorf("response head = %v, want %v", resp.fields, wantResp)
	}
}

func TestHeadersNilResponse(t *testing.T) {
	f, _ := NewHeaders(&conf.HeadersPlugin{ResponseRemove: []string{"Server"}})
	f.Response(newExchange("GET", newKVHead())) // Response is nil: must not panic
}

func TestHeadersInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  conf.HeadersPlugin
	}{
		{"bad set name", conf.HeadersPlugin{RequestSet: map[string]string{"X Y": "1"}}},
		{"header splitting", conf.HeadersPlugin{ResponseSet: map[string]string{"X-Y": "1\r\nSet-Cookie: a"}}},
		{"empty remove", conf.HeadersPlugin{ResponseRemove: []string{""}}},
	}
	for _, tc := range tests {
		if _, err := NewHeaders(&tc.cfg); err == nil {
			t.Errorf("%s: want an error", tc.name)
		}
	}
}
