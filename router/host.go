package router

import (
	"fmt"
	"strings"
)

// maxHost bounds the normalised Host values the table can hold: 253 is the
// longest DNS name, plus room for an IPv6 literal's brackets. Requests with
// a longer Host only match routes without a host.
const maxHost = 255

// hostPattern is a route's host after normalisation: either an exact
// lower-case name or, when wildcard is set, the suffix (".example.com") that
// a request host must end with after at least one non-empty label.
type hostPattern struct {
	name     string
	wildcard bool
}

// parseHost normalises a configured host: lower case, any ":port" and one
// trailing dot removed, "*.suffix" turned into a wildcard on ".suffix".
func parseHost(h string) (hostPattern, error) {
	h = strings.ToLower(h)
	if rest, ok := strings.CutPrefix(h, "*"); ok {
		if len(rest) < 2 || rest[0] != '.' || strings.Contains(rest, "*") {
			return hostPattern{}, fmt.Errorf("host %q: a wildcard must be the whole first label, as in \"*.example.com\"", h)
		}
		return hostPattern{name: string(hostOnly([]byte(rest))), wildcard: true}, nil
	}
	if strings.Contains(h, "*") {
		return hostPattern{}, fmt.Errorf("host %q: a wildcard must be the whole first label, as in \"*.example.com\"", h)
	}
	name := string(hostOnly([]byte(h)))
	if name == "" || len(name) > maxHost {
		return hostPattern{}, fmt.Errorf("host %q: must be a name of 1 to %d bytes", h, maxHost)
	}
	return hostPattern{name: name}, nil
}

// hostOnly strips a ":port" suffix and one trailing dot from a Host value.
// An IPv6 literal keeps its brackets ("[::1]:8080" → "[::1]").
func hostOnly(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		for i, c := range h {
			if c == ']' {
				return h[:i+1]
			}
		}
		return h
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == ':' {
			h = h[:i]
			break
		}
	}
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	return h
}

// lowerInto copies src into buf in ASCII lower case and returns the used
// part of buf, or nil when src does not fit.
func lowerInto(buf *[maxHost]byte, src []byte) []byte {
	if len(src) > len(buf) {
		return nil
	}
	dst := buf[:len(src)]
	for i, c := range src {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
	return dst
}
