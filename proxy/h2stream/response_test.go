package h2stream

import (
	"net/http"
	"reflect"
	"testing"
)

// parsedAnswer returns a responseWriter holding head, parsed as takeHead
// parses it.
func parsedAnswer(t testing.TB, head string) *responseWriter {
	o := &responseWriter{}
	o.head.Reset(maxAnswerHead)
	if _, done, err := o.head.Add([]byte(head)); err != nil || !done {
		t.Fatalf("head not whole: %v", err)
	}
	if err := o.head.Parse(&o.resp); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestCopyFields: the answer's end-to-end fields reach the stream's header
// with canonical names, repeated fields in order, hop-by-hop ones (and a
// chunked answer's Content-Length) dropped; appending to one field's
// values leaves the others as they were.
func TestCopyFields(t *testing.T) {
	o := parsedAnswer(t, "HTTP/1.1 200 OK\r\nConnection: x-hop\r\nX-Hop: 1\r\nset-cookie: a=1\r\n"+
		"Content-Type: text/plain\r\nSet-Cookie: b=2\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nx-empty:\r\n\r\n")
	h := http.Header{}
	o.copyFields(h)
	want := http.Header{"Set-Cookie": {"a=1", "b=2"}, "Content-Type": {"text/plain"}, "X-Empty": {""}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("header %v, want %v", h, want)
	}
	h["Content-Type"] = append(h["Content-Type"], "more")
	if h.Get("X-Empty") != "" || len(h["Set-Cookie"]) != 2 {
		t.Fatalf("an append changed another field: %v", h)
	}
	plain := parsedAnswer(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: x\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() { plain.copyFields(make(http.Header, 4)) }); n > 3 {
		t.Errorf("copyFields: %v allocations for a head of 3 fields, want at most 3 (the map, the text, the values)", n)
	}
}
