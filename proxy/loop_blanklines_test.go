package proxy

import (
	"io"
	"testing"

	"tollgate/internal/testkit"
)

// TestLoopLeadingBlankLinesSplitHead: blank lines before a request line
// are skipped by Request.ReadHead (proxy/http1), so the loop's "whole
// head buffered" check must skip them too: "\r\n\r\n" followed by an
// unfinished head is not a whole head (a loop that thought so parsed it
// with non-blocking reads and answered 400). The loop waits for the rest
// of the head.
func TestLoopLeadingBlankLinesSplitHead(t *testing.T) {
	e, addr := newConfEngine(t, rawOrigin(t, "ok"), oneRoute)
	c, r := dialT(t, addr)
	io.WriteString(c, "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n")
	testkit.Eventually(t, "the loop to wait for the rest of the head", func() bool { return e.reactor.writingCount() > 0 })
	io.WriteString(c, "\r\n")
	if got := statusOf(t, r); got != "200" {
		t.Fatalf("status %s, want 200", got)
	}
}
