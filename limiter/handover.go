package limiter

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"time"
)

// Handover carries the local bucket state from a running gateway to the
// process replacing it in a binary upgrade, so that the upgrade is never a
// way to a fresh bucket. Only spent buckets travel (a full bucket and a
// missing one are the same): named clients' buckets by policy name,
// others' by caller key and route name. Concurrency counts stay behind
// (the requests holding them finish in the old process); Redis leases
// stay behind too (with limits.store: redis the quota lives in Redis).
//
// The format is versioned, bounded and checksummed. Version 1,
// little-endian:
//
//	"TGLH" u16(version) i64(wall clock of the export, unix ns)
//	entries, each: u8(kind) fields i64(owed ns) f32(rate) f32(burst)
//	  kind 1 named:    str(policy)
//	  kind 2 address:  str(route) [16]byte(IPv6 or IPv4-mapped)
//	  kind 3 client:   str(route) str(client id)
//	u8(0) u32(entries) u32(CRC-32 IEEE of every byte before it)
//
// str is u16(length) and the bytes; route "" is the base policy. owed is
// how long the bucket needs to be full again, as of the export.
const (
	handoverMagic   = "TGLH"
	handoverVersion = 1
	// MaxHandoverBytes bounds a handover: the export stops adding buckets
	// past it, the import refuses anything longer.
	MaxHandoverBytes = 64 << 20
	// maxHandoverOwed bounds a bucket's debt in a handover; more is garbage.
	maxHandoverOwed = int64(24 * time.Hour)
	// maxHandoverString bounds a policy, route or client id in a handover.
	maxHandoverString = 1024
)

// Entry kinds of a handover.
const (
	kindEnd byte = iota
	kindNamed
	kindAddr
	kindClient
)

// HandoverStats says what an export or import carried.
type HandoverStats struct {
	Buckets   int  // buckets written, or read
	Applied   int  // buckets applied (import): read minus those no longer configured or already refilled
	Truncated bool // the export stopped at MaxHandoverBytes
}

// handoverEntry is one spent bucket of a handover.
type handoverEntry struct {
	kind  byte
	name  string // policy (named) or route name (others)
	addr  [16]byte
	id    string
	owed  int64
	rate  float32
	burst float32
}

// ExportState writes the spent local buckets to w in the handover format.
// It may run while requests are decided: tables are walked a shard at a
// time.
func (l *Limiter) ExportState(w io.Writer) (HandoverStats, error) {
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	hw := newHandoverWriter(w, l.now().UnixNano())
	now := l.nowNs()
	for name, b := range l.reg.buckets {
		b.mu.Lock()
		s := b.s
		b.mu.Unlock()
		hw.add(handoverEntry{kind: kindNamed, name: name}, &s, now)
	}
	routes := make(map[uint32]string, len(l.reg.routeIDs))
	for name, id := range l.reg.routeIDs {
		routes[id] = name
	}
	l.ips.eachEntry(func(k ipKey, s *slot) bool {
		return hw.add(handoverEntry{kind: kindAddr, name: routes[k.pol], addr: k.addr}, s, now)
	})
	l.ids.eachEntry(func(k idKey, s *slot) bool {
		return hw.add(handoverEntry{kind: kindClient, name: routes[k.pol], id: k.id}, s, now)
	})
	return hw.finish()
}

// ImportState reads a handover written by ExportState and seeds the
// current quotas' buckets with it: a bucket keeps the larger debt of its
// own and the handed-over one, less the time since the export; buckets of
// clients or per-route quotas no longer configured are dropped, and a
// quota that changed rescales the debt as a reload does. Nothing is
// applied unless the whole handover reads back intact: a garbled or
// truncated one returns an error and leaves every bucket as it was.
// Call it after Apply.
func (l *Limiter) ImportState(r io.Reader) (HandoverStats, error) {
	entries, wall, err := readHandover(r)
	if err != nil {
		return HandoverStats{}, err
	}
	st := HandoverStats{Buckets: len(entries)}
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	elapsed := max(0, l.now().UnixNano()-wall)
	now := l.nowNs()
	for i := range entries {
		e := &entries[i]
		if e.owed <= elapsed {
			continue // refilled since the export
		}
		if l.seed(e, now, now+e.owed-elapsed) {
			st.Applied++
		}
	}
	return st, nil
}

