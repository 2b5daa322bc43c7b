package plugins

import "fmt"

// checkHeaderName reports an error unless name is a valid header field
// name (an RFC 9110 token).
func checkHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("empty header name")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return fmt.Errorf("header name %q: invalid byte %q", name, name[i])
		}
	}
	return nil
}

// checkHeaderValue reports an error when value holds a byte that would
// break or split a header line (control bytes other than tab, DEL).
func checkHeaderValue(name, value string) error {
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("header %q: value has control byte %q", name, c)
		}
	}
	return nil
}

// isTokenByte reports whether c may appear in an RFC 9110 token.
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
