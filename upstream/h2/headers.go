package h2

import (
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tollgate/proxy/http1"
)

// Bounds of a response's header blocks.
const (
	// maxBlockBytes bounds the encoded size of one header block.
	maxBlockBytes = maxHeaderList + 64<<10
	// maxBlockFrames bounds the frames of one header block (HEADERS and
	// its CONTINUATIONs: the CONTINUATION flood).
	maxBlockFrames = 64
	// maxInterim bounds the 1xx heads before the final one.
	maxInterim = 8
)

// headerBlock is the header block being received (a HEADERS frame and its
// CONTINUATIONs), decoded fragment by fragment as they arrive and rendered
// as HTTP/1.1 lines into out as its fields come.
type headerBlock struct {
	id         uint32
	s          *stream // nil: decoded only to keep HPACK in step, then dropped
	endStream  bool
	trailers   bool // the block is the response's trailers
	frames     int
	bytes      int
	listSize   int
	tooLarge   bool
	problem    string // why the block is malformed; "" if it is not
	status     int
	sawRegular bool
	clen       int64 // the content-length field's value
	clens      int   // content-length fields seen
	clenBad    bool  // a content-length field did not parse
	announced  bool  // a Trailer field announced trailers
	out        []byte
}

// onHeaders starts a header block: a stream's response head (or a 1xx),
// its trailers, or one of a stream already gone, decoded and dropped.
func (c *clientConn) onHeaders(f *http2.HeadersFrame) error {
	id := f.StreamID
	c.mu.Lock()
	s := c.streams[id]
	opened := id%2 == 1 && id < c.nextID
	c.mu.Unlock()
	if !opened {
		return connFault(http2.ErrCodeProtocol, "HEADERS on stream %d, which the gateway did not open", id)
	}
	b := &c.blk
	*b = headerBlock{id: id, endStream: f.StreamEnded(), clen: -1, out: c.scratch[:0]}
	if s != nil {
		b.s = s
		b.trailers = s.gotHead()
	}
	if b.trailers {
		b.out = append(b.out, "0\r\n"...)
	}
	return c.blockFragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

// blockFragment decodes one fragment of the block within its bounds, and
// finishes the block at END_HEADERS.
func (c *clientConn) blockFragment(frag []byte, ended bool) error {
	b := &c.blk
	b.frames++
	b.bytes += len(frag)
	if b.frames > maxBlockFrames || b.bytes > maxBlockBytes {
		return connFault(http2.ErrCodeEnhanceYourCalm, "response header block over %d bytes or %d frames", maxBlockBytes, maxBlockFrames)
	}
	c.dec.SetEmitEnabled(b.s != nil && !b.tooLarge && b.problem == "")
	if _, err := c.dec.Write(frag); err != nil {
		return connFault(http2.ErrCodeCompression, "HPACK: %v", err)
	}
	if !ended {
		return nil
	}
	if err := c.dec.Close(); err != nil {
		return connFault(http2.ErrCodeCompression, "HPACK: %v", err)
	}
	c.scratch = b.out[:0]
	c.endBlock()
	return nil
}

// emit takes one decoded field (the hpack.Decoder's callback).
func (c *clientConn) emit(f hpack.HeaderField) {
	b := &c.blk
	b.listSize += int(f.Size())
	if b.listSize > maxHeaderList {
		b.tooLarge = true
	}
	if b.tooLarge || b.problem != "" || b.s == nil {
		return
	}
	if b.trailers {
		b.trailerField(f)
		return
	}
	b.headField(f)
}

// headField renders one field of a response head.
func (b *headerBlock) headField(f hpack.HeaderField) {
	if f.IsPseudo() {
		if f.Name != ":status" || b.sawRegular || b.status != 0 {
			b.problem = "unexpected pseudo-header field " + f.Name
			return
		}
		code, ok := http1.ParseDecimal(f.Value)
		if !ok || len(f.Value) != 3 || code < 100 {
			b.problem = "malformed :status"
			return
		}
		b.status = int(code)
		b.out = appendStatusLine(b.out[:0], b.status)
		return
	}
	b.sawRegular = true
	switch {
	case b.status == 0:
		b.problem = "field before :status"
		return
	case !httpguts.ValidHeaderFieldName(f.Name) || !httpguts.ValidHeaderFieldValue(f.Value):
		b.problem = "invalid field " + truncate(f.Name)
		return
	}
	switch lowerName(f.Name) {
	case "content-length":
		b.clens++
		n, ok := http1.ParseDecimal(f.Value)
		b.clen, b.clenBad = n, b.clenBad || !ok
		return
	case "trailer":
		b.announced = b.announced || f.Value != ""
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te":
		return
	}
	b.out = appendField(b.out, f.Name, f.Value)
}

// trailerField renders one trailer field; one that cannot be a trailer
// line is left out.
func (b *headerBlock) trailerField(f hpack.HeaderField) {
	if f.IsPseudo() {
		b.problem = "pseudo-header field in trailers"
		return
	}
	if !httpguts.ValidHeaderFieldName(f.Name) || !httpguts.ValidHeaderFieldValue(f.Value) {
		return
	}
	switch lowerName(f.Name) {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
		"content-length", "trailer", "host":
		return
	}
	b.out = appendField(b.out, f.Name, f.Value)
}

// endBlock applies a whole header block to its stream.
func (c *clientConn) endBlock() {
	b := &c.blk
	s := b.s
	if s == nil {
		return
	}
	addr := c.pool.opts.Addr
	switch {
	case b.tooLarge:
		c.failStream(s, http2.ErrCodeProtocol, streamFault(http2.ErrCodeProtocol, "HTTP/2 response from %s: header list over %d bytes", addr, maxHeaderList))
		return
	case b.problem != "":
		c.failStream(s, http2.ErrCodeProtocol, &protocolError{code: http2.ErrCodeProtocol,
			msg: "HTTP/2 response from " + addr + ": " + b.problem, err: http1.ErrBadResponse})
		return
	case b.trailers:
		if !b.endStream {
			c.failStream(s, http2.ErrCodeProtocol, streamFault(http2.ErrCodeProtocol, "HTTP/2 response from %s: trailers without END_STREAM", addr))
			return
		}
		c.endStream(s, append(b.out, "\r\n"...))
		return
	case b.status == 0:
		c.failStream(s, http2.ErrCodeProtocol, &protocolError{code: http2.ErrCodeProtocol,
			msg: "HTTP/2 response from " + addr + ": no :status", err: http1.ErrBadResponse})
		return
	case b.status < 200:
		if b.status == 101 || b.endStream || !s.interim() {
			c.failStream(s, http2.ErrCodeProtocol, streamFault(http2.ErrCodeProtocol, "HTTP/2 response from %s: unexpected %d head", addr, b.status))
		}
		return // a 1xx: the final head follows
	}
	if !s.setHead(b) {
		return
	}
	if b.endStream {
		c.endStream(s, nil)
	}
}

// contentLength is the response's known body size, -1 if unknown: its
// single valid content-length, or 0 for a head that ends the stream.
func (b *headerBlock) contentLength(isHead bool) int64 {
	switch {
	case b.clens == 1 && !b.clenBad:
		return b.clen
	case b.clens == 0 && b.endStream && !isHead:
		return 0
	}
	return -1
}

// truncate bounds a name quoted in an error.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
