package conf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ParseRate parses a rate written "N/s", "N/m" or "N/h" with N > 0 (N may
// have a fraction: "0.5/s").
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	per := rateUnit(strings.TrimSpace(unit))
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || per == 0 || err != nil || !(n > 0) || n > 1e15 {
		return Rate{}, fmt.Errorf("invalid rate %q (want N/s, N/m or N/h with N > 0)", s)
	}
	return Rate{N: n, Per: per}, nil
}

// String formats the rate as it is written in the config ("100/s"). A Per
// other than a second, minute or hour is shown per second.
func (r Rate) String() string {
	for _, u := range []string{"s", "m", "h"} {
		if rateUnit(u) == r.Per {
			return strconv.FormatFloat(r.N, 'f', -1, 64) + "/" + u
		}
	}
	return strconv.FormatFloat(r.PerSecond(), 'f', -1, 64) + "/s"
}

// rateUnit maps a rate unit to its period, 0 for an unknown unit.
func rateUnit(u string) time.Duration {
	switch u {
	case "s":
		return time.Second
	case "m":
		return time.Minute
	case "h":
		return time.Hour
	}
	return 0
}

// parsePrefix parses a CIDR; a bare address means a /32 (or /128). Host
// bits are cleared.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
	}
	return p.Masked(), nil
}

// checkHostPort checks a "host:port" address with a numeric port. A listen
// address may leave the host empty (all interfaces) and use port 0 (any
// free port); a dial address may not.
func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		err = checkPort(port, listen)
	}
	if err == nil && !listen && host == "" {
		err = errors.New("missing host")
	}
	if err == nil && strings.ContainsAny(host, " \t/?#@") {
		err = errors.New("invalid host")
	}
	if err != nil {
		return fmt.Errorf("invalid address %q (want host:port with a numeric port)", addr)
	}
	return nil
}

// checkPort checks a decimal port number.
func checkPort(port string, zeroOK bool) error {
	n, err := strconv.Atoi(port)
	if err != nil || port != strconv.Itoa(n) || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		return errors.New("invalid port")
	}
	return nil
}

// checkHTTPURL checks an absolute http or https URL with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid URL %q (want an http or https URL)", s)
	}
	return nil
}

// printableName reports a name safe inside a quoted header string and a
// metric label: printable ASCII other than '"' and '\'.
func printableName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// IsToken reports whether s is a non-empty RFC 9110 token (header field
// names, methods).
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// isMethod reports whether s is an upper-case method token such as "GET".
func isMethod(s string) bool {
	return IsToken(s) && s == strings.ToUpper(s)
}

// isHostName reports whether s is a DNS name or IPv4 address: dot-separated
// labels of letters, digits, '-' and '_'.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// isHostPattern reports whether s is an exact host name or "*.suffix".
func isHostPattern(s string) bool {
	return isHostName(strings.TrimPrefix(s, "*."))
}

// isHex reports whether s is n hexadecimal digits.
func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// hasControlOrSpace reports whether s holds a space or a control byte.
func hasControlOrSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}
