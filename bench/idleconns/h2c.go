package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2cConn is one HTTP/2 connection in cleartext with prior knowledge
// (h2c): the framer and the two HPACK contexts must outlive a request,
// since the peer's dynamic table carries over to the next one.
type h2cConn struct {
	c      net.Conn
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	dec    *hpack.Decoder
	status string // :status of the response being read
	next   uint32 // next client stream id
}

// dialH2C opens a connection and sends the client preface and an empty
// SETTINGS frame; the server's SETTINGS is read (and acknowledged) with
// the first response.
func dialH2C(addr string, timeout time.Duration) (*h2cConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	h := &h2cConn{c: c, fr: http2.NewFramer(c, c), next: 1}
	h.enc = hpack.NewEncoder(&h.encBuf)
	h.dec = hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			h.status = f.Value
		}
	})
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		c.Close()
		return nil, fmt.Errorf("preface: %w", err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		c.Close()
		return nil, fmt.Errorf("settings: %w", err)
	}
	return h, nil
}

// roundTrip sends GET path on a new stream and reads frames until that
// stream ends; the answer must be 200.
func (h *h2cConn) roundTrip(authority, path string, timeout time.Duration) error {
	h.c.SetDeadline(time.Now().Add(timeout))
	defer h.c.SetDeadline(time.Time{})
	h.encBuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", authority}, {":path", path}, {"user-agent", "idleconns"}} {
		h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	id := h.next
	h.next += 2
	h.status = ""
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.encBuf.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		return fmt.Errorf("headers: %w", err)
	}
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := h.fr.WriteSettingsAck(); err != nil {
					return err
				}
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				if err := h.fr.WritePing(true, f.Data); err != nil {
					return err
				}
			}
		case *http2.GoAwayFrame:
			return fmt.Errorf("GOAWAY %v (last stream %d)", f.ErrCode, f.LastStreamID)
		case *http2.RSTStreamFrame:
			if f.StreamID == id {
				return fmt.Errorf("RST_STREAM %v", f.ErrCode)
			}
		case *http2.HeadersFrame:
			if f.StreamID != id {
				continue
			}
			if _, err := h.dec.Write(f.HeaderBlockFragment()); err != nil {
				return fmt.Errorf("hpack: %w", err)
			}
			if !f.HeadersEnded() {
				return errors.New("response headers in CONTINUATION frames (not supported here)")
			}
			if f.StreamEnded() {
				return h.done()
			}
		case *http2.DataFrame:
			if f.StreamID != id {
				continue
			}
			if n := uint32(len(f.Data())); n > 0 {
				// Give the window back, so that many requests fit.
				if err := h.fr.WriteWindowUpdate(0, n); err != nil {
					return err
				}
			}
			if f.StreamEnded() {
				return h.done()
			}
		}
	}
}

// done checks the status of the stream that just ended.
func (h *h2cConn) done() error {
	if h.status != "200" {
		return fmt.Errorf("status %q", h.status)
	}
	return nil
}
