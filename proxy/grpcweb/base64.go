package grpcweb

import (
	"encoding/base64"
	"errors"
)

// Base64 both ways, as gRPC-Web's text mode wants it: the standard
// alphabet with padding. An answer is encoded piece by piece, each piece
// padded, so a message leaves as soon as it arrives (the protocol lets
// the encoder pad whenever it flushes); a request is decoded in pieces
// cut anywhere, a group of four characters carried from one piece to the
// next, and a padded group may be followed by more (concatenated
// chunks).

// ErrBadBase64 is a text body that is not base64: a byte outside the
// alphabet, padding where a group cannot have it, or a group left
// incomplete at the end.
var ErrBadBase64 = errors.New("grpc-web-text body is not valid base64")

// AppendEncode appends the base64 of p, padded, to dst.
func AppendEncode(dst, p []byte) []byte {
	return base64.StdEncoding.AppendEncode(dst, p)
}

// EncodedLen is the length of AppendEncode's output for n bytes.
func EncodedLen(n int) int { return base64.StdEncoding.EncodedLen(n) }

// decodeMap maps a base64 character to its 6 bits; 0xff is no
// character of the alphabet, 0xfe is the padding '='.
var decodeMap = func() (m [256]byte) {
	for i := range m {
		m[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		m[alphabet[i]] = byte(i)
	}
	m['='] = 0xfe
	return m
}()

// Decoder decodes a base64 stream given in pieces. The zero Decoder is
// ready; Reset makes it ready for another stream.
type Decoder struct {
	group [4]byte // the characters of an incomplete group (values from decodeMap)
	n     int     // how many group holds
	err   error
}

// Reset forgets the stream so far.
func (d *Decoder) Reset() { *d = Decoder{} }

// Decode appends the bytes src completes to dst; the characters of a
// group src leaves incomplete wait for the next piece. After an error
// every call returns it.
func (d *Decoder) Decode(dst, src []byte) ([]byte, error) {
	if d.err != nil {
		return dst, d.err
	}
	for _, c := range src {
		v := decodeMap[c]
		if v == 0xff {
			d.err = ErrBadBase64
			return dst, d.err
		}
		d.group[d.n] = v
		d.n++
		if d.n < 4 {
			continue
		}
		d.n = 0
		var err error
		if dst, err = appendGroup(dst, d.group); err != nil {
			d.err = err
			return dst, err
		}
	}
	return dst, nil
}

// Finish reports the end of the stream: ErrBadBase64 when a group is
// left incomplete (or an earlier piece failed).
func (d *Decoder) Finish() error {
	if d.err == nil && d.n != 0 {
		d.err = ErrBadBase64
	}
	return d.err
}

// appendGroup decodes one group of four: three bytes, or two ("xxx="),
// or one ("xx=="); padding elsewhere is an error.
func appendGroup(dst []byte, g [4]byte) ([]byte, error) {
	const pad = 0xfe
	switch {
	case g[0] == pad || g[1] == pad || (g[2] == pad && g[3] != pad):
		return dst, ErrBadBase64
	case g[2] == pad: // the bits padding leaves over are ignored, as most decoders do
		return append(dst, g[0]<<2|g[1]>>4), nil
	case g[3] == pad:
		return append(dst, g[0]<<2|g[1]>>4, g[1]<<4|g[2]>>2), nil
	}
	return append(dst, g[0]<<2|g[1]>>4, g[1]<<4|g[2]>>2, g[2]<<6|g[3]), nil
}

// DecodeInPlace decodes a whole base64 body into its own bytes (each
// group of four becomes at most three, so writing never passes reading)
// and returns the decoded prefix.
func DecodeInPlace(b []byte) ([]byte, error) {
	var d Decoder
	out, err := d.Decode(b[:0], b)
	if err != nil {
		return nil, err
	}
	return out, d.Finish()
}
