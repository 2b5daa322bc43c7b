package http1

// ChunkSink decodes a chunked body written to it in pieces: a
// ChunkScanner that keeps what a write leaves of a line (or of a chunk's
// CRLF) for the next one. Reset it before each body.
type ChunkSink struct {
	sc    ChunkScanner
	carry []byte // bytes that did not make a whole piece yet
}

// Reset starts a new body; maxLine bounds a size or trailer line, as
// ChunkScanner.Reset's does. The buffers are kept.
func (s *ChunkSink) Reset(maxLine int) {
	s.sc.Reset(maxLine)
	s.carry = s.carry[:0]
}

// Done reports that the last chunk and the trailers were written.
func (s *ChunkSink) Done() bool { return s.sc.Done() }

// Trailer returns the trailer fields, as ChunkScanner.Trailer does.
func (s *ChunkSink) Trailer() []byte { return s.sc.Trailer() }

// Write decodes p, handing each piece of chunk data to data (a
// sub-slice valid during the call only). n is how many bytes of p belong
// to the body: less than len(p) only once the body is done, the rest
// being bytes after its end. err is ErrBadChunk for a malformed body,
// or data's error.
func (s *ChunkSink) Write(p []byte, data func([]byte) error) (n int, err error) {
	in := p
	if len(s.carry) > 0 {
		s.carry = append(s.carry, p...)
		in = s.carry
	}
	used := 0
	for !s.sc.Done() {
		k, d, err := s.sc.Next(in[used:])
		if err != nil {
			return 0, err
		}
		if k == 0 {
			break
		}
		used += k
		if len(d) > 0 {
			if err := data(d); err != nil {
				return 0, err
			}
		}
	}
	if s.sc.Done() {
		s.carry = s.carry[:0]
		return len(p) - (len(in) - used), nil
	}
	s.carry = append(s.carry[:0], in[used:]...) // may overlap carry itself: copy moves forward safely
	return len(p), nil
}
