package proxy

import (
	"errors"
	"net"
	"os"
	"time"
)

// headerDeadline bounds the time an HTTP/2 request's header block takes
// to arrive, as server.read_header_timeout bounds an HTTP/1.1 head: from
// the read that brought the first bytes of a HEADERS frame to the end of
// the frame that ends the block (END_HEADERS, maybe after CONTINUATION
// frames). x/net's server has no such bound: a client that starts a
// header block and stalls holds the connection until idle_timeout.
//
// The guard arms the connection's read deadline only when a read ends
// with a block still open, so a request whose block arrives in one read
// costs nothing; the deadline is cleared once the block is whole. x/net
// sets no read deadline of its own on the connection (it would only with
// an http.Server ReadTimeout, which the gateway leaves unset). When the
// deadline passes the read fails, the server closes the connection, and
// the gateway counts tollgate_http2_errors_total{type="read_header_timeout"}
// and logs a line (at most one a second).
//
// It follows blocks from the frame headers alone, not from the block
// decoder's state (h2headerblock.go): the decoder stops following a
// connection whose block passes 64 KiB, which is when a stalled or
// endless block most needs its deadline.
type headerDeadline struct {
	timeout   time.Duration // 0: none
	onTimeout func()

	open  bool // a header block has begun and has not ended
	armed bool // the connection's read deadline is set for it
}

// update arms or clears the read deadline of c after a read.
func (h *headerDeadline) update(c net.Conn, now func() time.Time) {
	switch {
	case h.open && !h.armed && h.timeout > 0:
		c.SetReadDeadline(now().Add(h.timeout))
		h.armed = true
	case !h.open && h.armed:
		c.SetReadDeadline(time.Time{})
		h.armed = false
	}
}

// failed notes a read that failed: past the deadline, the block's time
// ran out.
func (h *headerDeadline) failed(err error) {
	if h.armed && h.open && errors.Is(err, os.ErrDeadlineExceeded) && h.onTimeout != nil {
		h.onTimeout()
		h.onTimeout = nil // once
	}
}
