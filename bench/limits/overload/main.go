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

// options are the command's flags.
type options struct {
	gateway, admin, path, upstream string
	heavyKey                       string
	heavyRate                      float64
	lightKeys                      []string
	lightRate, lightQuota          float64
	warmup, duration               time.Duration
	maxInflight                    int64
	label                          string
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.gateway, "gateway", "127.0.0.1:8080", "gateway address")
	flag.StringVar(&o.admin, "admin", "127.0.0.1:9901", "gateway admin address (factor metric)")
	flag.StringVar(&o.path, "path", "/load", "request path")
	flag.StringVar(&o.upstream, "upstream", "origin", "upstream name in tollgate_ratelimit_factor")
	flag.StringVar(&o.heavyKey, "heavy-key", "heavy-key", "heavy client's API key")
	flag.Float64Var(&o.heavyRate, "heavy-rate", 1500, "heavy client's offered requests per second")
	lightKeys := flag.String("light-keys", "light-key-1,light-key-2,light-key-3,light-key-4", "light clients' API keys")
	flag.Float64Var(&o.lightRate, "light-rate", 20, "each light client's offered requests per second")
	flag.Float64Var(&o.lightQuota, "light-quota", 20, "each light client's quota (requests per second)")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured time first")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time")
	flag.Int64Var(&o.maxInflight, "max-inflight", 512, "per client class: requests in flight at most (over it a send is skipped and counted)")
	flag.StringVar(&o.label, "label", "run", "label printed in the RESULT line")
	flag.Parse()
	o.lightKeys = strings.Split(*lightKeys, ",")
	return o
}

// run is one load run: its clock, its HTTP client and what it counted.
type run struct {
	o                options
	client           *http.Client
	url              string
	start, from, end time.Time
	heavy, light     class
	skipped          atomic.Int64
	wg               sync.WaitGroup
}

func main() {
	o := parseFlags()
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	r := &run{o: o, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, url: "http://" + o.gateway + o.path}
	r.start = time.Now()
	r.from = r.start.Add(o.warmup)
	r.end = r.from.Add(o.duration)
	r.wg.Add(1)
	go r.pace(&r.heavy, o.heavyKey, o.heavyRate, 0)
	for i, k := range o.lightKeys {
		r.wg.Add(1)
		go r.pace(&r.light, k, o.lightRate, time.Duration(i)*time.Millisecond*7)
	}
	factors := make(chan []float64, 1)
	go func() { factors <- r.sampleFactors() }()
	r.wg.Wait()
	r.report(<-factors)
}

func (r *run) inWindow(t time.Time) bool { return !t.Before(r.from) && t.Before(r.end) }

// pace sends at rate per second until the end, open loop.
func (r *run) pace(c *class, key string, rate float64, phase time.Duration) {
	defer r.wg.Done()
	interval := time.Duration(float64(time.Second) / rate)
	for next := r.start.Add(phase); next.Before(r.end); next = next.Add(interval) {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.send(c, key) }()
	}
}

// send makes one request for class c and counts its outcome.
func (r *run) send(c *class, key string) {
	t0 := time.Now()
	counted := r.inWindow(t0)
	if counted {
		c.sent.Add(1)
	}
	if c.inflight.Add(1) > r.o.maxInflight {
		c.inflight.Add(-1)
		if counted {
			r.skipped.Add(1)
			c.other.Add(1)
		}
		return
	}
	defer c.inflight.Add(-1)
	status := r.get(key)
	if counted {
		c.record(status, time.Since(t0))
	}
}

func (r *run) get(key string) int {
	req, _ := http.NewRequest("GET", r.url, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// record counts one answer of the measured window.
func (c *class) record(status int, d time.Duration) {
	switch status {
	case 200:
		c.ok.Add(1)
		c.mu.Lock()
		c.lat = append(c.lat, d)
		c.mu.Unlock()
	case 429:
		c.limited.Add(1)
	default:
		c.other.Add(1)
	}
}

// sampleFactors reads the adaptive factor every 250ms during the window.
func (r *run) sampleFactors() []float64 {
	var fs []float64
	for time.Now().Before(r.end) {
		time.Sleep(250 * time.Millisecond)
		if r.inWindow(time.Now()) {
			if f, ok := factor(r.o.admin, r.o.upstream); ok {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// report prints the RESULT line.
func (r *run) report(factors []float64) {
	secs := r.o.duration.Seconds()
	all := append(slices.Clone(r.heavy.lat), r.light.lat...)
	fmin, favg := 1.0, 1.0
	if len(factors) > 0 {
		fmin, favg = slices.Min(factors), 0
		for _, f := range factors {
			favg += f
		}
		favg /= float64(len(factors))
	}
	lightQuotaTotal := r.o.lightQuota * float64(len(r.o.lightKeys)) * secs
	h, l := &r.heavy, &r.light
	fmt.Printf("RESULT label=%s heavy_admitted_per_s=%.1f heavy_429=%d heavy_other=%d light_admitted=%d light_quota=%.0f light_share=%.3f light_429=%d light_other=%d p99_admitted_ms=%.1f p99_light_ms=%.1f p99_heavy_ms=%.1f p50_admitted_ms=%.1f factor_min=%.2f factor_avg=%.2f skipped=%d\n",
		r.o.label, float64(h.ok.Load())/secs, h.limited.Load(), h.other.Load(),
		l.ok.Load(), lightQuotaTotal, float64(l.ok.Load())/lightQuotaTotal, l.limited.Load(), l.other.Load(),
		ms(pct(all, 0.99)), ms(pct(l.lat, 0.99)), ms(pct(h.lat, 0.99)), ms(pct(all, 0.50)), fmin, favg, r.skipped.Load())
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
