package proxy

import (
	"io"
	"strconv"

	"tollgate/conf"
	"tollgate/proxy/grpcweb"
	"tollgate/proxy/http1"
	"tollgate/upstream"
)

// gRPC-Web calls. A browser cannot speak gRPC (it cannot read HTTP/2
// trailers); it speaks gRPC-Web, which the gateway translates when the
// call's route points at an HTTP/2 upstream (protocol h2c or h2): the
// gRPC server there gets a gRPC call. A route to an HTTP/1.1 upstream
// passes gRPC-Web as it came (a server, or another proxy, that speaks it
// itself). The codecs are proxy/grpcweb's; here are the hooks in the
// exchange, each called at one point:
//
//   - beginForward: begin decides, once per request, whether it is a call
//     to translate (its content-type, its upstream's protocol).
//   - appendRequestHead: the upstream gets content-type application/grpc
//     (with the call's "+format") and "TE: trailers"; a text call's body
//     goes up decoded, so its framing is the decoded length when the body
//     was read whole (decoded in place before the head), else chunked.
//   - sendRequest, sendSizedBody, copyChunks: a text body is
//     base64-decoded as it streams (upBody, upEnd); not base64 is a 400
//     (a gRPC INTERNAL to the browser).
//   - relay: an answer whose content-type is gRPC's gets the gRPC-Web
//     content-type and loses its Trailer announcement (answerHead); for a
//     text call each piece of its body is base64-encoded as it passes
//     (downBody), so an answer with a length goes out chunked; at its end
//     the upstream's trailers become the body's last frame (endAnswer),
//     and no HTTP trailers follow. A trailers-only answer (grpc-status in
//     the head, no body) stays a head.
//
// Requests to HTTP/2 upstreams run on workers (a bridge has no socket
// for the loop, driver.go's sendInline), so the hooks sit on the
// workers' paths only; an answer from a bridge is never spliced.
//
// A duplex body's upload (duplex.go) runs beside the relay: it decodes
// into up, the relay encodes into down.

// webCall is the translation state of a request: none for any request
// that is not a gRPC-Web call to translate.
type webCall struct {
	mode   grpcweb.Mode // the request's (None: nothing to translate)
	text   bool         // the answer goes base64: a text call, or Accept asks for it
	answer bool         // the upstream answered as a gRPC server: the answer is translated
	dec    grpcweb.Decoder
	up     []byte // a text body's decoded bytes (the upload's)
	down   []byte // the answer's encoded bytes, the trailer frame (the relay's)
}

// webKeep bounds the buffers a clientConn keeps from one call to the
// next.
const webKeep = 64 << 10

// begin decides whether the request q, to an upstream speaking protocol,
// is a gRPC-Web call to translate.
func (w *webCall) begin(q *http1.Request, protocol string) {
	w.mode, w.text, w.answer = grpcweb.None, false, false
	if protocol != conf.ProtocolH2C && protocol != conf.ProtocolH2 {
		return
	}
	if w.mode = grpcweb.Classify(q.Fields.Get("Content-Type")); w.mode == grpcweb.None {
		return
	}
	w.text = w.mode == grpcweb.Text || grpcweb.WantsText(q.Fields.Get("Accept"))
	w.dec.Reset()
	if cap(w.up) > webKeep {
		w.up = nil
	}
	if cap(w.down) > webKeep {
		w.down = nil
	}
}

// decodesBody reports a text call whose body goes up decoded.
func (w *webCall) decodesBody() bool { return w.mode == grpcweb.Text }

// appendRequestFields appends the fields a translated call's head gets
// instead of its Content-Type (which appendForwardedFields leaves out).
func (w *webCall) appendRequestFields(dst []byte, q *http1.Request) []byte {
	dst = append(dst, "Content-Type: "...)
	dst = grpcweb.AppendUpstreamContentType(dst, q.Fields.Get("Content-Type"))
	return append(dst, "\r\nTE: trailers\r\n"...)
}

// appendTextFraming ends the head of a text call with a body: its
// decoded length when it was read whole (and decoded), else chunked.
func (cc *clientConn) appendTextFraming(dst []byte) []byte {
	if cc.body == bodyGathered {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(cc.gathered)), 10)
		return append(dst, "\r\n\r\n"...)
	}
	return append(dst, "Transfer-Encoding: chunked\r\n\r\n"...)
}

