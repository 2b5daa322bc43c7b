package proxy

import "sync/atomic"

// Memory for bodies read whole.
//
// A request body up to server.buffers.request_body is read whole before
// an upstream connection is taken (bodybuffer.go), and a response body up
// to server.buffers.response_body is read whole from the upstream when
// the client reads slower than the upstream sends (stream.go), so that a
// slow client holds memory, not a connection. Every such body reserves
// its bytes in the engine's bufferBudget first; past
// server.buffers.max_total the body streams instead — a request takes
// the streaming path (bounded by fair shares), a response goes at the
// client's pace, holding its upstream back — so memory stays bounded
// whatever the clients do.

// bufferBudget counts the bytes reserved by bodies read whole.
type bufferBudget struct {
	used atomic.Int64
}

// reserve takes n bytes of the budget if the total stays within max.
func (b *bufferBudget) reserve(n, max int64) bool {
	if b.used.Add(n) > max {
		b.used.Add(-n)
		return false
	}
	return true
}

// give returns n reserved bytes.
func (b *bufferBudget) give(n int64) { b.used.Add(-n) }

// reserveBody reserves n bytes for a body of this exchange read whole.
func (cc *clientConn) reserveBody(n int64) bool {
	if !cc.e.buffered.reserve(n, cc.snap.Conf.Server.Buffers.MaxTotal) {
		return false
	}
	cc.reserved += n
	return true
}

// releaseBodies gives back what the exchange's bodies reserved.
func (cc *clientConn) releaseBodies() {
	if cc.reserved > 0 {
		cc.e.buffered.give(cc.reserved)
		cc.reserved = 0
	}
}
