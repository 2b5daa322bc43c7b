package proxy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"tollgate/proxy/http1"
	"tollgate/upstream"
)

// failure is a classified reason why the gateway answers a request
// itself, or why a try did not end in an answer to relay. Errors are
// classified once, here, and every status the gateway produces itself
// comes from failureInfo; nothing else inspects error strings.
type failure int

const (
	failNone           failure = iota
	failBadRequest             // 400 malformed or ambiguous request
	failNoRoute                // 404
	failBodyTooLarge           // 413
	failHeadTooLarge           // 431
	failConnect                // 502 upstream refused
	failDNS                    // 502 the target's host name did not resolve
	failReset                  // 502 upstream reset or closed early
	failBadResponse            // 502 malformed upstream response
	failUnavailable            // 503 no target, pool exhausted
	failTimeout                // 504 upstream did not answer in time
	failConnectTimeout         // 504 connect timed out
	failInternal               // 500 the gateway failed (a filter panicked)
	failAllOut                 // 503 every target out of rotation, with Retry-After until one may be back
	failClientGone             // 499, logged only: the client went away mid-request; nothing is answered
	failRetryStatus            // a status listed in retries.on that will be retried; never reaches the client
	failOverShare              // 429 the client holds its share of the target's connections, with Retry-After
	failNoFiles                // 503 the gateway is out of file descriptors (EMFILE/ENFILE): no socket to an upstream
	failRefused                // 502 an HTTP/2 upstream refused the stream unprocessed (REFUSED_STREAM, GOAWAY): safe to retry
	failNotHTTP                // 400, logged only: a connection's first bytes are not HTTP/1.x; closed without an answer its peer could not read
)

// failureInfo is the one table of what the gateway answers for each
// failure. cause is the failure's label in
// tollgate_upstream_errors_total{cause} and the access log's
// upstream_error, for failures toward an upstream ("" for the others);
// message is also the log line of a failed try.
var failureInfo = [...]struct {
	status  int
	code    string
	message string
	cause   string
}{
	failNone:           {200, "", "", ""},
	failBadRequest:     {400, "bad_request", "malformed or ambiguous request", ""},
	failNoRoute:        {404, "no_route", "no route matches the request", ""},
	failBodyTooLarge:   {413, "body_too_large", "request body exceeds max_body_bytes", ""},
	failHeadTooLarge:   {431, "header_too_large", "request head exceeds max_header_bytes", ""},
	failConnect:        {502, "bad_gateway", "upstream refused the connection", "connect"},
	failDNS:            {502, "bad_gateway", "upstream host name did not resolve", "dns"},
	failReset:          {502, "bad_gateway", "upstream closed the connection", "reset"},
	failBadResponse:    {502, "bad_gateway", "upstream sent a malformed response", "bad_response"},
	failUnavailable:    {503, "unavailable", "no upstream target is available", "pool_exhausted"},
	failTimeout:        {504, "gateway_timeout", "upstream did not answer in time", "timeout"},
	failConnectTimeout: {504, "gateway_timeout", "upstream connect timed out", "connect_timeout"},
	failInternal:       {500, "internal_error", "the gateway failed to serve the request", ""},
	failAllOut: {503, "unavailable",
		"every upstream target is unavailable (breaker open or failing health checks)", "all_unavailable"},
	failClientGone:  {499, "", "", ""},
	failRetryStatus: {0, "", "", ""},
	failOverShare: {429, "rate_limited",
		"client holds its share of the upstream's connections (max_conns_share)", ""},
	failNoFiles: {503, "unavailable", "gateway out of file descriptors", ""},
	failRefused: {502, "bad_gateway",
		"upstream refused the HTTP/2 stream before processing it (REFUSED_STREAM or GOAWAY)", "refused_stream"},
	failNotHTTP: {400, "bad_request", "not an HTTP/1.x request line: the connection closed without an answer", ""},
}

// classifyUpstream maps an error from talking to an upstream to a failure.
func classifyUpstream(err error) failure {
	var de *upstream.DialError
	var dns *net.DNSError
	switch {
	case outOfFiles(err): // a dial, or the duplicate of a pooled connection's socket
		return failNoFiles
	case errors.As(err, &dns):
		return failDNS // before the timeout test: a lookup that timed out is still DNS
	case errors.As(err, &de):
		if de.Timeout() {
			return failConnectTimeout
		}
		return failConnect
	case errors.Is(err, upstream.ErrStreamRefused):
		return failRefused
	case errors.Is(err, upstream.ErrNoTarget), errors.Is(err, upstream.ErrPoolExhausted):
		return failUnavailable
	case errors.Is(err, http1.ErrBadResponse), errors.Is(err, http1.ErrBadStatus), errors.Is(err, http1.ErrBadVersion),
		errors.Is(err, http1.ErrHeadTooLarge), errors.Is(err, http1.ErrBareLF), errors.Is(err, http1.ErrObsFold):
		return failBadResponse
	case isTimeout(err):
		return failTimeout
	}
	return failReset
}

// classifyHead maps an error from reading or parsing a client head.
func classifyHead(err error) failure {
	if errors.Is(err, http1.ErrHeadTooLarge) {
		return failHeadTooLarge
	}
	return failBadRequest
}

// outOfFiles reports whether err is the process's (EMFILE) or the
// system's (ENFILE) file descriptor limit.
func outOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// errBodyTooLarge is a chunked request body that passes max_body_bytes
// while it is forwarded.
var errBodyTooLarge = errors.New("body too large")

// clientError wraps a failure while reading the client's body.
type clientError struct {
	f   failure
	err error
}

// Error describes the client-side failure.
func (e *clientError) Error() string { return fmt.Sprintf("client body: %v", e.err) }

// Unwrap returns the underlying error.
func (e *clientError) Unwrap() error { return e.err }