// decodeGathered decodes a text call's body read whole, in place.
func (cc *clientConn) decodeGathered() error {
	b, err := grpcweb.DecodeInPlace(cc.gathered)
	if err != nil {
		return &clientError{failBadRequest, err}
	}
	cc.gathered = b
	return nil
}

// upBody returns what goes up of body bytes p: p, or for a text call the
// bytes its base64 completes.
func (w *webCall) upBody(p []byte) ([]byte, error) {
	if w.mode != grpcweb.Text {
		return p, nil
	}
	var err error
	w.up, err = w.dec.Decode(w.up[:0], p)
	if err != nil {
		return nil, &clientError{failBadRequest, err}
	}
	return w.up, nil
}

// upEnd checks, at the end of the body, that a text call's base64 ended
// with a whole group.
func (w *webCall) upEnd() error {
	if w.mode != grpcweb.Text {
		return nil
	}
	if err := w.dec.Finish(); err != nil {
		return &clientError{failBadRequest, err}
	}
	return nil
}

// sendTextBody sends a text call's Content-Length body decoded, after
// the head in cc.scratch, as chunks: its decoded length is known only at
// its end. What arrived goes up before a read that may wait.
func (cc *clientConn) sendTextBody(conn *upstream.Conn) error {
	cc.body = bodyStreamed
	uw := cc.e.getUpWriter(conn)
	defer cc.e.putUpWriter(uw)
	uw.Write(cc.scratch)
	buf := cc.e.getBuf()
	defer cc.e.putBuf(buf)
	src := cc.limitedSource(cc.r, cc.q.ContentLen)
	for {
		if cc.r.Buffered() == 0 {
			if err := uw.Flush(); err != nil {
				return err
			}
		}
		n, rerr := src.Read(*buf)
		data, err := cc.web.upBody((*buf)[:n])
		if err != nil {
			return err
		}
		if err := http1.WriteChunk(uw, data); err != nil {
			return err
		}
		switch {
		case rerr == io.EOF && cc.lr.N == 0:
			if err := cc.web.upEnd(); err != nil {
				return err
			}
			uw.WriteString("0\r\n\r\n")
			return uw.Flush()
		case rerr != nil:
			return &clientError{failClientGone, io.ErrUnexpectedEOF}
		}
	}
}

// answerHead turns the head of a gRPC answer to a translated call into
// a gRPC-Web one: its content-type, and no Trailer field (the trailers
// go in the body).
func (w *webCall) answerHead(p *http1.Response) {
	if w.mode == grpcweb.None {
		return
	}
	ct := p.Fields.Get("Content-Type")
	if w.answer = grpcweb.IsGRPCAnswer(ct); !w.answer {
		return // not a gRPC answer (an error page): it passes as it is
	}
	w.down = grpcweb.AppendAnswerContentType(w.down[:0], ct, w.text)
	p.Fields.SetBytes("Content-Type", w.down)
	p.Fields.Del("Trailer")
}

// reframes reports an answer body of n bytes (n >= 0) that cannot keep
// its length: a text call's, which grows by its encoding.
func (w *webCall) reframes(n int64) bool { return w.answer && w.text && n > 0 }

// downBody returns what the client gets of answer bytes p: p, or for a
// text call their base64, padded.
func (w *webCall) downBody(p []byte) []byte {
	if !w.answer || !w.text {
		return p
	}
	w.down = grpcweb.AppendEncode(w.down[:0], p)
	return w.down
}

// endAnswer writes the trailer frame that ends a translated answer's
// body (from the upstream's trailer fields; none when it sent none), and
// returns the HTTP trailer fields left to send: none.
func (w *webCall) endAnswer(out *idleWriter, framing outFraming, trailer []byte) []byte {
	if len(trailer) == 0 {
		return nil
	}
	w.down = grpcweb.AppendTrailerFrame(w.down[:0], trailer)
	frame := w.down
	if w.text {
		w.down = grpcweb.AppendEncode(w.down, frame)
		frame = w.down[len(frame):]
	}
	out.body(frame, framing == outChunked)
	return nil
}
