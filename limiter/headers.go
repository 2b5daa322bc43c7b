package limiter

import "strconv"

// Header modes of limits.headers.
const (
	HeadersIETF   = "ietf"
	HeadersLegacy = "legacy"
	HeadersNone   = "none"
)

// Header names.
const (
	HeaderPolicy     = "RateLimit-Policy"
	HeaderRateLimit  = "RateLimit"
	HeaderLimit      = "X-RateLimit-Limit"
	HeaderRemaining  = "X-RateLimit-Remaining"
	HeaderReset      = "X-RateLimit-Reset"
	HeaderRetryAfter = "Retry-After"
)

// PolicyHeader returns the ietf RateLimit-Policy value,
// `"<policy>";q=<burst>;w=<window>`. It is cached per policy and window:
// it allocates only when the adaptive factor changes the window.
func (d *Decision) PolicyHeader() string {
	if d.pol == nil {
		return ""
	}
	if h := d.pol.hdr.Load(); h.window == d.WindowSeconds {
		return h.value
	}
	h := &policyHeader{window: d.WindowSeconds, value: formatPolicy(d.pol.quoted, d.Limit, d.WindowSeconds)}
	d.pol.hdr.Store(h)
	return h.value
}

// StateHeader returns the ietf RateLimit value,
// `"<policy>";r=<remaining>;t=<seconds to next token>`. It allocates the
// returned string (one allocation); AppendStateHeader does not.
func (d *Decision) StateHeader() string {
	var buf [96]byte
	return string(d.AppendStateHeader(buf[:0]))
}

// AppendStateHeader appends the ietf RateLimit value to b.
func (d *Decision) AppendStateHeader(b []byte) []byte {
	if d.pol == nil {
		return b
	}
	b = append(b, d.pol.quoted...)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, int64(d.ResetSeconds), 10)
}

// LimitHeader returns the legacy X-RateLimit-Limit value (preformatted).
func (d *Decision) LimitHeader() string {
	if d.pol == nil {
		return ""
	}
	return d.pol.limitText
}

// RemainingHeader returns the legacy X-RateLimit-Remaining value; it
// allocates only for values of 100 and more (strconv's small-int table).
func (d *Decision) RemainingHeader() string { return strconv.Itoa(d.Remaining) }

// ResetHeader returns the legacy X-RateLimit-Reset value: seconds until the
// next token.
func (d *Decision) ResetHeader() string { return strconv.Itoa(d.ResetSeconds) }

// RetryAfterHeader returns the Retry-After value in seconds.
func (d *Decision) RetryAfterHeader() string { return strconv.Itoa(d.RetryAfter) }

// formatPolicy builds a RateLimit-Policy value.
func formatPolicy(quoted string, q, w int) string {
	return quoted + ";q=" + strconv.Itoa(q) + ";w=" + strconv.Itoa(w)
}
