package proxy

import (
	"encoding/binary"

	"golang.org/x/net/http2/hpack"
)

// Connection-specific header fields in HTTP/2 requests.
//
// RFC 9113 section 8.2.2 makes a request that carries a
// connection-specific field (Connection, Keep-Alive, Proxy-Connection,
// Transfer-Encoding, Upgrade) or a TE other than "trailers" malformed: a
// stream error of type PROTOCOL_ERROR (h2spec http2/8.1.2.2). x/net's
// server answers such a request 400 from a handler of its own instead
// (checkValidHTTP2RequestHeaders, new400Handler), before the gateway's
// handler could see it.
//
// So the guard (h2guard.go), which sees every frame the client sends
// before x/net reads it, decodes each header block too, with a decoder
// of its own (x/net's hpack, never hand-written HPACK) kept in step with
// the server's: the same dynamic table size and every HEADERS and
// CONTINUATION fragment the server decodes, padding and priority fields
// left out. A block is passed on unchanged (the server's HPACK state must
// follow the client's), and when it named a forbidden field the guard
// puts a PRIORITY frame making the block's stream depend on itself
// before whatever the client sends next: x/net answers that with
// RST_STREAM(PROTOCOL_ERROR) for the stream (checkPriority), and writes
// nothing more on it. (x/net's 400 handler may still win the race to
// answer first; the reset follows it.)
//
// The block decoder holds at most h2BlockMax bytes of a header block
// (a field split across reads waits in the decoder until its end comes).
// Past that bound, or on any decoding error, the guard stops inspecting
// the connection's blocks (its decoder could no longer follow the
// server's) and x/net judges them alone, as before: a CONTINUATION flood
// costs the guard nothing more.

const (
	// h2DecoderTableSize is the dynamic table size x/net's server
	// decodes with and advertises (SETTINGS_HEADER_TABLE_SIZE): its
	// default, as the gateway sets none (http2.Server's
	// MaxDecoderHeaderTableSize; TestH2GuardTableSizeMatchesServer).
	h2DecoderTableSize = 4096
	// h2BlockMax bounds the bytes of one header block the guard decodes,
	// and a field's length.
	h2BlockMax = 64 << 10

	frameHeaders      = 0x1
	framePriority     = 0x2
	frameContinuation = 0x9
	flagEndHeaders    = 0x4
	flagPadded        = 0x8
	flagPriority      = 0x20
	priorityLen       = 5 // a PRIORITY frame's payload, and HEADERS' priority fields
)

// h2HeaderBlock follows the header blocks of one connection.
type h2HeaderBlock struct {
	dec *hpack.Decoder // nil once inspection stopped

	// The block being read.
	stream uint32
	open   bool // begun, its END_HEADERS frame not read yet
	skip   bool // the server does not decode this block (see headers)
	size   int  // bytes decoded
	bad    bool // it names a connection-specific field
	te     bool // it had a TE field

	// The frame being read, when it carries a fragment.
	inFrame bool
	ends    bool // it ends the block
	padLen  bool // its pad length byte is next
	prio    int  // priority bytes still to pass
	frag    int  // fragment bytes still to decode
}

func newH2HeaderBlock() *h2HeaderBlock {
	h := &h2HeaderBlock{dec: hpack.NewDecoder(h2DecoderTableSize, nil)}
	h.dec.SetMaxStringLength(h2BlockMax)
	h.dec.SetEmitFunc(h.field)
	return h
}

// field judges one decoded field as x/net's checkValidHTTP2RequestHeaders
// does (wire names are lower case; x/net resets a stream that sends
// another).
func (h *h2HeaderBlock) field(f hpack.HeaderField) {
	switch f.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		h.bad = true
	case "te":
		if h.te || f.Value != "trailers" && f.Value != "" {
			h.bad = true
		}
		h.te = true
	}
}

// frame starts a frame, from its header. length is its payload's.
func (h *h2HeaderBlock) frame(typ, flags byte, stream uint32, length int) {
	h.inFrame = false
	if h.dec == nil {
		return
	}
	switch typ {
	case frameHeaders:
		if h.open {
			h.stop() // x/net ends the connection: CONTINUATION expected
			return
		}
		h.open, h.stream, h.skip = true, stream, false
		h.padLen = flags&flagPadded != 0
		h.prio = 0
		if flags&flagPriority != 0 {
			h.prio = priorityLen
		}
		h.frag = length - h.prio
		if h.padLen {
			h.frag--
		}
		if h.frag < 0 {
			h.stop() // too short for its fields: x/net ends the connection
			return
		}
	case frameContinuation:
		if !h.open || stream != h.stream {
			h.stop() // x/net ends the connection
			return
		}
		h.padLen, h.prio, h.frag = false, 0, length
	default:
		if h.open {
			h.stop() // x/net ends the connection: CONTINUATION expected
		}
		return
	}
	h.inFrame, h.ends = true, flags&flagEndHeaders != 0
}

// payload takes the next bytes of the frame's payload.
func (h *h2HeaderBlock) payload(b []byte) {
	for h.inFrame && h.dec != nil && len(b) > 0 {
		switch {
		case h.padLen:
			h.padLen = false
			h.frag -= int(b[0])
			b = b[1:]
			if h.frag < 0 {
				// Padding longer than the frame: x/net resets the
				// stream (frame_headers_pad_too_big) without decoding
				// the block, nor its CONTINUATION frames, and goes on.
				h.skip, h.frag = true, 0
			}
		case h.prio > 0:
			k := min(h.prio, len(b))
			h.prio -= k
			b = b[k:]
		case h.frag > 0 && !h.skip:
			k := min(h.frag, len(b))
			h.frag -= k
			h.decode(b[:k])
			b = b[k:]
		default:
			return // padding
		}
	}
}

// decode feeds a fragment to the decoder.
func (h *h2HeaderBlock) decode(b []byte) {
	h.size += len(b)
	if h.size > h2BlockMax {
		h.stop()
		return
	}
	if _, err := h.dec.Write(b); err != nil {
		h.stop() // x/net ends the connection (COMPRESSION_ERROR), or decodes what this decoder cannot
	}
}

// frameEnd ends the frame; for the frame that ends a block it returns
// the block's stream and whether the block named a forbidden field.
func (h *h2HeaderBlock) frameEnd() (stream uint32, bad bool) {
	if !h.inFrame || h.dec == nil {
		return 0, false
	}
	h.inFrame = false
	if !h.ends {
		return 0, false
	}
	bad = h.bad && !h.skip
	h.open, h.bad, h.te, h.size = false, false, false, 0
	if err := h.dec.Close(); err != nil {
		h.stop() // a field cut short: x/net ends the connection
		return 0, false
	}
	return h.stream, bad
}

// stop ends inspection for the connection.
func (h *h2HeaderBlock) stop() {
	h.dec, h.inFrame, h.open = nil, false, false
}

// putPriorityLoop writes into b (frameHeaderLen+priorityLen bytes) a
// PRIORITY frame that makes stream depend on itself.
func putPriorityLoop(b []byte, stream uint32) {
	b[0], b[1], b[2] = 0, 0, priorityLen
	b[3], b[4] = framePriority, 0
	binary.BigEndian.PutUint32(b[5:], stream&0x7fffffff)
	binary.BigEndian.PutUint32(b[9:], stream&0x7fffffff) // not exclusive
	b[13] = 0                                            // weight 1
}