// seed gives one bucket a handed-over debt (fullAt, on this limiter's
// clock, which reads now); false when its quota is no longer configured.
func (l *Limiter) seed(e *handoverEntry, now, fullAt int64) bool {
	merge := func(s *slot) {
		if s.fullAt < fullAt {
			s.fullAt, s.rate, s.burst = fullAt, e.rate, e.burst
		}
	}
	if e.kind == kindNamed {
		b := l.reg.buckets[e.name]
		if b == nil {
			return false
		}
		b.mu.Lock()
		merge(&b.s)
		b.mu.Unlock()
		return true
	}
	var pol uint32
	if e.name != "" {
		id, ok := l.reg.routeIDs[e.name]
		if !ok {
			return false
		}
		pol = id
	}
	rate, burst := float64(e.rate), float64(e.burst)
	if e.kind == kindAddr {
		sh, s := l.ips.lock(ipKey{addr: e.addr, pol: pol}, now, rate, burst)
		merge(s)
		sh.mu.Unlock()
		return true
	}
	sh, s := l.ids.lock(idKey{id: e.id, pol: pol}, now, rate, burst)
	merge(s)
	sh.mu.Unlock()
	return true
}

// handoverWriter writes a handover, checksumming as it goes.
type handoverWriter struct {
	bw      *bufio.Writer
	crc     hash.Hash32
	written int64
	stats   HandoverStats
	err     error
	scratch []byte
}

func newHandoverWriter(w io.Writer, wall int64) *handoverWriter {
	hw := &handoverWriter{bw: bufio.NewWriterSize(w, 64<<10), crc: crc32.NewIEEE()}
	b := append([]byte(handoverMagic), 0, 0)
	binary.LittleEndian.PutUint16(b[4:], handoverVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(wall))
	hw.write(b)
	return hw
}

// add writes one bucket if it is spent; false stops the walk (a write
// failed or the size bound was reached).
func (hw *handoverWriter) add(e handoverEntry, s *slot, now int64) bool {
	if hw.err != nil || hw.stats.Truncated {
		return false
	}
	owed := s.fullAt - now
	if owed <= 0 || s.rate <= 0 || s.burst <= 0 || len(e.name) > maxHandoverString || len(e.id) > maxHandoverString {
		return true
	}
	b := append(hw.scratch[:0], e.kind)
	b = appendString(b, e.name)
	switch e.kind {
	case kindAddr:
		b = append(b, e.addr[:]...)
	case kindClient:
		b = appendString(b, e.id)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(min(owed, maxHandoverOwed)))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(s.rate))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(s.burst))
	hw.scratch = b
	if hw.written+int64(len(b))+9 > MaxHandoverBytes {
		hw.stats.Truncated = true
		return false
	}
	hw.write(b)
	hw.stats.Buckets++
	return hw.err == nil
}

// finish writes the end marker and the checksum and flushes.
func (hw *handoverWriter) finish() (HandoverStats, error) {
	b := binary.LittleEndian.AppendUint32([]byte{kindEnd}, uint32(hw.stats.Buckets))
	hw.write(b)
	if hw.err == nil {
		hw.err = binary.Write(hw.bw, binary.LittleEndian, hw.crc.Sum32())
	}
	if hw.err == nil {
		hw.err = hw.bw.Flush()
	}
	if hw.err != nil {
		return hw.stats, fmt.Errorf("writing the limiter handover: %w", hw.err)
	}
	return hw.stats, nil
}

func (hw *handoverWriter) write(b []byte) {
	if hw.err != nil {
		return
	}
	hw.crc.Write(b)
	hw.written += int64(len(b))
	_, hw.err = hw.bw.Write(b)
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// handoverReader reads a handover, checksumming as it goes.
type handoverReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	buf [16]byte
}

// errHandover is wrapped by every error about a handover's content.
var errHandover = errors.New("limiter handover")

