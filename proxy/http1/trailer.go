package http1

import "bufio"

// The trailer section of a chunked body, as the decoders keep it.
//
// ChunkScanner and ChunkedReader check each trailer line like a header
// field (a token name right before the colon, no control bytes in the
// value; otherwise ErrBadChunk), leave out the fields a trailer must not
// carry, and keep the rest as field lines for the gateway to write after
// the last chunk it sends. The section is bounded three ways, each an
// ErrBadChunk: at most 63 fields (64 lines with the empty one), each line
// within the decoder's line limit, and the whole section within that limit
// too (the size of the buffer the decoder reads through).
//
// A body without trailers costs nothing; one with trailers grows a buffer
// that the decoder keeps for its next body (up to trailerKeep bytes).

// maxTrailerLines bounds the trailer section's lines, the empty one that
// ends it included.
const maxTrailerLines = 64

// trailerKeep is the largest trailer buffer kept from one body to the
// next; a larger one is dropped at Reset.
const trailerKeep = 4 << 10

// trailerFields is the kept part of one body's trailer section.
type trailerFields struct {
	buf   []byte // "name: value\r\n" lines of the fields kept
	lines int    // field lines seen, kept or not
	size  int    // bytes of the section so far, CRLFs included
}

// reset empties t for the next body, keeping a small buffer.
func (t *trailerFields) reset() {
	buf := t.buf[:0]
	if cap(buf) > trailerKeep {
		buf = nil
	}
	*t = trailerFields{buf: buf}
}

// add takes one trailer line (without its CRLF; n bytes with it) that is
// not the empty one: ErrBadChunk when it is malformed or passes a bound
// (max is the line limit, which bounds the whole section as well).
func (t *trailerFields) add(line []byte, n, max int) error {
	t.lines++
	t.size += n
	if t.lines >= maxTrailerLines || t.size > max {
		return ErrBadChunk
	}
	colon, vs, ve, err := fieldBounds(line)
	if err != nil {
		return ErrBadChunk
	}
	if forbiddenInTrailer(line[:colon]) {
		return nil
	}
	t.buf = append(t.buf, line[:colon]...)
	t.buf = append(t.buf, ": "...)
	t.buf = append(t.buf, line[vs:ve]...)
	t.buf = append(t.buf, "\r\n"...)
	return nil
}

// forbiddenInTrailer reports a field that must not be passed on in a
// trailer section (RFC 9110 section 6.5.1): the message's framing
// (Content-Length, and Transfer-Encoding among the hop-by-hop fields), its
// routing (Host), and the hop-by-hop fields (Connection, Keep-Alive,
// Proxy-Connection, TE, Trailer, Upgrade, Proxy-Authenticate,
// Proxy-Authorization). Other fields pass.
func forbiddenInTrailer(name []byte) bool {
	return EqualFold(name, "Content-Length") || EqualFold(name, "Host") || IsHopByHop(name, nil)
}

// WriteTrailerNames writes the Trailer field announcing the trailer
// fields that h's Trailer fields name, without those a trailer must not
// carry (which the decoders leave out); nothing when none is left.
func WriteTrailerNames(w *bufio.Writer, h *Header) {
	first := true
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		if !EqualFold(name, "Trailer") {
			continue
		}
		for len(v) > 0 {
			var tok []byte
			tok, v = nextToken(v)
			if len(tok) == 0 || !isToken(tok) || forbiddenInTrailer(tok) {
				continue
			}
			if first {
				w.WriteString("Trailer: ")
				first = false
			} else {
				w.WriteString(", ")
			}
			w.Write(tok)
		}
	}
	if !first {
		w.WriteString("\r\n")
	}
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return len(b) > 0
}
