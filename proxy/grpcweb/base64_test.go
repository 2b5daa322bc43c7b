package grpcweb

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"testing"
)

// testBytes returns n reproducible pseudo-random bytes.
func testBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// decodePieces decodes src fed in pieces cut at cuts.
func decodePieces(t *testing.T, src []byte, cuts ...int) ([]byte, error) {
	t.Helper()
	var d Decoder
	var out []byte
	prev := 0
	for _, c := range append(cuts, len(src)) {
		var err error
		if out, err = d.Decode(out, src[prev:c]); err != nil {
			return out, err
		}
		prev = c
	}
	return out, d.Finish()
}

// Any cut of the base64 input, into two or three pieces, decodes to the
// same bytes, for every length of input (so every padding).
func TestDecoderAnyCut(t *testing.T) {
	for n := 0; n <= 40; n++ {
		plain := testBytes(n, uint64(n))
		enc := []byte(base64.StdEncoding.EncodeToString(plain))
		for i := 0; i <= len(enc); i++ {
			got, err := decodePieces(t, enc, i)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("n=%d cut at %d: %x, %v; want %x", n, i, got, err, plain)
			}
			for j := i; j <= len(enc); j++ {
				got, err := decodePieces(t, enc, i, j)
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("n=%d cut at %d and %d: %x, %v", n, i, j, got, err)
				}
			}
		}
	}
}

// Padded chunks one after another (as a gRPC-Web encoder may send them)
// decode to the concatenation of what each encodes.
func TestDecoderConcatenatedChunks(t *testing.T) {
	var enc, plain []byte
	for i, n := range []int{1, 2, 3, 4, 5, 0, 7, 1, 2} {
		p := testBytes(n, uint64(100+i))
		plain = append(plain, p...)
		enc = AppendEncode(enc, p)
	}
	for i := 0; i <= len(enc); i++ {
		got, err := decodePieces(t, enc, i)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("cut at %d: %x, %v; want %x", i, got, err, plain)
		}
	}
}

func TestDecoderRefusesWhatIsNotBase64(t *testing.T) {
	for _, in := range []string{"AAA", "A===", "=AAA", "A=AA", "AA=A", "AAAA!AAA", "AA AA", "AAAA\r\n", "AAAAA", "AB-_"} {
		if _, err := decodePieces(t, []byte(in)); !errors.Is(err, ErrBadBase64) {
			t.Errorf("%q: %v, want ErrBadBase64", in, err)
		}
	}
	// An error sticks: the next piece fails too, whatever it holds.
	var d Decoder
	if _, err := d.Decode(nil, []byte("A*")); err == nil {
		t.Fatal("bad byte accepted")
	}
	if _, err := d.Decode(nil, []byte("AAAA")); !errors.Is(err, ErrBadBase64) {
		t.Fatalf("after an error: %v", err)
	}
	d.Reset()
	if out, err := d.Decode(nil, []byte("AAAA")); err != nil || len(out) != 3 || d.Finish() != nil {
		t.Fatalf("after Reset: %x, %v", out, err)
	}
}

func TestDecodeInPlace(t *testing.T) {
	plain := testBytes(1000, 7)
	b := []byte(base64.StdEncoding.EncodeToString(plain))
	got, err := DecodeInPlace(b)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("in place: %v", err)
	}
	if _, err := DecodeInPlace([]byte("AAA")); err == nil {
		t.Fatal("incomplete group accepted")
	}
}

func TestCodecsDoNotAllocate(t *testing.T) {
	plain := testBytes(3000, 9)
	enc := AppendEncode(nil, plain)
	dst := make([]byte, 0, len(plain)+3)
	var d Decoder
	if n := testing.AllocsPerRun(100, func() {
		d.Reset()
		out, _ := d.Decode(dst[:0], enc[:1001])
		out, _ = d.Decode(out, enc[1001:])
		_ = d.Finish()
		_ = out
	}); n != 0 {
		t.Errorf("Decode allocates %v times", n)
	}
	buf := make([]byte, 0, EncodedLen(len(plain))+64)
	if n := testing.AllocsPerRun(100, func() {
		b := AppendEncode(buf[:0], plain)
		_ = AppendTrailerFrame(b[:0], []byte("Grpc-Status: 0\r\n"))
	}); n != 0 {
		t.Errorf("AppendEncode and AppendTrailerFrame allocate %v times", n)
	}
}

func BenchmarkDecoder(b *testing.B) {
	plain := testBytes(32<<10, 3)
	enc := AppendEncode(nil, plain)
	dst := make([]byte, 0, len(plain))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	var d Decoder
	for b.Loop() {
		d.Reset()
		d.Decode(dst[:0], enc)
	}
}
