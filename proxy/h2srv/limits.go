package h2srv

import (
	"time"

	"golang.org/x/net/http2"
)

// rate counts events in fixed windows of time: more than max in one span
// is too many.
type rate struct {
	max   int
	span  time.Duration
	start time.Time
	n     int
}

// add counts one event at now and reports whether the window is still
// within max.
func (r *rate) add(now time.Time) bool {
	if r.start.IsZero() || now.Sub(r.start) >= r.span || now.Before(r.start) {
		r.start, r.n = now, 0
	}
	r.n++
	return r.n <= r.max
}

// countReset counts a stream the client reset or one refused: past
// MaxResetsPerWindow the connection ends (rapid reset, CVE-2023-44487).
func (c *Conn) countReset() error {
	if c.resets.add(c.cfg.Now()) {
		return nil
	}
	return connErr(http2.ErrCodeEnhanceYourCalm, reasonRapidReset)
}

// countControl counts a frame that costs work but carries no request:
// past MaxControlPerWindow the connection ends.
func (c *Conn) countControl(what string) error {
	if c.control.add(c.cfg.Now()) {
		return nil
	}
	return connErr(http2.ErrCodeEnhanceYourCalm, "too many "+what+" frames")
}
