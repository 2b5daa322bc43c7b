// Package sock is the event loops' interface to the kernel: epoll sets
// (Ctl, Poll, Wait) and eventfd wake-ups (Wake, Drain), non-blocking reads
// and writes made as raw system calls (Read, WriteNow, RawIO), socket
// duplicates that keep a connection out of Go's netpoller (Dup) or bring
// it back for a goroutine (NetConn), and splice(2) through pooled pipes
// (Pipes.Splice).
//
// A request's bytes pass through it like this: the listener's accepted
// socket is duplicated (Dup) and put in a loop's epoll set (Ctl); when
// Wait or Poll report it readable, the loop reads the head with Read; it
// sends the request upstream with WriteNow on the upstream connection's
// own duplicate, waits for that socket in the same epoll set, and writes
// the answer back with WriteNow. A goroutine that must block (a large
// body spliced socket to socket, a TLS connection) gets a net.Conn
// (NetConn) and Pipes.Splice moves known-length bodies between two of
// them without copying through user space. Nothing here knows HTTP.
package sock
