package h2

import (
	"errors"
	"fmt"
	"strings"

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

// errBodyClosed is what a request body pipe returns once the HTTP/2
// stream stopped reading it.
var errBodyClosed = errors.New("the HTTP/2 stream stopped reading the request body")

// refusedError is a refused stream: Is(ErrRefused), with the http2
// package's error kept for the log.
type refusedError struct {
	addr string
	err  error
}

// Error describes the refusal.
func (e *refusedError) Error() string {
	return fmt.Sprintf("upstream %s refused the HTTP/2 stream before processing it: %v", e.addr, e.err)
}

// Unwrap returns the http2 package's error.
func (e *refusedError) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrRefused) true.
func (e *refusedError) Is(target error) bool { return target == ErrRefused }

// classify turns a failed RoundTrip (no response head) into the error the
// exchange sees: a refusal when the server left the stream unprocessed.
func classify(addr string, err error) error {
	if unprocessed(err) {
		return &refusedError{addr: addr, err: err}
	}
	return fmt.Errorf("HTTP/2 stream to %s: %w", addr, err)
}

// unprocessed reports a stream the server did not process. REFUSED_STREAM
// comes as an http2.StreamError. The GOAWAY cases come as errors the
// http2 package does not export: the stream was above the GOAWAY's last
// stream id ("received Server's graceful shutdown GOAWAY", or "received
// GOAWAY from server ErrCode:…" for the first stream of a connection), or
// the connection stopped taking new streams between the pool's choice and
// the stream's start ("client conn not usable", "could not be
// established"). Their texts are matched
// here and nowhere else; TestRefusedByGoAway pins them against a real
// server, so an x/net upgrade that changes them fails a test instead of
// silently turning refusals into resets.
func unprocessed(err error) bool {
	var se http2.StreamError
	if errors.As(err, &se) {
		return se.Code == http2.ErrCodeRefusedStream
	}
	msg := err.Error()
	return msg == "http2: Transport received Server's graceful shutdown GOAWAY" ||
		strings.HasPrefix(msg, "http2: Transport received GOAWAY from server ErrCode:") ||
		msg == "http2: client conn not usable" ||
		msg == "http2: client conn could not be established"
}
