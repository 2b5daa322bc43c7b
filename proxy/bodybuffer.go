package proxy

import (
	"io"
	"time"

	"tollgate/proxy/sock"
)

// Reading a request body whole on the loop.
//
// A Content-Length body of up to server.buffers.request_body bytes is
// read into a buffer before the route's filters run and before an
// upstream connection is taken: a client that sends its body slowly holds
// a buffer, not an upstream connection, and the request then goes out in
// one write and can be sent again on a retry. The loop reads what has
// arrived and waits for the rest in its epoll set (modeAwaitBody) until
// the route's timeout. Buffers up to 64 KiB are pooled; the bytes count
// against server.buffers.max_total (buffers.go), past which the body is
// streamed. Larger and chunked bodies are streamed (a worker splices a
// large one).

// pooledBody is the size of the larger pooled body buffers; a body read
// whole that is larger gets a buffer of its own.
const pooledBody = spliceThreshold

// smallBody is the size of the smaller body buffers: most bodies that do
// not arrive with their head still fit, and a connection sending one
// slowly then holds 16 KiB, not 64.
const smallBody = 16 << 10

// bodyPool returns the index of the buffer pool for a body of n bytes.
func bodyPool(n int64) int {
	if n <= smallBody {
		return 0
	}
	return 1
}

// gatherable reports a body the loop reads whole before forwarding, and
// reserves its bytes.
func (cc *clientConn) gatherable() bool {
	q := &cc.q
	return q.HasBody() && !q.Chunked && q.ContentLen <= cc.snap.Conf.Server.Buffers.RequestBody &&
		cc.reserveBody(q.ContentLen)
}

// gatherBody moves the request body into cc.gathered as it arrives, without
// waiting: done when it is whole. err means the client went away.
func (cc *clientConn) gatherBody() (done bool, err error) {
	want := int(cc.q.ContentLen)
	if cc.gatherBuf == nil {
		cc.gatherBuf = cc.bodyBuffer(cc.q.ContentLen)
		cc.gathered = (*cc.gatherBuf)[:0]
		if err := cc.sendContinue(); err != nil {
			return false, err
		}
	}
	if k := min(cc.r.Buffered(), want-len(cc.gathered)); k > 0 {
		b, _ := cc.r.Peek(k)
		cc.gathered = append(cc.gathered, b...)
		cc.r.Discard(k)
	}
	for len(cc.gathered) < want {
		n, err := cc.cio.Read(cc.gathered[len(cc.gathered):want])
		if err == sock.ErrWouldBlock {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		cc.gathered = cc.gathered[:len(cc.gathered)+n]
	}
	cc.body = bodyGathered
	return true, nil
}

// gatherBlocking reads the rest of the body on a worker, until the
// route's deadline.
func (cc *clientConn) gatherBlocking() error {
	want := int(cc.q.ContentLen)
	cc.c.SetReadDeadline(cc.start.Add(cc.rt.conf.Timeout))
	defer cc.c.SetReadDeadline(time.Time{})
	if _, err := io.ReadFull(cc.r, cc.gathered[len(cc.gathered):want]); err != nil {
		return err
	}
	cc.gathered = cc.gathered[:want]
	cc.body = bodyGathered
	return nil
}

// gatherOnWorker reads a small body whole on a worker (a TLS connection,
// which the loop does not serve) for a route whose filters read bodies,
// until the route's deadline.
func (cc *clientConn) gatherOnWorker(rt *routeRT) error {
	cc.c.SetReadDeadline(cc.start.Add(rt.conf.Timeout))
	defer cc.c.SetReadDeadline(time.Time{})
	_, err := cc.gatherBody() // blocking reads on a worker: whole or failed
	return err
}

// wholeBody returns the request body when it is whole at hand (read
// into cc.gathered, or in the read buffer behind the head), for filters
// that check it; nil otherwise.
func (cc *clientConn) wholeBody() []byte {
	q := &cc.q
	switch {
	case cc.body == bodyGathered:
		return cc.gathered
	case !q.HasBody() || q.Chunked || q.ContentLen > int64(cc.r.Buffered()):
		return nil
	}
	b, _ := cc.r.Peek(int(q.ContentLen))
	return b
}

// bodyBuffer returns a buffer for a body of n bytes: pooled up to 64 KiB.
func (cc *clientConn) bodyBuffer(n int64) *[]byte {
	if n > pooledBody {
		b := make([]byte, n)
		return &b
	}
	return cc.e.bodyBufs[bodyPool(n)].Get().(*[]byte)
}

// releaseGathered gives the body buffer back (to its pool if it came from
// one).
func (cc *clientConn) releaseGathered() {
	if cc.gatherBuf != nil {
		if n := int64(cap(*cc.gatherBuf)); n <= pooledBody {
			cc.e.bodyBufs[bodyPool(n)].Put(cc.gatherBuf)
		}
		cc.gatherBuf, cc.gathered = nil, nil
	}
}

// bodyArrived goes on, on the loop, with a request whose body was being
// read.
func (cc *clientConn) bodyArrived() loopAction {
	done, err := cc.gatherBody()
	switch {
	case err != nil:
		return cc.endInline(cc.snap, cc.rt, cc.clientGone(), false)
	case !done:
		return actAwaitBody
	}
	cc.startExchange(cc.snap, cc.rt)
	return cc.decideInline(cc.snap, cc.rt, 0)
}

// clientGone ends a request whose client went away before it could be
// sent: 499 in the log, nothing answered, the connection closed.
func (cc *clientConn) clientGone() exchangeResult {
	cc.q.KeepAlive = false
	return exchangeResult{status: failureInfo[failClientGone].status}
}
