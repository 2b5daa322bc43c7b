package main

import "testing"

func TestProbeTarget(t *testing.T) {
	for listen, want := range map[string]string{
		":9901":          "127.0.0.1:9901",
		"0.0.0.0:9901":   "127.0.0.1:9901",
		"[::]:9901":      "[::1]:9901",
		"127.0.0.1:9901": "127.0.0.1:9901",
		"10.1.2.3:80":    "10.1.2.3:80",
	} {
		if got := probeTarget(listen); got != want {
			t.Errorf("probeTarget(%q) = %q; want %q", listen, got, want)
		}
	}
}
