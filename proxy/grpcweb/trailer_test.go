package grpcweb

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestAppendTrailerFrame(t *testing.T) {
	fields := "Grpc-Status: 3\r\nGrpc-Message: bad%20thing\r\nX-Custom-Trailer: Mixed Case Value\r\n"
	got := AppendTrailerFrame([]byte("prefix"), []byte(fields))
	want := "grpc-status: 3\r\ngrpc-message: bad%20thing\r\nx-custom-trailer: Mixed Case Value\r\n"
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("dst not kept: %q", got)
	}
	frame := got[len("prefix"):]
	if frame[0] != TrailerFlag || binary.BigEndian.Uint32(frame[1:5]) != uint32(len(want)) || string(frame[5:]) != want {
		t.Fatalf("frame %q, want flag 0x80, length %d, %q", frame, len(want), want)
	}
	empty := AppendTrailerFrame(nil, nil)
	if !bytes.Equal(empty, []byte{0x80, 0, 0, 0, 0}) {
		t.Fatalf("empty trailer frame %x", empty)
	}
}

// A text answer as the gateway sends it — each piece encoded and padded
// on its own, the trailer frame last — decodes, whatever the cuts, to the
// binary answer: data frames then the trailer frame.
func TestTextAnswerRoundTrip(t *testing.T) {
	var binaryBody []byte
	for i, n := range []int{0, 1, 10, 300} {
		msg := testBytes(n, uint64(i))
		binaryBody = append(binaryBody, 0)
		binaryBody = binary.BigEndian.AppendUint32(binaryBody, uint32(n))
		binaryBody = append(binaryBody, msg...)
	}
	binaryBody = AppendTrailerFrame(binaryBody, []byte("Grpc-Status: 0\r\n"))
	var text []byte
	for rest := binaryBody; len(rest) > 0; { // pieces of 1, 2, 4, 8... bytes, as reads may give them
		n := min(len(rest), 1+len(text)%7)
		text = AppendEncode(text, rest[:n])
		rest = rest[n:]
	}
	if !bytes.Contains(text[:len(text)-4], []byte("=")) {
		t.Fatal("no padding inside the text: the test would not show concatenated chunks decode")
	}
	for i := 0; i <= len(text); i += 3 {
		got, err := decodePieces(t, text, i)
		if err != nil || !bytes.Equal(got, binaryBody) {
			t.Fatalf("cut at %d: %v", i, err)
		}
	}
}
