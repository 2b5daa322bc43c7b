package h2

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"tollgate/proxy/http1"
)

// framing is how a rendered response delimits its body.
type framing uint8

const (
	framingNone    framing = iota // no body: HEAD, 1xx, 204, 304; or Content-Length: 0
	framingLength                 // Content-Length: the upstream's, no trailers declared
	framingChunked                // chunks as DATA arrives, trailers after the last
)

// maxEmptyBody is how much a response that should have no body may carry
// before the stream counts as broken.
const maxEmptyBody = 64 << 10

// renderer writes one HTTP/2 response into a stream's pipe as HTTP/1.1.
type renderer struct {
	res    *http.Response
	isHead bool
	buf    []byte // scratch, capacity pipeSize
}

// errEmptyBody is a response that should have no body but carries one.
var errEmptyBody = errors.New("HTTP/2 response carries a body it should not have")

// relay writes the head and the body to out. end is called once the
// stream has ended (its body read to EOF), before the last bytes go out,
// so that by the time the exchange has read them the stream is over.
func (r *renderer) relay(out *pipe, done <-chan struct{}, end func()) error {
	mode := r.mode()
	head, err := appendHead(r.buf[:0], r.res, mode)
	if err != nil {
		return err
	}
	if mode == framingNone {
		if n, err := io.Copy(io.Discard, io.LimitReader(r.res.Body, maxEmptyBody+1)); err != nil || n > maxEmptyBody {
			return errors.Join(errEmptyBody, err)
		}
		end()
		_, err := out.write(head, nil, done)
		return err
	}
	if _, err := out.write(head, nil, done); err != nil {
		return err
	}
	if mode == framingLength {
		return r.copyLength(out, done, end)
	}
	return r.copyChunks(out, done, end)
}

// mode decides the framing: none for bodyless answers, Content-Length
// when the upstream gave one and declared no trailers, else chunked.
func (r *renderer) mode() framing {
	res := r.res
	switch {
	case r.isHead || res.StatusCode == 204 || res.StatusCode == 304 || res.StatusCode < 200:
		return framingNone
	case res.ContentLength == 0 && len(res.Trailer) == 0:
		return framingNone // the body is known empty (a trailers-only answer too): Content-Length: 0
	case res.ContentLength > 0 && len(res.Trailer) == 0:
		return framingLength
	}
	return framingChunked
}

// copyLength relays a Content-Length body as it arrives.
func (r *renderer) copyLength(out *pipe, done <-chan struct{}, end func()) error {
	var got int64
	buf := r.buf[:cap(r.buf)]
	for {
		n, err := r.res.Body.Read(buf)
		got += int64(n)
		if got > r.res.ContentLength {
			return fmt.Errorf("HTTP/2 response body longer than its Content-Length %d", r.res.ContentLength)
		}
		if err == io.EOF {
			if got < r.res.ContentLength {
				return fmt.Errorf("HTTP/2 response body ended at %d of its Content-Length %d: %w", got, r.res.ContentLength, io.ErrUnexpectedEOF)
			}
			end()
		} else if err != nil {
			return err
		}
		if n > 0 {
			if _, werr := out.write(buf[:n], nil, done); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// copyChunks relays the body as chunks, one per read of DATA, then the
// last chunk with the trailers.
func (r *renderer) copyChunks(out *pipe, done <-chan struct{}, end func()) error {
	buf := r.buf[:cap(r.buf)]
	for {
		n, err := r.res.Body.Read(buf[http1.ChunkRoom : len(buf)-2])
		if err != nil && err != io.EOF {
			return err
		}
		if n > 0 {
			if _, werr := out.write(http1.FrameChunk(buf, n), nil, done); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			tail := appendTrailers(append(buf[:0], "0\r\n"...), r.res.Trailer)
			end()
			_, werr := out.write(append(tail, "\r\n"...), nil, done)
			return werr
		}
	}
}

// appendHead renders the response head for mode.
func appendHead(dst []byte, res *http.Response, mode framing) ([]byte, error) {
	code := res.StatusCode
	if code < 100 || code > 999 {
		return nil, fmt.Errorf("HTTP/2 response status %d: %w", code, http1.ErrBadResponse)
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	if reason := http.StatusText(code); reason != "" {
		dst = append(dst, reason...)
	} else {
		dst = append(dst, "Status"...)
	}
	dst = append(dst, "\r\n"...)
	for _, k := range sortedKeys(res.Header) {
		if responseHop(k) {
			continue
		}
		for _, v := range res.Header[k] {
			if !validField(k, v) {
				return nil, fmt.Errorf("HTTP/2 response field %q: %w", k, http1.ErrBadResponse)
			}
			dst = appendField(dst, k, v)
		}
	}
	switch {
	case mode == framingChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	case mode == framingLength || (res.ContentLength >= 0 && code != 204 && code >= 200):
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, max(res.ContentLength, 0), 10)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...), nil
}

// appendTrailers renders the trailer fields; a field that cannot be
// written as a line (or must not be a trailer) is left out.
func appendTrailers(dst []byte, t http.Header) []byte {
	for _, k := range sortedKeys(t) {
		if responseHop(k) || strings.EqualFold(k, "Trailer") || strings.EqualFold(k, "Host") {
			continue
		}
		for _, v := range t[k] {
			if validField(k, v) {
				dst = appendField(dst, k, v)
			}
		}
	}
	return dst
}

func appendField(dst []byte, k, v string) []byte {
	dst = append(dst, k...)
	dst = append(dst, ": "...)
	dst = append(dst, v...)
	return append(dst, "\r\n"...)
}

// responseHop reports a field that does not go into the rendered head:
// hop-by-hop ones (HTTP/2 forbids them anyway) and the framing, which the
// renderer writes itself.
func responseHop(k string) bool {
	switch strings.ToLower(k) {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "content-length":
		return true
	}
	return false
}

// validField reports a field that is safe as an HTTP/1.1 line: a
// non-empty name without separators or controls, a value without CR, LF
// or NUL.
func validField(k, v string) bool {
	if k == "" || strings.ContainsAny(k, " \t:\r\n\x00") {
		return false
	}
	return !strings.ContainsAny(v, "\r\n\x00")
}

// sortedKeys returns h's names in order, so a head renders the same way
// every time.
func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
