package h2srv

import (
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Field is one header field: a request's (names in lower case, as HTTP/2
// requires) or one given to WriteHeaders or WriteTrailers.
type Field struct {
	Name, Value string
}

// statusStrings holds "100" to "599" so that writing a status allocates
// nothing; it is filled once and only read.
var statusStrings = func() (t [600]string) {
	for i := 100; i < len(t); i++ {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// statusText is the decimal form of status.
func statusText(status int) string {
	if status >= 100 && status < len(statusStrings) {
		return statusStrings[status]
	}
	return strconv.Itoa(status)
}

// connectionSpecific reports a field HTTP/2 forbids (RFC 9113 section
// 8.2.2), lower-case name given; te is checked apart.
func connectionSpecific(name string) bool {
	switch name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		return true
	}
	return false
}

// validName reports a field name that is a token in lower case.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if 'A' <= b && b <= 'Z' || !httpguts.IsTokenRune(rune(b)) {
			return false
		}
	}
	return true
}

// lowerName is name in lower case, allocating only when it has capitals.
func lowerName(name string) string {
	for i := 0; i < len(name); i++ {
		if 'A' <= name[i] && name[i] <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}

// regularFieldProblem says what is wrong with a regular (not pseudo)
// request or trailer field, or "" when nothing is.
func regularFieldProblem(name, value string) string {
	switch {
	case !validName(name):
		return "invalid field name"
	case !httpguts.ValidHeaderFieldValue(value):
		return "invalid field value"
	case connectionSpecific(name):
		return problemConnectionSpecific + name
	case name == "te" && value != "trailers":
		return problemTE
	}
	return ""
}

// The problems of RFC 9113 section 8.2.2, told apart for StreamError.
const (
	problemConnectionSpecific = "connection-specific field "
	problemTE                 = "te other than trailers"
)
