package h2srv

import (
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// TestConnectionErrors: each client mistake RFC 9113 calls a connection
// error ends the connection with a GOAWAY carrying the right code.
func TestConnectionErrors(t *testing.T) {
	post := []string{":method", "POST", ":scheme", "http", ":path", "/"}
	for _, tc := range []struct {
		name string
		code http2.ErrCode
		send func(cl *client)
	}{
		{"even stream id", http2.ErrCodeProtocol, func(cl *client) { cl.headers(2, true, get("/")...) }},
		{"DATA on an idle stream", http2.ErrCodeProtocol, func(cl *client) { cl.data(1, true, "x") }},
		{"DATA on stream 0", http2.ErrCodeProtocol, func(cl *client) { cl.data(0, true, "x") }},
		{"RST_STREAM on an idle stream", http2.ErrCodeProtocol, func(cl *client) { cl.fr.WriteRSTStream(1, http2.ErrCodeCancel) }},
		{"RST_STREAM on an even stream", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(5, false, post...)
			cl.fr.WriteRSTStream(2, http2.ErrCodeCancel)
		}},
		{"WINDOW_UPDATE on an idle stream", http2.ErrCodeProtocol, func(cl *client) { cl.fr.WriteWindowUpdate(1, 1) }},
		{"WINDOW_UPDATE of 0 on the connection", http2.ErrCodeProtocol, func(cl *client) { cl.fr.WriteWindowUpdate(0, 0) }},
		{"WINDOW_UPDATE overflowing the connection window", http2.ErrCodeFlowControl, func(cl *client) { cl.fr.WriteWindowUpdate(0, 1<<31-1) }},
		{"WINDOW_UPDATE of 3 bytes", http2.ErrCodeFrameSize, func(cl *client) { cl.fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 1}) }},
		{"HEADERS on a closed stream", http2.ErrCodeStreamClosed, func(cl *client) {
			cl.h.onRequest = func(s *Stream) { answer(cl.t, s, "") }
			cl.headers(1, true, get("/")...)
			cl.headers(1, true, get("/")...)
		}},
		{"stream id lower than a used one", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(5, true, get("/")...)
			cl.headers(3, true, get("/")...)
		}},
		{"CONTINUATION without HEADERS", http2.ErrCodeProtocol, func(cl *client) { cl.fr.WriteContinuation(1, true, cl.block(get("/")...)) }},
		{"a frame inside a header block", http2.ErrCodeProtocol, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(get("/")...)})
			cl.fr.WritePing(false, [8]byte{})
		}},
		{"CONTINUATION of another stream", http2.ErrCodeProtocol, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(get("/")...)})
			cl.fr.WriteContinuation(3, true, nil)
		}},
		{"HPACK garbage", http2.ErrCodeCompression, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff}})
		}},
		{"HPACK table size update at the end of a block", http2.ErrCodeCompression, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: append(cl.block(get("/")...), 0x20)})
		}},
		{"frame over MAX_FRAME_SIZE", http2.ErrCodeFrameSize, func(cl *client) {
			cl.headers(1, false, post...)
			cl.data(1, false, strings.Repeat("x", 1<<14+1))
		}},
		{"SETTINGS ENABLE_PUSH 2", http2.ErrCodeProtocol, func(cl *client) { cl.fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 2}) }},
		{"SETTINGS INITIAL_WINDOW_SIZE 2^31", http2.ErrCodeFlowControl, func(cl *client) {
			cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 31})
		}},
		{"SETTINGS MAX_FRAME_SIZE under 16384", http2.ErrCodeProtocol, func(cl *client) {
			cl.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16383})
		}},
		{"SETTINGS of 5 bytes", http2.ErrCodeFrameSize, func(cl *client) { cl.fr.WriteRawFrame(http2.FrameSettings, 0, 0, []byte{0, 3, 0, 0, 0}) }},
		{"SETTINGS ACK with a payload", http2.ErrCodeFrameSize, func(cl *client) {
			cl.fr.WriteRawFrame(http2.FrameSettings, http2.FlagSettingsAck, 0, []byte{0, 3, 0, 0, 0, 1})
		}},
		{"SETTINGS on a stream", http2.ErrCodeProtocol, func(cl *client) { cl.fr.WriteRawFrame(http2.FrameSettings, 0, 1, nil) }},
		{"INITIAL_WINDOW_SIZE overflowing an open stream", http2.ErrCodeFlowControl, func(cl *client) {
			cl.headers(1, true, get("/")...)
			cl.fr.WriteWindowUpdate(1, 1<<31-1-65535)
			cl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65536})
		}},
		{"PING on a stream", http2.ErrCodeProtocol, func(cl *client) { cl.fr.WriteRawFrame(http2.FramePing, 0, 1, make([]byte, 8)) }},
		{"PING of 7 bytes", http2.ErrCodeFrameSize, func(cl *client) { cl.fr.WriteRawFrame(http2.FramePing, 0, 0, make([]byte, 7)) }},
		{"GOAWAY on a stream", http2.ErrCodeProtocol, func(cl *client) { cl.fr.WriteRawFrame(http2.FrameGoAway, 0, 1, make([]byte, 8)) }},
		{"PUSH_PROMISE from a client", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(1, false, post...)
			cl.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, EndHeaders: true, BlockFragment: cl.block(get("/")...)})
		}},
		{"DATA padding longer than the frame", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(1, false, post...)
			cl.fr.WriteRawFrame(http2.FrameData, http2.FlagDataPadded, 1, []byte{5, 'a'})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClient(t, Config{})
			tc.send(cl)
			cl.expectConnError(tc.code)
		})
	}
}

