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
// `"<policy>";q=<burst>;w=<window>`, followed for a policy with a quota
// by `, "<policy>:<period>";q=<limit>;w=<period in seconds>`. It is
// cached per policy and windows: it allocates only when the adaptive
// factor changes the window or a period of another length begins.
func (d *Decision) PolicyHeader() string {
	if d.pol == nil {
		return ""
	}
	if h := d.pol.hdr.Load(); h.window == d.WindowSeconds && h.qwindow == d.QuotaWindowSeconds {
		return h.value
	}
	v := formatPolicy(d.pol.quoted, d.Limit, d.WindowSeconds)
	if q := d.pol.q; q != nil {
		v += ", " + q.quoted + ";q=" + strconv.FormatInt(q.limit, 10) + ";w=" + strconv.Itoa(d.QuotaWindowSeconds)
	}
	h := &policyHeader{window: d.WindowSeconds, qwindow: d.QuotaWindowSeconds, value: v}
	d.pol.hdr.Store(h)
	return h.value
}

// StateHeader returns the ietf RateLimit value,
// `"<policy>";r=<remaining>;t=<seconds to next token>`, followed for a
// policy with a quota by `, "<policy>:<period>";r=<units left>;t=<seconds
// until the period ends>`. It allocates the
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
	b = strconv.AppendInt(b, int64(d.ResetSeconds), 10)
	if q := d.pol.q; q != nil {
		b = append(b, ", "...)
		b = append(b, q.quoted...)
		b = append(b, ";r="...)
		b = strconv.AppendInt(b, d.QuotaRemaining, 10)
		b = append(b, ";t="...)
		b = strconv.AppendInt(b, int64(d.QuotaResetSeconds), 10)
	}
	return b
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
