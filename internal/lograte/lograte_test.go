package lograte

import (
	"testing"
	"time"
)

// TestOneLinePerInterval: the first line passes, lines within the interval
// are held back and counted, and the next line after it says how many.
func TestOneLinePerInterval(t *testing.T) {
	var l Limiter
	t0 := time.Unix(1000, 0)
	if ok, n := l.Allow(t0, time.Second); !ok || n != 0 {
		t.Fatalf("first line: %v %d", ok, n)
	}
	for i := 1; i <= 3; i++ {
		if ok, _ := l.Allow(t0.Add(time.Duration(i)*100*time.Millisecond), time.Second); ok {
			t.Fatalf("line %d within the interval let through", i)
		}
	}
	if ok, n := l.Allow(t0.Add(time.Second), time.Second); !ok || n != 3 {
		t.Fatalf("line after the interval: %v, suppressed %d, want true 3", ok, n)
	}
}
