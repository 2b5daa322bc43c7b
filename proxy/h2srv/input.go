package h2srv

import (
	"io"

	"golang.org/x/net/http2"
)

// input cuts the bytes fed to a connection into whole frames. A frame that
// arrives whole in one Feed is parsed in place; the start of one that does
// not is kept in partial until the rest comes.
type input struct {
	partial []byte // a frame's first bytes, or a whole frame being handed out
	handed  bool   // partial holds a whole frame handed out last time
	max     uint32 // the largest payload accepted
}

// frameLen is the payload length in a frame header.
func frameLen(h []byte) uint32 { return uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2]) }

// next returns the next whole frame (header and payload) and how many
// bytes of p it used; frame is nil when p ran out first. The frame is
// valid until the next call. A header announcing a payload over max is a
// FRAME_SIZE_ERROR, found before the payload is waited for.
func (in *input) next(p []byte) (frame []byte, used int, err error) {
	if in.handed {
		in.partial, in.handed = in.partial[:0], false
	}
	if len(in.partial) == 0 && len(p) >= frameHeaderLen {
		n := frameLen(p)
		if n > in.max {
			return nil, 0, errFrameTooLarge
		}
		if size := frameHeaderLen + int(n); len(p) >= size {
			return p[:size], size, nil
		}
	}
	for {
		need := frameHeaderLen
		if len(in.partial) >= frameHeaderLen {
			n := frameLen(in.partial)
			if n > in.max {
				return nil, used, errFrameTooLarge
			}
			need += int(n)
		}
		if len(in.partial) == need {
			in.handed = true
			return in.partial, used, nil
		}
		if used == len(p) {
			return nil, used, nil
		}
		k := min(need-len(in.partial), len(p)-used)
		in.partial = append(in.partial, p[used:used+k]...)
		used += k
	}
}

// source is the Framer's io.Reader: it reads the one whole frame it is
// given, so the Framer never sees a partial frame.
type source struct{ b []byte }

// Read copies from the frame given.
func (s *source) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// partialHeaders reports that the frame being received, not whole yet, is
// a HEADERS frame (a header block has begun).
func (in *input) partialHeaders() bool {
	return !in.handed && len(in.partial) > 3 && http2.FrameType(in.partial[3]) == http2.FrameHeaders
}
