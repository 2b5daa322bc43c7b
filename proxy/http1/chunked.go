package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// ErrBadChunk is a malformed chunked body: a size that is not hex or
// overflows, a line not ended by CRLF, chunk data not followed by CRLF,
// or a trailer section that is malformed or too large (trailer.go).
var ErrBadChunk = errors.New("invalid chunked encoding")

// ChunkedReader decodes a chunked body strictly: hex sizes without
// overflow, CRLF after every chunk, trailer fields checked and kept (see
// Trailer; a trailer line, and the whole section, within the buffer size
// of the reader it is given).
//
// Read returns the bytes of a chunk as soon as they are buffered: it does
// not wait for the CRLF that ends the chunk (the next Read checks it), nor
// for more bytes than the client has sent.
//
// The zero ChunkedReader is not ready: Reset gives it its reader.
type ChunkedReader struct {
	r    *bufio.Reader
	left int64 // bytes left in the current chunk
	crlf bool  // the CRLF ending the last chunk's data is still to be read
	done bool
	err  error

	trailer trailerFields
}

// Reset starts decoding a new body from r. The trailer buffer is kept
// for the new body.
func (c *ChunkedReader) Reset(r *bufio.Reader) {
	c.trailer.reset()
	c.r, c.left, c.crlf, c.done, c.err = r, 0, false, false, nil
}

// Left returns how many bytes of the current chunk are still to be read:
// announced by its size line, not yet returned by Read.
func (c *ChunkedReader) Left() int64 { return c.left }

// Trailer returns the trailer fields of a body read to its end (Read
// returned io.EOF), as "name: value\r\n" lines without the fields a
// trailer must not carry: empty for a body without trailers. It is valid
// until the next Reset.
func (c *ChunkedReader) Trailer() []byte { return c.trailer.buf }

// Err returns the error that ended decoding: nil while it goes on, io.EOF
// after the whole body, ErrBadChunk or the reader's error otherwise.
func (c *ChunkedReader) Err() error { return c.err }

// Read implements io.Reader over the decoded bytes.
func (c *ChunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left == 0 && !c.done {
		if c.crlf {
			if c.err = c.readCRLF(); c.err != nil {
				return 0, c.err
			}
			c.crlf = false
		}
		if c.err = c.nextChunk(); c.err != nil {
			return 0, c.err
		}
	}
	if c.done {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	c.crlf = c.left == 0
	c.err = err
	return n, err
}

// CanRead reports whether the next Read returns without waiting for the
// peer: bytes of the current chunk are buffered, or the framing up to the
// next chunk's first byte, or to the end of the body, is (or the next Read
// fails at once). A caller that holds decoded bytes back flushes them
// when it is false, before a Read that would wait.
func (c *ChunkedReader) CanRead() bool {
	if c.err != nil || c.done {
		return true
	}
	b, _ := c.r.Peek(c.r.Buffered())
	if c.left > 0 {
		return len(b) > 0
	}
	if c.crlf {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		b = b[i+1:]
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return false
	}
	if i == 0 || b[i-1] != '\r' {
		return true // a bad line: Read fails
	}
	size, err := parseChunkSize(b[:i-1])
	if err != nil {
		return true
	}
	b = b[i+1:]
	if size > 0 {
		return len(b) > 0
	}
	for k := 0; k < 64; k++ { // the last chunk: trailers up to the empty line
		i = bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		if i <= 1 {
			return true
		}
		b = b[i+1:]
	}
	return true
}

func (c *ChunkedReader) nextChunk() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	size, err := parseChunkSize(line)
	if err != nil {
		return err
	}
	if size == 0 {
		c.done = true
		return c.readTrailer()
	}
	c.left = size
	return nil
}

func (c *ChunkedReader) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, ErrBadChunk
	}
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, ErrBadChunk
	}
	return line[:len(line)-2], nil
}

func (c *ChunkedReader) readCRLF() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return ErrBadChunk
	}
	return nil
}

// readTrailer reads the trailer section up to its empty line: io.EOF at
// its end.
func (c *ChunkedReader) readTrailer() error {
	for {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return io.EOF
		}
		if err := c.trailer.add(line, len(line)+2, c.r.Size()); err != nil {
			return err
		}
	}
}

// parseChunkSize reads "HEX[;ext]" with at most 15 hex digits.
func parseChunkSize(line []byte) (int64, error) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto ext
		}
		if i >= 15 {
			return 0, ErrBadChunk
		}
		n = n<<4 | int64(d)
	}
ext:
	if i == 0 {
		return 0, ErrBadChunk
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != ';' {
		return 0, ErrBadChunk
	}
	return n, nil
}

// WriteLastChunk writes the last chunk and the trailer section that ends
// a chunked body: "0\r\n", the trailer's field lines (as Trailer returns
// them; none for an empty one), "\r\n".
func WriteLastChunk(w *bufio.Writer, trailer []byte) {
	w.WriteString("0\r\n")
	w.Write(trailer)
	w.WriteString("\r\n")
}

// WriteChunk frames p as one chunk on w (nothing for an empty p, which
// would be the last chunk).
func WriteChunk(w *bufio.Writer, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	writeChunkSize(w, len(p))
	w.Write(p)
	_, err := w.WriteString("\r\n")
	return err
}

// AppendChunk appends p framed as one chunk to dst (nothing for an empty
// p, which would be the last chunk).
func AppendChunk(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	dst = append(appendChunkSize(dst, len(p)), p...)
	return append(dst, "\r\n"...)
}

// ChunkRoom is the room FrameChunk needs before a chunk's data: a size
// line of up to 8 hex digits and its CRLF.
const ChunkRoom = 10

// FrameChunk frames in place the n data bytes at buf[ChunkRoom:], for a
// body read into a buffer with room around it: their size line goes just
// before them, a CRLF just after (buf needs those 2 bytes), and the chunk
// is returned, a sub-slice of buf. 0 < n < 1<<32.
func FrameChunk(buf []byte, n int) []byte {
	var digits [8]byte
	size := strconv.AppendInt(digits[:0], int64(n), 16)
	start := ChunkRoom - len(size) - 2
	copy(buf[start:], size)
	copy(buf[ChunkRoom-2:], "\r\n")
	copy(buf[ChunkRoom+n:], "\r\n")
	return buf[start : ChunkRoom+n+2]
}

// writeChunkSize writes a chunk-size line for n > 0 bytes, a digit at a
// time (a line built in a local array would escape to the heap through
// the writer).
func writeChunkSize(w *bufio.Writer, n int) {
	shift := 0
	for n>>shift >= 16 {
		shift += 4
	}
	for ; shift >= 0; shift -= 4 {
		w.WriteByte("0123456789abcdef"[n>>shift&15])
	}
	w.WriteString("\r\n")
}

// appendChunkSize appends a chunk-size line for n bytes.
func appendChunkSize(dst []byte, n int) []byte {
	return append(strconv.AppendInt(dst, int64(n), 16), "\r\n"...)
}
