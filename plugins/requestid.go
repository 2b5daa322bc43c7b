package plugins

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"

	"tollgate/conf"
)

// DefaultRequestIDHeader is the header the request_id plugin uses when its
// config names none.
const DefaultRequestIDHeader = "X-Request-Id"

// maxRequestIDLen is the longest client-supplied id that is kept.
const maxRequestIDLen = 200

// requestIDFilter keeps a sane client request id or generates one, and
// makes it the exchange's RequestID.
type requestIDFilter struct {
	header string
	prefix string // random per filter, ends with "-"
	seq    atomic.Uint64
}

// NewRequestID returns the request_id filter. A nil cfg or empty Header
// means DefaultRequestIDHeader. The filter keeps the client's id from that
// header when it is 1 to 200 printable ASCII bytes (0x20-0x7E), otherwise
// it generates one: a random prefix chosen when the filter is built
// followed by a per-filter counter, unique within the process and very
// likely across processes and reloads. The id is stored in
// Exchange.RequestID, set on the request sent upstream and echoed on the
// response with Exchange.AddResponseHeader.
func NewRequestID(cfg *conf.RequestIDPlugin) (Filter, error) {
	header := DefaultRequestIDHeader
	if cfg != nil && cfg.Header != "" {
		header = cfg.Header
	}
	if err := checkHeaderName(header); err != nil {
		return nil, err
	}
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	return &requestIDFilter{header: header, prefix: hex.EncodeToString(seed[:]) + "-"}, nil
}

// Request sets the exchange's id and the request header.
func (f *requestIDFilter) Request(x *Exchange) *Reply {
	if v := x.Request.Get(f.header); saneRequestID(v) {
		x.RequestID = string(v)
	} else {
		x.RequestID = f.next()
	}
	x.Request.Set(f.header, x.RequestID)
	x.AddResponseHeader(f.header, x.RequestID)
	return nil
}

// Response does nothing: the id was queued on the response by Request.
func (f *requestIDFilter) Response(*Exchange) {}

// next returns a new id: the filter's prefix and the next counter value.
func (f *requestIDFilter) next() string {
	var buf [48]byte
	b := append(buf[:0], f.prefix...)
	return string(strconv.AppendUint(b, f.seq.Add(1), 36))
}

// saneRequestID reports whether a client's id is worth keeping: 1 to 200
// printable ASCII bytes.
func saneRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > maxRequestIDLen {
		return false
	}
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
