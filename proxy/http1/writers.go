package http1

import (
	"bufio"
	"net/http"
	"strconv"
)

// WriteStatusLine writes "HTTP/1.1 <code> <reason>\r\n"; an empty reason
// is replaced by the status's standard text.
func WriteStatusLine(w *bufio.Writer, status int, reason []byte) {
	w.WriteString("HTTP/1.1 ")
	w.Write(strconv.AppendInt(w.AvailableBuffer(), int64(status), 10))
	w.WriteByte(' ')
	if len(reason) > 0 {
		w.Write(reason)
	} else {
		w.WriteString(http.StatusText(status))
	}
	w.WriteString("\r\n")
}

// WriteField writes one "name: value\r\n" field line.
func WriteField(w *bufio.Writer, name, value string) {
	w.WriteString(name)
	w.WriteString(": ")
	w.WriteString(value)
	w.WriteString("\r\n")
}

// WriteFields writes h's fields except hop-by-hop ones and the framing
// headers the engine writes itself. connHdr is the message's Connection
// value, whose tokens name more hop-by-hop fields.
func WriteFields(w *bufio.Writer, h *Header, connHdr []byte) {
	for i := 0; i < h.Len(); i++ {
		name, v := h.At(i)
		if IsHopByHop(name, connHdr) || EqualFold(name, "Content-Length") {
			continue
		}
		w.Write(name)
		w.WriteString(": ")
		w.Write(v)
		w.WriteString("\r\n")
	}
}

// WriteConnection writes the Connection field a response to a client of
// HTTP minor version minor needs: "close" when the connection ends after
// it, "keep-alive" for an HTTP/1.0 client it stays open for, nothing
// otherwise.
func WriteConnection(w *bufio.Writer, keep bool, minor int) {
	switch {
	case !keep:
		w.WriteString("Connection: close\r\n")
	case minor == 0:
		w.WriteString("Connection: keep-alive\r\n")
	}
}

// AppendField appends one "name: value\r\n" field line to dst.
func AppendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}
