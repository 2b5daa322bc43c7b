package h2srv

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/http2"
)

// ConnError is a connection error (RFC 9113 section 5.4.1): Feed returns
// it after queueing a GOAWAY with Code; the driver writes Output, then
// closes the socket.
type ConnError struct {
	Code   http2.ErrCode
	Reason string
}

// Error says what the client did and the code it gets.
func (e *ConnError) Error() string {
	return fmt.Sprintf("h2srv: connection error %v: %s", e.Code, e.Reason)
}

// Kind names the error in a few machine-readable words, for a metric's
// label: "rapid_reset" (streams reset or refused too fast),
// "continuation_flood" (a header block of too many frames or bytes),
// "control_flood" (PING, SETTINGS, PRIORITY or empty frames too fast),
// else the code: "protocol_error", "flow_control_error",
// "frame_size_error", "compression_error", "stream_closed", ...
func (e *ConnError) Kind() string {
	switch e.Reason {
	case reasonRapidReset:
		return "rapid_reset"
	case reasonContinuations, reasonBlockTooLarge:
		return "continuation_flood"
	}
	if e.Code == http2.ErrCodeEnhanceYourCalm {
		return "control_flood"
	}
	return strings.ToLower(e.Code.String())
}

// Reasons Kind tells apart.
const (
	reasonRapidReset    = "too many streams reset or refused"
	reasonContinuations = "too many CONTINUATION frames"
	reasonBlockTooLarge = "header block too large"
)

// connErr builds a ConnError.
func connErr(code http2.ErrCode, reason string) error {
	return &ConnError{Code: code, Reason: reason}
}

// Errors the Stream methods return.
var (
	// ErrStreamClosed: the stream was reset or has ended both ways.
	ErrStreamClosed = errors.New("h2srv: stream closed")
	// ErrStreamEnded: the answer was already ended (END_STREAM sent).
	ErrStreamEnded = errors.New("h2srv: stream already ended")
	// ErrHeadersSent: a second final WriteHeaders on one stream.
	ErrHeadersSent = errors.New("h2srv: response headers already sent")
	// ErrNoHeaders: WriteData or WriteTrailers before WriteHeaders.
	ErrNoHeaders = errors.New("h2srv: response headers not sent yet")
	// ErrConnClosed: the connection ended (a connection error, or Close).
	ErrConnClosed = errors.New("h2srv: connection closed")
)

// frameErr turns an error of the Framer into a connection error, or, for
// a stream error it reports (a zero WINDOW_UPDATE increment on a stream),
// returns it as is for the caller to reset that stream.
func frameErr(err error) error {
	var se http2.StreamError
	if errors.As(err, &se) {
		return se
	}
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		return connErr(http2.ErrCode(ce), "malformed frame")
	}
	if errors.Is(err, http2.ErrFrameTooLarge) {
		return connErr(http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE")
	}
	return connErr(http2.ErrCodeProtocol, err.Error())
}
