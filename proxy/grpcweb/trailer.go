package grpcweb

import "encoding/binary"

// The trailer frame. gRPC-Web carries the upstream's trailers (its
// HTTP/2 trailers, which a browser cannot read) as the body's last
// length-prefixed frame: flag byte 0x80 (an uncompressed trailer), the
// length as four big-endian bytes, then the fields as an HTTP/1 header
// block without the blank line that would end it, names in lower case.

// TrailerFlag is the flag byte of an uncompressed trailer frame.
const TrailerFlag = 0x80

// FrameHeaderLen is the length prefix of a gRPC(-Web) frame: the flag
// byte and the four-byte length.
const FrameHeaderLen = 5

// AppendTrailerFrame appends the trailer frame of fields, given as
// "name: value\r\n" lines (as the gateway's chunked decoders keep a
// trailer section), with each name lower-cased.
func AppendTrailerFrame(dst, fields []byte) []byte {
	dst = append(dst, TrailerFlag)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(fields)))
	start := len(dst)
	dst = append(dst, fields...)
	lowerNames(dst[start:])
	return dst
}

// lowerNames lower-cases the name of each "name: value\r\n" line of b.
func lowerNames(b []byte) {
	inName := true
	for i, c := range b {
		switch {
		case inName && c == ':':
			inName = false
		case inName && 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == '\n':
			inName = true
		}
	}
}