// readHandover reads and checks a whole handover: its entries and the
// wall clock of its export.
func readHandover(r io.Reader) ([]handoverEntry, int64, error) {
	hr := &handoverReader{r: bufio.NewReaderSize(io.LimitReader(r, MaxHandoverBytes), 64<<10), crc: crc32.NewIEEE()}
	head, err := hr.read(14)
	if err != nil {
		return nil, 0, err
	}
	if string(head[:4]) != handoverMagic {
		return nil, 0, fmt.Errorf("%w: not a handover (magic %q)", errHandover, head[:4])
	}
	if v := binary.LittleEndian.Uint16(head[4:]); v != handoverVersion {
		return nil, 0, fmt.Errorf("%w: version %d, this build reads %d", errHandover, v, handoverVersion)
	}
	wall := int64(binary.LittleEndian.Uint64(head[6:]))
	var entries []handoverEntry
	for {
		kind, err := hr.read(1)
		if err != nil {
			return nil, 0, err
		}
		if kind[0] == kindEnd {
			return entries, wall, hr.end(len(entries))
		}
		e, err := hr.entry(kind[0])
		if err != nil {
			return nil, 0, fmt.Errorf("%w: bucket %d: %w", errHandover, len(entries)+1, err)
		}
		entries = append(entries, e)
	}
}

// entry reads the fields of one bucket of the given kind and checks them.
func (hr *handoverReader) entry(kind byte) (handoverEntry, error) {
	e := handoverEntry{kind: kind}
	var err error
	if kind != kindNamed && kind != kindAddr && kind != kindClient {
		return e, fmt.Errorf("unknown kind %d", kind)
	}
	if e.name, err = hr.str(); err != nil {
		return e, err
	}
	switch kind {
	case kindAddr:
		b, err := hr.read(16)
		if err != nil {
			return e, err
		}
		copy(e.addr[:], b)
	case kindClient:
		if e.id, err = hr.str(); err != nil {
			return e, err
		}
	}
	b, err := hr.read(16)
	if err != nil {
		return e, err
	}
	e.owed = int64(binary.LittleEndian.Uint64(b))
	e.rate = math.Float32frombits(binary.LittleEndian.Uint32(b[8:]))
	e.burst = math.Float32frombits(binary.LittleEndian.Uint32(b[12:]))
	if e.owed <= 0 || e.owed > maxHandoverOwed || !sane(e.rate) || !sane(e.burst) {
		return e, fmt.Errorf("implausible bucket (owed %dns, rate %v, burst %v)", e.owed, e.rate, e.burst)
	}
	return e, nil
}

// sane reports a positive, finite quota number.
func sane(f float32) bool {
	return f > 0 && !math.IsInf(float64(f), 0) && !math.IsNaN(float64(f))
}

// end checks the entry count and the checksum that close a handover.
func (hr *handoverReader) end(n int) error {
	b, err := hr.read(4)
	if err != nil {
		return err
	}
	if c := binary.LittleEndian.Uint32(b); int(c) != n {
		return fmt.Errorf("%w: says %d buckets, holds %d", errHandover, c, n)
	}
	want := hr.crc.Sum32()
	if _, err := io.ReadFull(hr.r, hr.buf[:4]); err != nil {
		return fmt.Errorf("%w: no checksum: %w", errHandover, err)
	}
	if got := binary.LittleEndian.Uint32(hr.buf[:4]); got != want {
		return fmt.Errorf("%w: checksum %08x, computed %08x", errHandover, got, want)
	}
	return nil
}

// read returns the next n bytes (n <= len(buf) for fixed fields, any n
// for strings), counted in the checksum. The slice is valid until the
// next read.
func (hr *handoverReader) read(n int) ([]byte, error) {
	var b []byte
	if n <= len(hr.buf) {
		b = hr.buf[:n]
	} else {
		b = make([]byte, n)
	}
	if _, err := io.ReadFull(hr.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: cut short", errHandover)
		}
		return nil, fmt.Errorf("%w: %w", errHandover, err)
	}
	hr.crc.Write(b)
	return b, nil
}

// str reads a length-prefixed string.
func (hr *handoverReader) str() (string, error) {
	b, err := hr.read(2)
	if err != nil {
		return "", err
	}
	n := int(binary.LittleEndian.Uint16(b))
	if n > maxHandoverString {
		return "", fmt.Errorf("string of %d bytes", n)
	}
	if n == 0 {
		return "", nil
	}
	b, err = hr.read(n)
	return string(b), err
}
