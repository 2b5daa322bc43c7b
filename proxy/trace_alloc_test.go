//go:build !race

package proxy

import (
	"bytes"
	"testing"

	"tollgate/internal/testkit"
)

// TestUnsampledGETDoesNotAllocate: with tracing on, a request that is not
// sampled — no traceparent at ratio 0, or a client's traceparent that
// says not sampled (which goes upstream untouched) — allocates nothing,
// as with tracing off.
func TestUnsampledGETDoesNotAllocate(t *testing.T) {
	origin := rawOrigin(t, string(bytes.Repeat([]byte("x"), 128)))
	var logs testkit.LogBuffer
	e, addr := tracedEngineLog(t, origin, tracingBlock(testkit.StartOTLPReceiver(t), "0"), false, &logs)
	assertNoAllocs(t, e, addr, "GET /small HTTP/1.1\r\nHost: bench\r\nX-Request-Id: abc\r\n\r\n")
	assertNoAllocs(t, e, addr, "GET /small HTTP/1.1\r\nHost: bench\r\nX-Request-Id: abc\r\n"+
		"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\r\n\r\n")
}
