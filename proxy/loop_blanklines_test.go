package proxy

import (
	"io"
	"testing"
	"time"
)

// TestReviewLeadingBlankLinesSplitHead: readHead skips empty lines before
// the request line (RFC 9112 §2.2), but nextInline's headBuffered only
// looks for "\r\n\r\n" anywhere in the buffer. Two leading CRLFs followed by
// a head that is not complete yet look like a whole head: the loop parses
// it with non-blocking reads, readHead gets errWouldBlock mid-head and the
// request is refused with 400 (and the connection closed) instead of being
// read on by a worker.
func TestReviewLeadingBlankLinesSplitHead(t *testing.T) {
	_, addr := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	c, r := dialT(t, addr)
	io.WriteString(c, "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, "\r\n")
	if got := statusOf(t, r); got != "200" {
		t.Fatalf("status %s, want 200", got)
	}
}
