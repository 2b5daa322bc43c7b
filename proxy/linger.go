package proxy

import (
	"time"

	"tollgate/proxy/sock"
)

// Lingering close. When the gateway answers a request without reading its
// body (a refusal, an open breaker, a body it will not forward) and the
// body is too large to drop on the spot, the connection must close. Closed
// at once with the client's bytes unread, the kernel resets it: the client,
// still writing its body, sees "connection reset" and may never read the
// answer that was sent. So the gateway first shuts its sending side (the
// answer is flushed) and reads and drops what the client goes on sending,
// for at most lingerTime or lingerBytes, then closes — as nginx's
// lingering_close does.
const (
	lingerTime  = 5 * time.Second
	lingerBytes = 64 << 20
	lingerMax   = 512 // connections lingering at once; more close at once
)

// lingerClose closes s after lingering. It returns at once: the lingering
// runs in its own goroutine, on the connection registered with Go's
// netpoller, outside the engine's sessions and event loops.
func (e *Engine) lingerClose(s *session) {
	if e.lingering.Add(1) > lingerMax {
		e.lingering.Add(-1)
		s.closeConn()
		return
	}
	go func() {
		defer e.lingering.Add(-1)
		defer s.closeConn()
		c, err := e.sessionConn(s)
		if err != nil {
			return
		}
		sock.Linger(c, lingerTime, lingerBytes)
	}()
}
