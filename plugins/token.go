package plugins

import (
	"fmt"

	"tollgate/conf"
)

// checkHeaderName reports an error unless name is a valid header field
// name (an RFC 9110 token).
func checkHeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("empty header name")
	}
	if !conf.IsToken(name) {
		return fmt.Errorf("invalid header name %q", name)
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
