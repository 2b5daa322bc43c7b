// Command overload is the load generator of the limiter's overload
// scenario (bench/limits/run.sh): one heavy client and several light ones,
// each identified by its API key, send open-loop (paced, not waiting for
// answers) to a gateway whose upstream slows down with concurrent load.
// It prints one RESULT line: admitted rates, the light clients' share of
// their quota, the p99 latency of admitted requests and the adaptive
// factor seen on the admin listener. Standard library only.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// class is one kind of client (heavy or light) and what it got.
type class struct {
	mu       sync.Mutex
	lat      []time.Duration // admitted requests in the measured window
	ok       atomic.Int64    // admitted in the window
	limited  atomic.Int64    // 429 in the window
	other    atomic.Int64    // anything else (errors, 5xx) in the window
	sent     atomic.Int64    // sent in the window
	inflight atomic.Int64
}

func main() {
	gateway := flag.String("gateway", "127.0.0.1:8080", "gateway address")
	admin := flag.String("admin", "127.0.0.1:9901", "gateway admin address (factor metric)")
	path := flag.String("path", "/load", "request path")
	upstream := flag.String("upstream", "origin", "upstream name in tollgate_ratelimit_factor")
	heavyKey := flag.String("heavy-key", "heavy-key", "heavy client's API key")
	heavyRate := flag.Float64("heavy-rate", 1500, "heavy client's offered requests per second")
	lightKeys := flag.String("light-keys", "light-key-1,light-key-2,light-key-3,light-key-4", "light clients' API keys")
	lightRate := flag.Float64("light-rate", 20, "each light client's offered requests per second")
	lightQuota := flag.Float64("light-quota", 20, "each light client's quota (requests per second)")
	warmup := flag.Duration("warmup", 3*time.Second, "unmeasured time first")
	duration := flag.Duration("duration", 10*time.Second, "measured time")
	maxInflight := flag.Int64("max-inflight", 512, "per client class: requests in flight at most (over it a send is skipped and counted)")
	label := flag.String("label", "run", "label printed in the RESULT line")
	flag.Parse()

	tr := &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "http://" + *gateway + *path

	start := time.Now()
	measureFrom := start.Add(*warmup)
	end := measureFrom.Add(*duration)
	inWindow := func(t time.Time) bool { return !t.Before(measureFrom) && t.Before(end) }

	var skipped atomic.Int64
	send := func(c *class, key string) {
		t0 := time.Now()
		counted := inWindow(t0)
		if counted {
			c.sent.Add(1)
		}
		if c.inflight.Add(1) > *maxInflight {
			c.inflight.Add(-1)
			if counted {
				skipped.Add(1)
				c.other.Add(1)
			}
			return
		}
		defer c.inflight.Add(-1)
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-API-Key", key)
		resp, err := client.Do(req)
		status := 0
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
		if !counted {
			return
		}
		switch status {
		case 200:
			c.ok.Add(1)
			d := time.Since(t0)
			c.mu.Lock()
			c.lat = append(c.lat, d)
			c.mu.Unlock()
		case 429:
			c.limited.Add(1)
		default:
			c.other.Add(1)
		}
	}
	// pace sends at rate per second until end, open loop.
	var wg sync.WaitGroup
	pace := func(c *class, key string, rate float64, phase time.Duration) {
		defer wg.Done()
		interval := time.Duration(float64(time.Second) / rate)
		next := start.Add(phase)
		for next.Before(end) {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			wg.Add(1)
			go func() { defer wg.Done(); send(c, key) }()
			next = next.Add(interval)
		}
	}

	heavy, light := &class{}, &class{}
	wg.Add(1)
	go pace(heavy, *heavyKey, *heavyRate, 0)
	keys := strings.Split(*lightKeys, ",")
	for i, k := range keys {
		wg.Add(1)
		go pace(light, k, *lightRate, time.Duration(i)*time.Millisecond*7)
	}

	// Sample the adaptive factor every 250ms during the window.
	var factors []float64
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		for time.Now().Before(end) {
			time.Sleep(250 * time.Millisecond)
			if inWindow(time.Now()) {
				if f, ok := factor(*admin, *upstream); ok {
					factors = append(factors, f)
				}
			}
		}
	}()
	wg.Wait()
	<-sampleDone

	secs := duration.Seconds()
	all := append(slices.Clone(heavy.lat), light.lat...)
	fmin, favg := 1.0, 1.0
	if len(factors) > 0 {
		fmin, favg = slices.Min(factors), 0
		for _, f := range factors {
			favg += f
		}
		favg /= float64(len(factors))
	}
	lightQuotaTotal := *lightQuota * float64(len(keys)) * secs
	fmt.Printf("RESULT label=%s heavy_admitted_per_s=%.1f heavy_429=%d heavy_other=%d light_admitted=%d light_quota=%.0f light_share=%.3f light_429=%d light_other=%d p99_admitted_ms=%.1f p99_light_ms=%.1f p99_heavy_ms=%.1f p50_admitted_ms=%.1f factor_min=%.2f factor_avg=%.2f skipped=%d\n",
		*label, float64(heavy.ok.Load())/secs, heavy.limited.Load(), heavy.other.Load(),
		light.ok.Load(), lightQuotaTotal, float64(light.ok.Load())/lightQuotaTotal, light.limited.Load(), light.other.Load(),
		ms(pct(all, 0.99)), ms(pct(light.lat, 0.99)), ms(pct(heavy.lat, 0.99)), ms(pct(all, 0.50)), fmin, favg, skipped.Load())
}

// pct returns the q-quantile of ds (0 when empty).
func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// factor reads tollgate_ratelimit_factor{upstream=...} from /metrics.
func factor(admin, upstream string) (float64, bool) {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	prefix := `tollgate_ratelimit_factor{upstream="` + upstream + `"} `
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			f, err := strconv.ParseFloat(strings.TrimPrefix(line, prefix), 64)
			return f, err == nil
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
	}
	return 0, false
}
