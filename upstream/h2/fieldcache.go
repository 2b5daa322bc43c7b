package h2

import (
	"strings"
	"unsafe"
)

// fieldCache keeps the strings of request field names and values a
// connection's HPACK encoder was given, so that a field repeated from
// request to request (gRPC's :path, content-type, te, authorization...)
// costs no allocation: the encoder's dynamic table keeps the strings it
// indexes, so they must outlive the request head they came from.
type fieldCache struct {
	m map[string]string
}

// Bounds of a fieldCache.
const (
	// maxCachedFields is how many strings a cache holds before it starts
	// over.
	maxCachedFields = 256
	// maxCachedLen is the longest string cached.
	maxCachedLen = 512
)

func (fc *fieldCache) init() { fc.m = make(map[string]string, 32) }

// name returns the lower-case name of b as a string that may be kept.
func (fc *fieldCache) name(b []byte) string {
	if s, ok := fc.m[string(b)]; ok {
		return s
	}
	s := strings.ToLower(string(b))
	fc.add(string(b), s)
	return s
}

// value returns b as a string that may be kept, and true; or, for a
// value not worth keeping (too long), a string that shares b's memory
// and false: the encoder must not index it.
func (fc *fieldCache) value(b []byte) (string, bool) {
	if s, ok := fc.m[string(b)]; ok {
		return s, true
	}
	if len(b) > maxCachedLen {
		return transient(b), false
	}
	s := string(b)
	fc.add(s, s)
	return s, true
}

// add keeps k → v, emptying the cache first when it is full.
func (fc *fieldCache) add(k, v string) {
	if len(fc.m) >= maxCachedFields {
		clear(fc.m)
	}
	fc.m[k] = v
}

// transient is b as a string without a copy, valid while b is unchanged:
// for the encoder to read (never to keep) within one call.
func transient(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
