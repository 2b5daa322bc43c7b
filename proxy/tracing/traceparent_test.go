package tracing

import (
	"encoding/hex"
	"testing"
)

func TestParseTraceparent(t *testing.T) {
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, c := range []struct {
		v       string
		ok      bool
		sampled bool
	}{
		{"00-" + tid + "-" + sid + "-01", true, true},
		{"00-" + tid + "-" + sid + "-00", true, false},
		{"00-" + tid + "-" + sid + "-09", true, true},                 // other flags kept
		{"01-" + tid + "-" + sid + "-01-what-the-future", true, true}, // a later version: its first fields
		{"01-" + tid + "-" + sid + "-01", true, true},
		{"00-" + tid + "-" + sid + "-01-", false, false}, // version 00 is exactly 55 bytes
		{"01-" + tid + "-" + sid + "-01x", false, false},
		{"ff-" + tid + "-" + sid + "-01", false, false},
		{"00-" + "4BF92F3577B34DA6A3CE929D0E0E4736" + "-" + sid + "-01", false, false}, // upper case
		{"00-00000000000000000000000000000000-" + sid + "-01", false, false},
		{"00-" + tid + "-0000000000000000-01", false, false},
		{"00-" + tid + "-" + sid + "-0g", false, false},
		{"00_" + tid + "-" + sid + "-01", false, false},
		{"", false, false},
		{"00-" + tid + "-" + sid, false, false},
	} {
		p, ok := parseTraceparent([]byte(c.v))
		if ok != c.ok || (ok && (p.flags&flagSampled != 0) != c.sampled) {
			t.Errorf("%q: ok %v sampled %v, want %v %v", c.v, ok, p.flags&flagSampled != 0, c.ok, c.sampled)
			continue
		}
		if ok && (hex.EncodeToString(p.traceID[:]) != tid || hex.EncodeToString(p.spanID[:]) != sid) {
			t.Errorf("%q: ids %x %x", c.v, p.traceID, p.spanID)
		}
	}
}

func TestFormatTraceparent(t *testing.T) {
	var tid [16]byte
	var sid [8]byte
	hex.Decode(tid[:], []byte("4bf92f3577b34da6a3ce929d0e0e4736"))
	hex.Decode(sid[:], []byte("00f067aa0ba902b7"))
	var b [traceparentLen]byte
	formatTraceparent(&b, tid, sid)
	if got, want := string(b[:]), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if p, ok := parseTraceparent(b[:]); !ok || p.traceID != tid || p.spanID != sid || p.flags != flagSampled {
		t.Fatalf("round trip: %+v %v", p, ok)
	}
}
