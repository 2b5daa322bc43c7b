package tracing

// W3C Trace Context (https://www.w3.org/TR/trace-context/): the
// traceparent header, version 00, is
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", 55 bytes.

// traceparentLen is the length of a version 00 traceparent value.
const traceparentLen = 55

// flagSampled is the sampled bit of the trace flags.
const flagSampled = 0x01

// parent is what a valid incoming traceparent carries.
type parent struct {
	traceID [16]byte
	spanID  [8]byte
	flags   byte
}

// parseTraceparent reads a traceparent value. ok is false for anything
// the W3C spec says to ignore: a wrong length or layout, upper-case or
// non-hex digits, version ff, an all-zero trace or parent id. A version
// above 00 is read as 00 (its first 55 bytes), as the spec asks.
func parseTraceparent(v []byte) (p parent, ok bool) {
	if len(v) < traceparentLen || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return p, false
	}
	var ver [1]byte
	if !unhex(ver[:], v[0:2]) || ver[0] == 0xff || (ver[0] == 0 && len(v) != traceparentLen) ||
		(len(v) > traceparentLen && v[traceparentLen] != '-') {
		return p, false
	}
	var flags [1]byte
	if !unhex(p.traceID[:], v[3:35]) || !unhex(p.spanID[:], v[36:52]) || !unhex(flags[:], v[53:55]) {
		return p, false
	}
	if p.traceID == ([16]byte{}) || p.spanID == ([8]byte{}) {
		return p, false
	}
	p.flags = flags[0]
	return p, true
}

// unhex decodes lower-case hex src into dst (len(src) == 2*len(dst)).
func unhex(dst, src []byte) bool {
	for i := range dst {
		hi, ok1 := hexVal(src[2*i])
		lo, ok2 := hexVal(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// appendHex appends src in lower-case hex.
func appendHex(dst, src []byte) []byte {
	for _, b := range src {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return dst
}

// formatTraceparent writes the sampled version 00 traceparent of span
// spanID in trace traceID into dst.
func formatTraceparent(dst *[traceparentLen]byte, traceID [16]byte, spanID [8]byte) {
	b := append(dst[:0], "00-"...)
	b = appendHex(b, traceID[:])
	b = append(b, '-')
	b = appendHex(b, spanID[:])
	_ = append(b, "-01"...)
}
