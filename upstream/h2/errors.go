package h2

import (
	"errors"
	"fmt"

	"golang.org/x/net/http2"
)

// ErrRefused matches (errors.Is) the failure of a stream the server did not
// process: RST_STREAM REFUSED_STREAM, or a GOAWAY that leaves the stream
// out. Sending the request again is safe.
var ErrRefused = errors.New("upstream refused the HTTP/2 stream before processing it")

// errPoolClosed is Prepare on a retired pool.
var errPoolClosed = errors.New("HTTP/2 connection pool retired")

// errNoStream is Read on a Bridge before any request was written to it.
var errNoStream = errors.New("no request on this HTTP/2 bridge")

// errEmptyBody is a response that should have no body but carries one.
var errEmptyBody = errors.New("HTTP/2 response carries a body it should not have")

// refusedError is a refused stream: Is(ErrRefused), with what refused it
// kept for the log.
type refusedError struct {
	addr string
	why  string
}

// Error describes the refusal.
func (e *refusedError) Error() string {
	return fmt.Sprintf("upstream %s refused the HTTP/2 stream before processing it: %s", e.addr, e.why)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *refusedError) Is(target error) bool { return target == ErrRefused }

// resetError is a stream the server reset with RST_STREAM (other than
// REFUSED_STREAM).
type resetError struct {
	addr string
	code http2.ErrCode
}

// Error names the reset's code.
func (e *resetError) Error() string {
	return fmt.Sprintf("HTTP/2 stream to %s reset by the server: %v", e.addr, e.code)
}

// protocolError is a response the gateway could not use: a malformed
// frame or header block, a broken bound. It fails the stream (code: the
// RST_STREAM sent) or, at the connection level, the connection (the
// GOAWAY's code).
type protocolError struct {
	code http2.ErrCode
	msg  string
	err  error // what it wraps, nil if nothing
}

// Error describes the fault.
func (e *protocolError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

// Unwrap returns what the fault wraps.
func (e *protocolError) Unwrap() error { return e.err }

// streamFault is a stream-level protocolError.
func streamFault(code http2.ErrCode, format string, args ...any) *protocolError {
	return &protocolError{code: code, msg: fmt.Sprintf(format, args...)}
}

// connFault is a connection-level protocolError.
func connFault(code http2.ErrCode, format string, args ...any) *protocolError {
	return &protocolError{code: code, msg: fmt.Sprintf(format, args...)}
}
