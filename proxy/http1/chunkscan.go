package http1

import "bytes"

// ChunkScanner decodes a chunked body from whatever bytes are at hand,
// for an event loop that cannot wait for the rest of a line: Next looks at
// the buffered bytes and says how many it consumed, and the data they
// carried, or that it needs more. It applies the same rules as
// ChunkedReader (hex sizes without overflow, CRLF after every chunk,
// trailer fields checked and kept, see Trailer). Reset it before each
// body.
type ChunkScanner struct {
	state   scanState
	left    int64 // data bytes left in the current chunk
	trailer trailerFields
	maxLine int // a line longer than this (no LF within it) is refused
}

type scanState uint8

const (
	scanSize    scanState = iota // a chunk-size line
	scanData                     // chunk data
	scanDataEnd                  // the CRLF after chunk data
	scanTrailer                  // trailer lines, up to the empty one
	scanDone                     // the body ended
)

// Reset starts a new body; maxLine bounds a size or trailer line, and
// the trailer section. The trailer buffer is kept for the new body.
func (c *ChunkScanner) Reset(maxLine int) {
	c.trailer.reset()
	c.state, c.left, c.maxLine = scanSize, 0, maxLine
}

// Left returns the data bytes still to come in the current chunk, as its
// size line announced them.
func (c *ChunkScanner) Left() int64 { return c.left }

// Done reports that the last chunk and the trailers were read.
func (c *ChunkScanner) Done() bool { return c.state == scanDone }

// Trailer returns the trailer fields read so far (all of them once Done),
// as "name: value\r\n" lines without the fields a trailer must not carry:
// empty for a body without trailers. It is valid until the next Reset.
func (c *ChunkScanner) Trailer() []byte { return c.trailer.buf }

// Next consumes from b: n bytes were used (0: more bytes are needed), data
// is chunk data among them (a sub-slice of b), and err is ErrBadChunk for
// a malformed body.
func (c *ChunkScanner) Next(b []byte) (n int, data []byte, err error) {
	switch c.state {
	case scanData:
		k := int(min(int64(len(b)), c.left))
		c.left -= int64(k)
		if c.left == 0 {
			c.state = scanDataEnd
		}
		return k, b[:k], nil
	case scanDataEnd:
		if len(b) < 2 {
			if len(b) == 1 && b[0] != '\r' {
				return 0, nil, ErrBadChunk
			}
			return 0, nil, nil
		}
		if b[0] != '\r' || b[1] != '\n' {
			return 0, nil, ErrBadChunk
		}
		c.state = scanSize
		return 2, nil, nil
	case scanDone:
		return 0, nil, nil
	}
	line, n, err := c.line(b)
	if n == 0 || err != nil {
		return 0, nil, err
	}
	if c.state == scanTrailer {
		return n, nil, c.trailerLine(line, n)
	}
	size, err := parseChunkSize(line)
	if err != nil {
		return 0, nil, err
	}
	if size == 0 {
		c.state = scanTrailer
	} else {
		c.left, c.state = size, scanData
	}
	return n, nil, nil
}

// line returns the CRLF-terminated line at the start of b without its
// CRLF, and its length with it; n is 0 when b holds no whole line yet.
func (c *ChunkScanner) line(b []byte) (line []byte, n int, err error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(b) >= c.maxLine {
			return nil, 0, ErrBadChunk
		}
		return nil, 0, nil
	}
	if i+1 > c.maxLine || i == 0 || b[i-1] != '\r' {
		return nil, 0, ErrBadChunk
	}
	return b[:i-1], i + 1, nil
}

// trailerLine takes one trailer line, n bytes with its CRLF: the empty
// one ends the body.
func (c *ChunkScanner) trailerLine(line []byte, n int) error {
	if len(line) == 0 {
		c.state = scanDone
		return nil
	}
	return c.trailer.add(line, n, c.maxLine)
}
