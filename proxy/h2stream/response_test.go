package h2stream

import (
	"reflect"
	"testing"

	"tollgate/proxy/h2srv"
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

// TestCopyFields: the answer's end-to-end fields reach the stream's head
// in order, names in lower case, repeated fields kept, hop-by-hop ones (and a chunked answer's
// Content-Length) dropped.
func TestCopyFields(t *testing.T) {
	o := parsedAnswer(t, "HTTP/1.1 200 OK\r\nConnection: x-hop\r\nX-Hop: 1\r\nset-cookie: a=1\r\n"+
		"Content-Type: text/plain\r\nSet-Cookie: b=2\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nx-empty:\r\n\r\n")
	got := o.copyFields()
	want := []h2srv.Field{{Name: "set-cookie", Value: "a=1"}, {Name: "content-type", Value: "text/plain"},
		{Name: "set-cookie", Value: "b=2"}, {Name: "x-empty", Value: ""}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	plain := parsedAnswer(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: x\r\n\r\n")
	plain.copyFields()
	if n := testing.AllocsPerRun(100, func() { plain.copyFields() }); n > 1 {
		t.Errorf("copyFields: %v allocations for a head of 3 fields, want at most 1 (the text)", n)
	}
}
