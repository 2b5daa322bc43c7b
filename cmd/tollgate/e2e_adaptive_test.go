package main

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestAdaptiveFactorFollowsUpstreamLatency: while an upstream answers
// slower than target_latency, tollgate_ratelimit_factor{upstream} drops
// below 1; once it is fast again the factor climbs back.
func TestAdaptiveFactorFollowsUpstreamLatency(t *testing.T) {
	var mu sync.Mutex
	delay := 80 * time.Millisecond
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		d := delay
		mu.Unlock()
		time.Sleep(d)
		io.WriteString(w, "ok")
	})
	g := startGateway(t, fmt.Sprintf(`
server: {listen: "LISTEN"}
admin: {listen: "ADMIN"}
clients: {default: {rate: 100000/s, burst: 100000}}
limits: {adaptive: {enabled: true, target_latency: 20ms, min_factor: 0.1}}
upstreams: {slowpoke: {targets: ["%s"]}}
routes: [{name: all, match: {path_prefix: /}, upstream: slowpoke}]
`, o.addr))
	factor := func() float64 { return g.metric(`tollgate_ratelimit_factor{upstream="slowpoke"}`) }
	load := func(d time.Duration) {
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				end := time.Now().Add(d)
				for i := 0; i < 1000 && time.Now().Before(end); i++ {
					if resp, err := http.Get(g.url("/x")); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
					time.Sleep(5 * time.Millisecond) // steady load over the whole phase
				}
			}()
		}
		wg.Wait()
	}
	load(2 * time.Second)
	low := factor()
	if low <= 0 || low >= 0.9 {
		t.Fatalf("factor with an upstream 4x slower than target: %v, want well below 1", low)
	}
	mu.Lock()
	delay = 0
	mu.Unlock()
	load(3 * time.Second)
	if high := factor(); high <= low {
		t.Fatalf("factor did not recover after the upstream got fast: %v -> %v", low, high)
	}
}
