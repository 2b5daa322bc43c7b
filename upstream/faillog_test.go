package upstream

import (
	"testing"
	"time"
)

// One line a second per target, each counting the failures it stands for.
func TestLogFailureOncePerSecond(t *testing.T) {
	var tg Target
	now := time.Unix(1000, 0)
	if ok, n := tg.LogFailure(now); !ok || n != 0 {
		t.Fatalf("first failure: %v %d", ok, n)
	}
	for i := 0; i < 5; i++ {
		if ok, _ := tg.LogFailure(now.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatalf("failure %d within the second was logged", i)
		}
	}
	if ok, n := tg.LogFailure(now.Add(time.Second)); !ok || n != 5 {
		t.Fatalf("after a second: %v, suppressed %d; want true, 5", ok, n)
	}
	var other Target
	if ok, _ := other.LogFailure(now.Add(time.Second)); !ok {
		t.Fatal("another target's first failure was held back")
	}
}
