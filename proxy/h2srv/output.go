package h2srv

// output holds the frames waiting to be written to the client. The Framer
// writes into it (it is the Framer's io.Writer); the driver takes
// Output and reports what it wrote with Wrote.
type output struct {
	buf []byte // buf[off:] is unwritten
	off int
}

// Write appends one frame; it never fails.
func (o *output) Write(p []byte) (int, error) {
	if o.off > 0 && o.off == len(o.buf) {
		o.buf, o.off = o.buf[:0], 0
	}
	o.buf = append(o.buf, p...)
	return len(p), nil
}

// pending is the unwritten bytes.
func (o *output) pending() []byte { return o.buf[o.off:] }

// wrote drops the first n unwritten bytes, reclaiming the buffer once all
// are written or when the written part is the bigger half.
func (o *output) wrote(n int) {
	o.off += n
	if o.off > len(o.buf) {
		o.off = len(o.buf)
	}
	switch {
	case o.off == len(o.buf):
		o.buf, o.off = o.buf[:0], 0
	case o.off > len(o.buf)-o.off && o.off > 4096:
		k := copy(o.buf, o.buf[o.off:])
		o.buf, o.off = o.buf[:k], 0
	}
}