// TestPrefaceErrors: a wrong preface, or a first frame other than
// SETTINGS, is a connection error PROTOCOL_ERROR.
func TestPrefaceErrors(t *testing.T) {
	for name, in := range map[string]string{
		"HTTP/1.1 request":     "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"PING before SETTINGS": ClientPreface + "\x00\x00\x08\x06\x00\x00\x00\x00\x00" + strings.Repeat("\x00", 8),
		"SETTINGS ACK first":   ClientPreface + "\x00\x00\x00\x04\x01\x00\x00\x00\x00",
	} {
		t.Run(name, func(t *testing.T) {
			c := NewConn(Config{}, newRecorder())
			_, err := c.Feed([]byte(in))
			if ce, ok := err.(*ConnError); !ok || ce.Code != http2.ErrCodeProtocol {
				t.Fatalf("Feed = %v, want PROTOCOL_ERROR", err)
			}
			if types := frameTypes(c.Output()); types[http2.FrameGoAway] != 1 {
				t.Errorf("output frames %v, want a GOAWAY", types)
			}
		})
	}
}

// TestStreamErrors: each mistake RFC 9113 calls a stream error (most
// of them a malformed request, section 8.1.1) resets that stream with
// the right code, the handler never seeing a malformed request, and the
// connection goes on serving.
func TestStreamErrors(t *testing.T) {
	post := []string{":method", "POST", ":scheme", "http", ":path", "/"}
	for _, tc := range []struct {
		name string
		code http2.ErrCode
		send func(cl *client)
	}{
		{"uppercase field name", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, get("/", "X-Up", "1")...) }},
		{"pseudo-header after a regular field", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(1, true, ":method", "GET", ":scheme", "http", "accept", "*/*", ":path", "/")
		}},
		{"unknown pseudo-header", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, get("/", ":foo", "bar")...) }},
		{"response pseudo-header", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, get("/", ":status", "200")...) }},
		{"repeated :method", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, append([]string{":method", "GET"}, get("/")...)...) }},
		{"missing :path", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, ":method", "GET", ":scheme", "http") }},
		{"missing :scheme", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, ":method", "GET", ":path", "/") }},
		{"missing :method", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, ":scheme", "http", ":path", "/") }},
		{"empty :path", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, ":method", "GET", ":scheme", "http", ":path", "") }},
		{"CONNECT with :path", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(1, false, ":method", "CONNECT", ":authority", "a:443", ":scheme", "https", ":path", "/")
		}},
		{"connection field", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, get("/", "connection", "keep-alive")...) }},
		{"transfer-encoding field", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, get("/", "transfer-encoding", "chunked")...) }},
		{"upgrade field", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, get("/", "upgrade", "h2c")...) }},
		{"te other than trailers", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, get("/", "te", "gzip")...) }},
		{"content-length over the body", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(1, false, append(post, "content-length", "5")...)
			cl.data(1, true, "abc")
		}},
		{"body over content-length", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(1, false, append(post, "content-length", "2")...)
			cl.data(1, false, "abc")
		}},
		{"content-length with no body", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, append(post, "content-length", "2")...) }},
		{"content-length not a number", http2.ErrCodeProtocol, func(cl *client) { cl.headers(1, true, append(post, "content-length", "1x")...) }},
		{"trailers without END_STREAM", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(1, false, post...)
			cl.headers(1, false, "x-t", "1")
		}},
		{"pseudo-header in trailers", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(1, false, post...)
			cl.headers(1, true, ":path", "/")
		}},
		{"HEADERS depending on itself", http2.ErrCodeProtocol, func(cl *client) {
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
				BlockFragment: cl.block(get("/")...), Priority: http2.PriorityParam{StreamDep: 1, Weight: 10}})
		}},
		{"PRIORITY depending on itself", http2.ErrCodeProtocol, func(cl *client) {
			cl.fr.WritePriority(1, http2.PriorityParam{StreamDep: 1})
		}},
		{"DATA on a half-closed stream", http2.ErrCodeStreamClosed, func(cl *client) {
			cl.headers(1, true, get("/")...)
			cl.data(1, true, "x")
		}},
		{"HEADERS on a half-closed stream", http2.ErrCodeStreamClosed, func(cl *client) {
			cl.headers(1, true, get("/")...)
			cl.headers(1, true, get("/")...)
		}},
		{"DATA on a reset stream", http2.ErrCodeStreamClosed, func(cl *client) {
			cl.headers(1, false, post...)
			cl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			cl.data(1, true, "x")
		}},
		{"WINDOW_UPDATE of 0 on a stream", http2.ErrCodeProtocol, func(cl *client) {
			cl.headers(1, false, post...)
			cl.fr.WriteWindowUpdate(1, 0)
		}},
		{"WINDOW_UPDATE overflowing a stream window", http2.ErrCodeFlowControl, func(cl *client) {
			cl.headers(1, false, post...)
			cl.fr.WriteWindowUpdate(1, 1<<31-1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClient(t, Config{})
			tc.send(cl)
			cl.expectReset(1, tc.code)
			if cl.h.has("request 1") && !cl.h.has("reset 1 ") {
				t.Errorf("handler saw stream 1 but not its reset: %v", cl.h.log)
			}
			cl.h.onRequest = func(s *Stream) { answer(t, s, "") }
			cl.headers(3, true, get("/next")...)
			cl.mustFeed()
			if !cl.h.has("request 3 GET") {
				t.Errorf("the connection stopped serving: %v", cl.h.log)
			}
		})
	}
}

