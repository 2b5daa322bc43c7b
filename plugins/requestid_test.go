package plugins

import (
	"strings"
	"testing"

	"tollgate/conf"
)

func TestRequestIDKeepsOrGenerates(t *testing.T) {
	tests := []struct {
		name     string
		incoming []string // values of X-Request-Id sent by the client
		keep     string   // "" = a generated id is expected
	}{
		{"absent", nil, ""},
		{"sane", []string{"abc-123"}, "abc-123"},
		{"printable with space", []string{"a b~!"}, "a b~!"},
		{"exactly 200", []string{strings.Repeat("x", 200)}, strings.Repeat("x", 200)},
		{"201 bytes", []string{strings.Repeat("x", 201)}, ""},
		{"empty", []string{""}, ""},
		{"control byte", []string{"a\x01b"}, ""},
		{"tab", []string{"a\tb"}, ""},
		{"non-ASCII", []string{"idé"}, ""},
		{"first of several", []string{"one", "two"}, "one"},
	}
	f, err := NewRequestID(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			head := newKVHead()
			for _, v := range tc.incoming {
				head.Add("x-request-id", v)
			}
			x := newExchange("GET", head)
			if r := f.Request(x); r != nil {
				t.Fatalf("Request replied %+v", r)
			}
			if tc.keep != "" && x.RequestID != tc.keep {
				t.Errorf("RequestID = %q, want the client's %q", x.RequestID, tc.keep)
			}
			if tc.keep == "" && (!saneRequestID([]byte(x.RequestID)) || len(tc.incoming) > 0 && x.RequestID == tc.incoming[0]) {
				t.Errorf("RequestID = %q, want a generated id", x.RequestID)
			}
			if got := head.values("X-Request-Id"); len(got) != 1 || got[0] != x.RequestID {
				t.Errorf("request header = %q, want exactly [%q]", got, x.RequestID)
			}
			if got := queued(x)["X-Request-Id"]; len(got) != 1 || got[0] != x.RequestID {
				t.Errorf("queued response header = %q, want [%q]", got, x.RequestID)
			}
		})
	}
}

func TestRequestIDGeneratedAreUnique(t *testing.T) {
	a, _ := NewRequestID(&conf.RequestIDPlugin{})
	b, _ := NewRequestID(&conf.RequestIDPlugin{})
	seen := map[string]bool{}
	for _, f := range []Filter{a, b} {
		for i := 0; i < 1000; i++ {
			x := newExchange("GET", newKVHead())
			f.Request(x)
			if seen[x.RequestID] {
				t.Fatalf("duplicate id %q", x.RequestID)
			}
			seen[x.RequestID] = true
		}
	}
	if a.(*requestIDFilter).prefix == b.(*requestIDFilter).prefix {
		t.Error("two filters share a random prefix")
	}
}

func TestRequestIDCustomHeader(t *testing.T) {
	f, err := NewRequestID(&conf.RequestIDPlugin{Header: "X-Trace"})
	if err != nil {
		t.Fatal(err)
	}
	head := newKVHead("X-Request-Id", "ignored", "x-trace", "t-1")
	x := newExchange("GET", head)
	f.Request(x)
	if x.RequestID != "t-1" || string(head.Get("X-Request-Id")) != "ignored" {
		t.Errorf("RequestID = %q, X-Request-Id = %q", x.RequestID, head.Get("X-Request-Id"))
	}
	if got := queued(x)["X-Trace"]; len(got) != 1 || got[0] != "t-1" {
		t.Errorf("queued = %v", queued(x))
	}
}

func TestRequestIDBadHeaderName(t *testing.T) {
	if _, err := NewRequestID(&conf.RequestIDPlugin{Header: "X Bad"}); err == nil {
		t.Fatal("want an error for an invalid header name")
	}
}
