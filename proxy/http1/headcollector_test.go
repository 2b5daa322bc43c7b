package http1

import (
	"errors"
	"strings"
	"testing"
)

// TestHeadCollectorPieces writes a head and a body start in pieces of
// every size: the head ends where its blank line does, whatever the cut,
// and parses.
func TestHeadCollectorPieces(t *testing.T) {
	head := "POST /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"
	msg := head + "body"
	for step := 1; step <= len(msg); step++ {
		var h HeadCollector
		h.Reset(1 << 10)
		rest := ""
		done := false
		for off := 0; off < len(msg) && !done; off += step {
			p := msg[off:min(off+step, len(msg))]
			used, ok, err := h.Add([]byte(p))
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if ok {
				done, rest = true, msg[off+used:]
			} else if used != len(p) {
				t.Fatalf("step %d: used %d of %d before the end", step, used, len(p))
			}
		}
		if !done || rest != "body" {
			t.Fatalf("step %d: done %v, rest %q", step, done, rest)
		}
		var q Request
		if err := h.Parse(&q); err != nil {
			t.Fatalf("step %d: parse: %v", step, err)
		}
		if string(q.Target()) != "/a?b" || string(q.Host()) != "x" || q.ContentLen != 4 {
			t.Fatalf("step %d: parsed %q %q %d", step, q.Target(), q.Host(), q.ContentLen)
		}
	}
}

// TestHeadCollectorReuse gathers an interim response and then the final
// one with the same collector.
func TestHeadCollectorReuse(t *testing.T) {
	var h HeadCollector
	var p Response
	for _, want := range []int{100, 204} {
		h.Reset(1 << 10)
		msg := "HTTP/1.1 " + map[int]string{100: "100 Continue", 204: "204 No Content"}[want] + "\r\n\r\n"
		if used, ok, err := h.Add([]byte(msg)); err != nil || !ok || used != len(msg) {
			t.Fatalf("%d: used %d, done %v, err %v", want, used, ok, err)
		}
		if err := h.Parse(&p); err != nil || p.Status != want {
			t.Fatalf("%d: status %d, err %v", want, p.Status, err)
		}
	}
}

// TestHeadCollectorLimit: a head of exactly max bytes passes, one byte
// more is ErrHeadTooLarge, whether written at once or byte by byte.
func TestHeadCollectorLimit(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 100) + "\r\n\r\n"
	for _, step := range []int{1, 7, len(head) + 1} {
		for _, limit := range []int{len(head), len(head) - 1} {
			var h HeadCollector
			h.Reset(limit)
			var err error
			done := false
			for off := 0; off < len(head) && err == nil && !done; off += step {
				_, done, err = h.Add([]byte(head[off:min(off+step, len(head))]))
			}
			if limit == len(head) {
				var q Request
				if err != nil || !done {
					t.Fatalf("step %d, max %d: done %v, err %v", step, limit, done, err)
				}
				if err := h.Parse(&q); err != nil {
					t.Fatalf("step %d, max %d: parse: %v", step, limit, err)
				}
			} else if !errors.Is(err, ErrHeadTooLarge) {
				t.Fatalf("step %d, max %d: err %v, want ErrHeadTooLarge", step, limit, err)
			}
		}
	}
}
