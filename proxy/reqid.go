package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// requestIDs generates request ids: a random per-process prefix and a
// counter, unique without coordination and cheap to make.
type requestIDs struct {
	prefix [12]byte
	n      atomic.Uint64
}

func (g *requestIDs) init() {
	var b [6]byte
	rand.Read(b[:])
	hex.Encode(g.prefix[:], b[:])
}

// next appends a new id to dst.
func (g *requestIDs) next(dst []byte) []byte {
	dst = append(dst, g.prefix[:]...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, g.n.Add(1), 36)
}

// validRequestID accepts client ids of 1–200 printable ASCII bytes.
func validRequestID(v []byte) bool {
	if len(v) == 0 || len(v) > 200 {
		return false
	}
	for _, c := range v {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