// TestValidRequestsPass: the forms a strict check must not refuse.
func TestValidRequestsPass(t *testing.T) {
	for name, kv := range map[string][]string{
		"CONNECT":              {":method", "CONNECT", ":authority", "example.test:443"},
		"OPTIONS *":            {":method", "OPTIONS", ":scheme", "http", ":path", "*"},
		"te trailers":          get("/", "te", "trailers"),
		"no :authority":        {":method", "GET", ":scheme", "https", ":path", "/", "host", "h"},
		"equal content-length": {":method", "GET", ":scheme", "http", ":path", "/", "content-length", "0", "content-length", "0"},
	} {
		t.Run(name, func(t *testing.T) {
			cl := newClient(t, Config{})
			cl.headers(1, true, kv...)
			cl.mustFeed()
			if !cl.h.has("request 1 ") {
				t.Errorf("refused: %+v", cl.read())
			}
		})
	}
}

// TestConnErrorKind: the connection errors a client can cause have the
// short kinds a metric's label takes.
func TestConnErrorKind(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{connErr(http2.ErrCodeEnhanceYourCalm, reasonRapidReset), "rapid_reset"},
		{connErr(http2.ErrCodeEnhanceYourCalm, reasonContinuations), "continuation_flood"},
		{connErr(http2.ErrCodeEnhanceYourCalm, reasonBlockTooLarge), "continuation_flood"},
		{connErr(http2.ErrCodeEnhanceYourCalm, "too many PING frames"), "control_flood"},
		{connErr(http2.ErrCodeProtocol, "bad client preface"), "protocol_error"},
		{errFrameTooLarge, "frame_size_error"},
		{connErr(http2.ErrCodeStreamClosed, "HEADERS on a closed stream"), "stream_closed"},
	}
	for _, tc := range cases {
		if got := tc.err.(*ConnError).Kind(); got != tc.want {
			t.Errorf("%v: kind %q, want %q", tc.err, got, tc.want)
		}
	}
}
