package testkit

import (
	"testing"
	"time"
)

const (
	// WaitTimeout is how long Eventually waits for its condition.
	WaitTimeout = 5 * time.Second
	// WaitInterval is how long Eventually sleeps between two checks.
	WaitInterval = 2 * time.Millisecond
)

// Poll calls cond until it returns true, sleeping interval between calls,
// and reports whether it did. It gives up once timeout has passed or after
// timeout/interval+1 calls, whichever comes first, so it ends even when
// cond itself is slow. cond runs on the caller's goroutine: it may call
// t.Fatal.
func Poll(timeout, interval time.Duration, cond func() bool) bool {
	if interval <= 0 {
		interval = time.Millisecond
	}
	deadline := time.Now().Add(timeout)
	for calls := int64(timeout/interval) + 1; calls > 0; calls-- {
		if cond() {
			return true
		}
		if calls == 1 || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(interval)
	}
	return false
}

// Eventually fails t unless cond holds within WaitTimeout, checking every
// WaitInterval; what names the awaited state in the failure message. It is
// meant for cheap in-process checks; pace anything costlier with Poll.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Poll(WaitTimeout, WaitInterval, cond) {
		t.Fatalf("timed out after %v waiting for %s", WaitTimeout, what)
	}
}
