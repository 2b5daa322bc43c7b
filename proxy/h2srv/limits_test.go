package h2srv

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// allocatedDuring is how many bytes f allocated.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestRapidResetFlood: a client opening streams and resetting them at
// once (CVE-2023-44487) is cut off with ENHANCE_YOUR_CALM after
// MaxResetsPerWindow in one window, having cost at most that many
// requests; the same resets spread over time are served.
func TestRapidResetFlood(t *testing.T) {
	const limit = 100
	cl := newClient(t, Config{MaxResetsPerWindow: limit})
	var err error
	id := uint32(1)
	for i := 0; i < 10000 && err == nil; i++ {
		cl.headers(id, false, get("/")...)
		cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
		id += 2
		if i%50 == 49 {
			err = cl.feed()
			cl.drain()
		}
	}
	if ce, ok := err.(*ConnError); !ok || ce.Code != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("after %d streams reset: Feed = %v, want ENHANCE_YOUR_CALM", id/2, err)
	}
	if n := strings.Count(strings.Join(cl.h.log, "\n"), "request "); n > limit+1 {
		t.Errorf("%d requests reached the handler, want at most %d", n, limit+1)
	}
	if len(cl.c.free) > int(cl.c.cfg.MaxConcurrentStreams) || len(cl.c.streams) != 0 {
		t.Errorf("%d streams kept, %d open", len(cl.c.free), len(cl.c.streams))
	}

	slow := newClient(t, Config{MaxResetsPerWindow: limit})
	for i := uint32(0); i < 1000; i++ {
		slow.headers(1+2*i, false, get("/")...)
		slow.fr.WriteRSTStream(1+2*i, http2.ErrCodeCancel)
		if i%50 == 49 {
			slow.mustFeed()
			slow.drain()
			slow.clock.Advance(time.Second)
		}
	}
	if n := strings.Count(strings.Join(slow.h.log, "\n"), "reset "); n != 1000 {
		t.Errorf("spread over time: %d of 1000 resets seen", n)
	}
}

// TestContinuationFlood: a header block that never ends (the
// CONTINUATION flood of 2024) is cut off with ENHANCE_YOUR_CALM at
// MaxContinuations frames, or at MaxHeaderBlockBytes, having allocated
// far less than the client sent.
func TestContinuationFlood(t *testing.T) {
	for _, tc := range []struct {
		name string
		full bool // each frame carries a 16 kB field; else frames are empty
	}{
		{"empty frames", false},
		{"full frames", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClient(t, Config{})
			cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: cl.block(get("/")...)})
			cl.mustFeed()
			var frame []byte
			if tc.full {
				frame = cl.block(strings.Repeat("k", 8000), strings.Repeat("v", 8000))
			}
			sent, frames := 0, 0
			var err error
			used := allocatedDuring(func() {
				for frames < 1000 && err == nil {
					cl.fr.WriteContinuation(1, false, frame)
					sent += frameHeaderLen + len(frame)
					frames++
					err = cl.feed()
				}
			})
			if ce, ok := err.(*ConnError); !ok || ce.Code != http2.ErrCodeEnhanceYourCalm {
				t.Fatalf("after %d CONTINUATION frames: Feed = %v, want ENHANCE_YOUR_CALM", frames, err)
			}
			if frames > cl.c.cfg.MaxContinuations+1 {
				t.Errorf("%d CONTINUATION frames taken, want at most %d", frames, cl.c.cfg.MaxContinuations+1)
			}
			if cl.h.has("request") {
				t.Error("the handler saw the flooding request")
			}
			t.Logf("%d frames, %d bytes sent, %d bytes allocated", frames, sent, used)
			if used > 512<<10 && used > uint64(sent) {
				t.Errorf("%d bytes allocated for %d sent", used, sent)
			}
		})
	}
}

// TestHeaderListBombBounded: a small block of indexed fields decoding to
// far more than MaxHeaderListSize keeps nothing past the limit: 431.
func TestHeaderListBombBounded(t *testing.T) {
	cl := newClient(t, Config{MaxHeaderListSize: 16 << 10})
	big := strings.Repeat("b", 3000)
	cl.headers(1, true, get("/", "x-big", big)...) // now in the dynamic table
	cl.mustFeed()
	// Each repeat is one byte (an index into the dynamic table) decoding
	// to 3 kB.
	block := cl.block(get("/", "x-big", big)...)
	idx := block[len(block)-1:]
	for i := 0; i < 5000; i++ {
		block = append(block, idx...)
	}
	cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: true, BlockFragment: block})
	var err error
	used := allocatedDuring(func() { err = cl.feed() })
	if err != nil {
		t.Fatal(err)
	}
	evs := cl.read()
	if len(evs) == 0 || evs[0].field(":status") != "431" || cl.h.has("request 3") {
		t.Fatalf("answer %+v", evs)
	}
	if used > 256<<10 {
		t.Errorf("%d bytes allocated for a block decoding to %d MB", used, 5000*3000>>20)
	}
}

// TestControlFloods: PING, SETTINGS and empty DATA frames past
// MaxControlPerWindow in one window end the connection with
// ENHANCE_YOUR_CALM.
func TestControlFloods(t *testing.T) {
	for name, send := range map[string]func(cl *client){
		"PING":       func(cl *client) { cl.fr.WritePing(false, [8]byte{}) },
		"SETTINGS":   func(cl *client) { cl.fr.WriteSettings() },
		"PRIORITY":   func(cl *client) { cl.fr.WritePriority(3, http2.PriorityParam{StreamDep: 1}) },
		"empty DATA": func(cl *client) { cl.data(1, false, "") },
	} {
		t.Run(name, func(t *testing.T) {
			cl := newClient(t, Config{MaxControlPerWindow: 50})
			cl.headers(1, false, ":method", "POST", ":scheme", "http", ":path", "/")
			for i := 0; i < 51; i++ {
				send(cl)
			}
			cl.expectConnError(http2.ErrCodeEnhanceYourCalm)
		})
	}
}

// TestIdleConnectionMemory reports what an idle connection holds once
// its preface and SETTINGS exchange are done and one GET was answered
// with 1 KiB, and bounds it.
func TestIdleConnectionMemory(t *testing.T) {
	const conns = 100
	cl := newClient(t, Config{})
	cl.buf.Reset()
	cl.buf.WriteString(ClientPreface)
	cl.fr.WriteSettings()
	cl.fr.WriteSettingsAck()
	cl.headers(1, true, get("/", "user-agent", "test")...)
	in := append([]byte(nil), cl.buf.Bytes()...)
	keep := make([]*Conn, 0, conns)
	used := allocatedDuring(func() {
		for i := 0; i < conns; i++ {
			c := NewConn(Config{}, newAnswerHandler(oneKiB))
			if _, err := c.Feed(in); err != nil {
				t.Fatal(err)
			}
			c.Wrote(len(c.Output()))
			if !c.Idle() {
				t.Fatal("GET not answered")
			}
			keep = append(keep, c)
		}
	})
	per := used / conns
	t.Logf("%d bytes allocated per idle connection", per)
	if per > 32<<10 {
		t.Errorf("%d bytes per idle connection, want at most 32 KiB", per)
	}
	runtime.KeepAlive(keep)
}
