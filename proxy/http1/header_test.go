package http1

import "testing"

func TestHeaderEdits(t *testing.T) {
	var h Header
	h.Add("Content-Type", "text/plain")
	h.Add("X-A", "1")
	h.Add("x-a", "2")
	if string(h.Get("x-A")) != "1" || h.Count("X-A") != 2 {
		t.Fatalf("get/count: %q %d", h.Get("x-A"), h.Count("X-A"))
	}
	h.Set("X-A", "3")
	if string(h.Get("X-A")) != "3" || h.Count("X-A") != 1 || string(h.Get("content-type")) != "text/plain" {
		t.Fatal("set did not replace")
	}
	h.Del("content-type")
	if h.Has("Content-Type") || h.Len() != 1 {
		t.Fatal("del")
	}
	if !IsHopByHop([]byte("X-Secret"), []byte("keep-alive, x-secret")) || IsHopByHop([]byte("X-Other"), []byte("x-secret")) {
		t.Fatal("connection-named hop headers")
	}
}
