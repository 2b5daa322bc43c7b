package h2srv

import (
	"strings"

	"tollgate/proxy/http1"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// blockKind is what a header block being received is for.
type blockKind uint8

const (
	blockNone     blockKind = iota
	blockRequest            // a new stream's request head
	blockTrailers           // an open stream's trailers
	blockDiscard            // decoded only to keep HPACK in step, then dropped
)

// Pseudo-header fields of a request, as bits of Stream.pseudo.
const (
	pseudoMethod uint8 = 1 << iota
	pseudoScheme
	pseudoPath
	pseudoAuthority
)

// headerBlock is the header block being received: a HEADERS frame and
// its CONTINUATIONs, decoded fragment by fragment as they arrive.
type headerBlock struct {
	kind       blockKind
	id         uint32
	stream     *Stream // the request's or trailers' stream; for a discard, the stream to reset
	endStream  bool    // the HEADERS frame had END_STREAM
	frames     int
	bytes      int
	listSize   int
	tooLarge   bool   // decoded size over MaxHeaderListSize
	problem    string // why the block is malformed, "" if it is not
	sawRegular bool   // a regular field came (pseudo-headers must come first)
	reset      bool   // a discarded block whose stream gets RST_STREAM code
	code       http2.ErrCode
}

// discard makes the block one decoded and dropped; reset: the stream then
// gets RST_STREAM code.
func (b *headerBlock) discard(s *Stream, reset bool, code http2.ErrCode) {
	b.kind, b.stream, b.reset, b.code = blockDiscard, s, reset, code
}

// onHeaders starts a header block: a new stream's request, an open
// stream's trailers, or one to decode and drop.
func (c *Conn) onHeaders(f *http2.HeadersFrame) error {
	if f.StreamID%2 == 0 {
		return connErr(http2.ErrCodeProtocol, "HEADERS on an even stream id")
	}
	c.blk = headerBlock{id: f.StreamID, endStream: f.StreamEnded()}
	if err := c.startBlock(f); err != nil {
		return err
	}
	return c.blockFragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

// onContinuation adds a CONTINUATION frame to the block (the Framer has
// checked that it follows its HEADERS with nothing between).
func (c *Conn) onContinuation(f *http2.ContinuationFrame) error {
	return c.blockFragment(f.HeaderBlockFragment(), f.HeadersEnded())
}

// startBlock decides what the block opened by f is for.
func (c *Conn) startBlock(f *http2.HeadersFrame) error {
	b, id := &c.blk, f.StreamID
	selfDep := f.HasPriority() && f.Priority.StreamDep == id
	if s := c.streams[id]; s != nil {
		switch {
		case s.remoteEnded:
			b.discard(s, true, http2.ErrCodeStreamClosed)
		case selfDep:
			b.discard(s, true, http2.ErrCodeProtocol)
		default:
			b.kind, b.stream = blockTrailers, s
			s.trailers = s.trailers[:0]
		}
		return nil
	}
	if !c.idle(id) {
		if id == c.maxClientID {
			return connErr(http2.ErrCodeStreamClosed, "HEADERS on a closed stream")
		}
		return connErr(http2.ErrCodeProtocol, "stream id not above those already used")
	}
	c.maxClientID = id
	switch {
	case c.goingAway:
		b.discard(nil, false, 0)
	case selfDep:
		b.discard(nil, true, http2.ErrCodeProtocol)
	case c.peerGoneAway || uint32(len(c.streams)) >= c.cfg.MaxConcurrentStreams:
		b.discard(nil, true, http2.ErrCodeRefusedStream)
		return c.countReset()
	default:
		b.kind, b.stream = blockRequest, c.newStream(id)
	}
	return nil
}

// blockFragment decodes one fragment of the block within its bounds, and
// finishes the block on END_HEADERS.
func (c *Conn) blockFragment(frag []byte, ended bool) error {
	b := &c.blk
	b.frames++
	b.bytes += len(frag)
	if b.frames > 1+c.cfg.MaxContinuations {
		return connErr(http2.ErrCodeEnhanceYourCalm, reasonContinuations)
	}
	if b.bytes > c.cfg.MaxHeaderBlockBytes {
		return connErr(http2.ErrCodeEnhanceYourCalm, reasonBlockTooLarge)
	}
	c.dec.SetEmitEnabled(b.kind != blockDiscard && !b.tooLarge)
	if _, err := c.dec.Write(frag); err != nil {
		return connErr(http2.ErrCodeCompression, "HPACK: "+err.Error())
	}
	if !ended {
		return nil
	}
	if err := c.dec.Close(); err != nil {
		return connErr(http2.ErrCodeCompression, "HPACK: "+err.Error())
	}
	return c.endBlock()
}

// emit takes one decoded field (the hpack.Decoder's callback).
func (c *Conn) emit(f hpack.HeaderField) {
	b := &c.blk
	b.listSize += int(f.Size())
	if b.listSize > int(c.cfg.MaxHeaderListSize) {
		b.tooLarge = true
	}
	if b.tooLarge || b.problem != "" {
		return
	}
	switch b.kind {
	case blockRequest:
		b.problem = c.requestField(b.stream, f)
	case blockTrailers:
		b.problem = trailerField(b.stream, f)
	}
}

// requestField checks and keeps one field of a request head.
func (c *Conn) requestField(s *Stream, f hpack.HeaderField) string {
	if f.IsPseudo() {
		if c.blk.sawRegular {
			return "pseudo-header field after a regular one"
		}
		return s.setPseudo(f.Name, f.Value)
	}
	c.blk.sawRegular = true
	if p := regularFieldProblem(f.Name, f.Value); p != "" {
		return p
	}
	if f.Name == "content-length" {
		n, ok := http1.ParseDecimal(f.Value)
		if !ok || s.contentLength >= 0 && s.contentLength != n {
			return "invalid content-length"
		}
		s.contentLength = n
	}
	s.fields = append(s.fields, Field{Name: f.Name, Value: f.Value})
	return ""
}

// trailerField checks and keeps one trailer field.
func trailerField(s *Stream, f hpack.HeaderField) string {
	if f.IsPseudo() {
		return "pseudo-header field in trailers"
	}
	if p := regularFieldProblem(f.Name, f.Value); p != "" {
		return p
	}
	s.trailers = append(s.trailers, Field{Name: f.Name, Value: f.Value})
	return ""
}

// setPseudo keeps one request pseudo-header field.
func (s *Stream) setPseudo(name, value string) string {
	var bit uint8
	switch name {
	case ":method":
		bit, s.method = pseudoMethod, value
	case ":scheme":
		bit, s.scheme = pseudoScheme, value
	case ":path":
		bit, s.path = pseudoPath, value
	case ":authority":
		bit, s.authority = pseudoAuthority, value
	default:
		return "pseudo-header field " + name + " in a request"
	}
	if s.pseudo&bit != 0 {
		return "repeated " + name
	}
	s.pseudo |= bit
	return ""
}

// headProblem says what a whole request head lacks (RFC 9113 section
// 8.3.1), or "" if nothing.
func (s *Stream) headProblem() string {
	if s.method == "CONNECT" {
		if s.pseudo&(pseudoScheme|pseudoPath) != 0 || s.authority == "" {
			return "CONNECT needs :authority only"
		}
		return ""
	}
	const need = pseudoMethod | pseudoScheme | pseudoPath
	switch {
	case s.pseudo&need != need || s.method == "":
		return "missing :method, :scheme or :path"
	case s.path == "":
		return "empty :path"
	case s.path[0] != '/' && (s.path != "*" || s.method != "OPTIONS"):
		return "invalid :path"
	}
	return ""
}

// endBlock acts on a whole, decoded header block.
func (c *Conn) endBlock() error {
	b := c.blk
	c.blk = headerBlock{}
	switch b.kind {
	case blockDiscard:
		if b.reset && b.stream != nil {
			c.resetStream(b.stream, b.code)
		} else if b.reset {
			c.fr.WriteRSTStream(b.id, b.code)
		}
	case blockRequest:
		c.openRequest(&b)
	case blockTrailers:
		c.endTrailers(&b)
	}
	return nil
}

// openRequest hands a valid request head to the handler, or answers a bad
// one: 431 for one too large, RST_STREAM PROTOCOL_ERROR for a malformed
// one.
func (c *Conn) openRequest(b *headerBlock) {
	s := b.stream
	switch {
	case b.tooLarge:
		c.tellStreamError("header_list_too_large")
		c.writeHead(s.id, 431, nil, true)
		if !b.endStream {
			c.fr.WriteRSTStream(s.id, http2.ErrCodeNo)
		}
		c.closeStream(s)
		return
	case b.problem != "" || s.headProblem() != "" || b.endStream && s.contentLength > 0:
		c.countMalformed(b.problem)
		c.resetStream(s, http2.ErrCodeProtocol)
		return
	}
	s.remoteEnded = b.endStream
	s.announced = true
	c.h.Request(s)
}

// countMalformed tells Config.StreamError of a malformed request head.
func (c *Conn) countMalformed(problem string) {
	if strings.HasPrefix(problem, problemConnectionSpecific) || problem == problemTE {
		c.tellStreamError("connection_specific_field")
		return
	}
	c.tellStreamError("malformed_request")
}

// tellStreamError tells Config.StreamError, if set, of a request refused.
func (c *Conn) tellStreamError(kind string) {
	if c.cfg.StreamError != nil {
		c.cfg.StreamError(kind)
	}
}

// endTrailers hands valid trailers to the handler, ending the request.
func (c *Conn) endTrailers(b *headerBlock) {
	s := b.stream
	switch {
	case b.tooLarge:
		c.tellStreamError("header_list_too_large")
		c.resetStream(s, http2.ErrCodeEnhanceYourCalm)
		return
	case !b.endStream || b.problem != "" || s.contentLength >= 0 && s.received != s.contentLength:
		c.resetStream(s, http2.ErrCodeProtocol)
		return
	}
	s.remoteEnded = true
	c.h.Trailers(s, s.trailers)
	if !s.closed && s.localEnded {
		c.closeStream(s)
	}
}

// writeHead encodes a response head (status != 0) or trailers (status 0)
// and queues it as HEADERS plus CONTINUATIONs.
func (c *Conn) writeHead(id uint32, status int, fields []Field, end bool) {
	c.encBuf.Reset()
	if status != 0 {
		c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: statusText(status)})
	}
	for _, f := range fields {
		if f.Name == "" || f.Name[0] == ':' {
			continue
		}
		name := lowerName(f.Name)
		if connectionSpecific(name) {
			continue
		}
		c.enc.WriteField(hpack.HeaderField{Name: name, Value: f.Value})
	}
	c.writeBlock(id, c.encBuf.Bytes(), end)
}

// writeBlock cuts an encoded header block into frames of the client's
// maximum size.
func (c *Conn) writeBlock(id uint32, block []byte, end bool) {
	size := c.peer.maxFrameSize
	first := block[:min(len(block), size)]
	rest := block[len(first):]
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: end, EndHeaders: len(rest) == 0})
	for len(rest) > 0 {
		k := min(len(rest), size)
		c.fr.WriteContinuation(id, k == len(rest), rest[:k])
		rest = rest[k:]
	}
}
