package h2stream

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Writing once per event-loop turn.
//
// Streams served on an event loop (Config.Inline) write their answers
// during the loop's turn, often many of one connection's streams in the
// same turn. With a Batch (Config.Inline gives it), what they produce joins
// the connection's pending output without starting its flushing
// goroutine, and the connection is noted in the Batch; at the turn's end
// the loop calls Batch.Flush, which writes each noted connection's output
// once, from the loop, without waiting (a cleartext socket: one write(2)
// for the turn's answers), and leaves only what the socket did not take to
// the flushing goroutine.

// Batch is one event loop's list of HTTP/2 connections with output
// waiting for the end of its turn. It is used by that loop only.
type Batch struct {
	conns []*conn
}

// Flush writes what the noted connections have pending, without waiting.
func (b *Batch) Flush() {
	for i, cn := range b.conns {
		b.conns[i] = nil
		cn.flushBatched()
	}
	b.conns = b.conns[:0]
}

// queueOut moves what h2srv has to send to the writer (cn.mu held): for a
// stream with a Batch, to wait for its Flush.
func (c *Conn) queueOut() {
	cn := c.cn
	if c.batch == nil || !c.nonblock {
		cn.queue()
		return
	}
	out := cn.h2.Output()
	if len(out) == 0 {
		return
	}
	cn.out.add(out)
	cn.h2.Wrote(len(out))
	if !cn.batched {
		cn.batched = true
		c.batch.conns = append(c.batch.conns, cn)
	}
}

// flushBatched writes the connection's pending output once without
// waiting, the rest left to the flushing goroutine.
func (cn *conn) flushBatched() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.batched = false
	cn.out.writeNow()
}

// writeRaw writes p to raw once without waiting: the bytes written, and
// an error other than the socket being full.
func writeRaw(raw syscall.RawConn, p []byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		n, werr = unix.Write(int(fd), p)
		return true // never wait: what is left goes to the flushing goroutine
	})
	if n < 0 {
		n = 0
	}
	if werr == unix.EAGAIN {
		werr = nil
	}
	if err != nil {
		return n, err
	}
	return n, werr
}
